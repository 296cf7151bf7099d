using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Kai.Testing;
using Npgsql;

namespace Kai.Hub.Tests.Storage;

/// <summary>
/// PostgreSQL going away under a running hub: requests that need the store answer 503 <c>STORE_UNAVAILABLE</c> and <c>/ready</c>
/// 503 while it is away, and the hub recovers by itself when it is back, with what was stored before intact. The outage is a
/// real TCP proxy between the hub and the server that the test closes (every connection cut) and reopens on the same port.
/// </summary>
public sealed class PostgresOutageTests
{
    [SkippableFact]
    public async Task While_postgres_is_unreachable_requests_answer_503_store_unavailable_and_the_hub_recovers_when_it_returns()
    {
        TestPostgres.Require();
        var schema = "kai_o_" + Guid.NewGuid().ToString("N")[..20];
        var direct = new NpgsqlConnectionStringBuilder(await TestPostgres.CreateSchemaAsync(schema));
        await using var proxy = new TcpProxy(direct.Host!, direct.Port);
        proxy.Start(0);
        var viaProxy = new NpgsqlConnectionStringBuilder(direct.ConnectionString) { Host = "127.0.0.1", Port = proxy.Port, Timeout = 3 }.ConnectionString;
        try
        {
            await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string>
            {
                ["Kai:Store"] = "postgres", ["ConnectionStrings:Postgres"] = viaProxy,
            });
            var user = await hub.NewUserAsync();
            using var api = hub.Client(user.AccessToken);
            Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("api/v1/agents")).StatusCode);

            proxy.Stop();
            var down = await api.GetAsync("api/v1/agents");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
            var error = (await down.Content.ReadFromJsonAsync<ErrorEnvelope>(KaiJson.Options))!.Error;
            Assert.Equal(ErrorCodes.StoreUnavailable, error.Code);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await hub.Http.GetAsync("ready")).StatusCode);

            proxy.Start(proxy.Port);
            Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("api/v1/agents")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await hub.Http.GetAsync("ready")).StatusCode);
            var login = await hub.Http.PostAsJsonAsync("api/v1/auth/login", new LoginRequest(user.UserProfile.Email, "correct-horse-battery"), KaiJson.Options);
            Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        }
        finally
        {
            await TestPostgres.DropSchemaAsync(schema);
        }
    }
}
