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

    /// <summary>A loopback TCP forwarder; <see cref="Stop"/> closes the listener and cuts every open connection.</summary>
    private sealed class TcpProxy(string host, int port) : IAsyncDisposable
    {
        private readonly List<TcpClient> _open = [];
        private TcpListener? _listener;
        private CancellationTokenSource? _stop;

        public int Port { get; private set; }

        public void Start(int listenPort)
        {
            _stop = new CancellationTokenSource();
            _listener = new TcpListener(IPAddress.Loopback, listenPort);
            _listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            _ = AcceptAsync(_listener, _stop.Token);
        }

        private async Task AcceptAsync(TcpListener listener, CancellationToken ct)
        {
            while (!ct.IsCancellationRequested)
            {
                TcpClient inbound;
                try
                {
                    inbound = await listener.AcceptTcpClientAsync(ct);
                }
                catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }
                var outbound = new TcpClient();
                try
                {
                    await outbound.ConnectAsync(host, port, ct);
                }
                catch (Exception ex) when (ex is OperationCanceledException or SocketException)
                {
                    inbound.Dispose();
                    outbound.Dispose();
                    continue;
                }
                lock (_open)
                {
                    _open.Add(inbound);
                    _open.Add(outbound);
                }
                _ = PumpAsync(inbound, outbound, ct);
                _ = PumpAsync(outbound, inbound, ct);
            }
        }

        private static async Task PumpAsync(TcpClient from, TcpClient to, CancellationToken ct)
        {
            try
            {
                await from.GetStream().CopyToAsync(to.GetStream(), ct);
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException or SocketException)
            {
                // Cut by Stop, or the other side closed.
            }
            from.Dispose();
            to.Dispose();
        }

        public void Stop()
        {
            _stop?.Cancel();
            _listener?.Stop();
            lock (_open)
            {
                foreach (var c in _open)
                {
                    try
                    {
                        // Reset, not a graceful close: the server side sees the connection die, as when the server goes away.
                        c.Client?.LingerState = new LingerOption(true, 0);
                    }
                    catch (ObjectDisposedException)
                    {
                        // Already closed by its pump.
                    }
                    c.Dispose();
                }
                _open.Clear();
            }
        }

        public ValueTask DisposeAsync()
        {
            Stop();
            _stop?.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
