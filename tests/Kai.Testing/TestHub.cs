using Microsoft.Extensions.Time.Testing;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.WebSockets;
using Kai.Hub;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Kai.Testing;

/// <summary>
/// A real hub on a real Kestrel socket (127.0.0.1, port 0) with its own data directory, for one test.
/// Pass a <see cref="FakeTimeProvider"/> to control time.
/// </summary>
public sealed class TestHub : IAsyncDisposable
{
    private readonly bool _keepData;

    private TestHub(WebApplication app, string dataDirectory, bool keepData)
    {
        App = app;
        DataDirectory = dataDirectory;
        _keepData = keepData;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address.EndsWith('/') ? address : address + "/");
        Http = new HttpClient { BaseAddress = BaseAddress };
    }

    public WebApplication App { get; }

    public string DataDirectory { get; }

    public Uri BaseAddress { get; }

    public HttpClient Http { get; }

    public IServiceProvider Services => App.Services;

    public static string NewDataDirectory() => Path.Combine(Path.GetTempPath(), "kai-tests", Guid.NewGuid().ToString("N"));

    /// <summary>Starts a hub. <paramref name="settings"/> are configuration keys such as <c>Kai:Links:MaxFrameBytes</c>.</summary>
    public static async Task<TestHub> StartAsync(
        TimeProvider? time = null, string? dataDirectory = null, bool keepData = false, IDictionary<string, string>? settings = null,
        Action<WebApplicationBuilder>? configure = null)
    {
        var dir = dataDirectory ?? NewDataDirectory();
        var args = new List<string> { "--urls", "http://127.0.0.1:0", $"--Kai:DataDirectory={dir}", "--environment", "Production", "--Logging:LogLevel:Default=Warning", "--Logging:Console:FormatterName=simple" };
        if (TestPostgres.HubsOnPostgres && settings?.ContainsKey("Kai:Store") != true)
        {
            // KAI_TEST_STORE=postgres: the same hub on PostgreSQL, in a schema named after the data directory (a restart finds it again).
            TestPostgres.Require();
            args.Add("--Kai:Store=postgres");
            args.Add($"--ConnectionStrings:Postgres={await TestPostgres.CreateSchemaAsync(TestPostgres.SchemaFor(dir))}");
        }
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            args.Add($"--{key}={value}");
        }
        var app = await HubApplication.CreateAsync([.. args], b =>
        {
            if (time is not null)
            {
                b.Services.AddSingleton(time);
            }
            configure?.Invoke(b);
        });
        await app.StartAsync();
        return new TestHub(app, dir, keepData);
    }

    public T Service<T>() where T : notnull => App.Services.GetRequiredService<T>();

    public HttpClient Client(string? accessToken = null)
    {
        var client = new HttpClient { BaseAddress = BaseAddress };
        if (accessToken is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        }
        return client;
    }

    /// <summary>Registers a user and logs in; returns the login response.</summary>
    public async Task<TokenResponse> NewUserAsync(string? email = null, string password = "correct-horse-battery")
    {
        email ??= $"u{Guid.NewGuid():N}@example.com";
        var reg = await Http.PostAsJsonAsync("api/v1/auth/register", new RegisterRequest(email, password, "Test User", true), KaiJson.Options);
        reg.EnsureSuccessStatusCode();
        var login = await Http.PostAsJsonAsync("api/v1/auth/login", new LoginRequest(email, password), KaiJson.Options);
        login.EnsureSuccessStatusCode();
        return (await login.Content.ReadFromJsonAsync<TokenResponse>(KaiJson.Options))!;
    }

    /// <summary>Creates an agent owned by the user with <paramref name="userToken"/>.</summary>
    public async Task<AgentCreatedResponse> NewAgentAsync(string userToken, string? id = null, string type = "worker", params string[] capabilities)
    {
        using var client = Client(userToken);
        var res = await client.PostAsJsonAsync("api/v1/agents/register",
            new RegisterAgentRequest(id, type, id, "1.0.0", capabilities, null, null), KaiJson.Options);
        res.EnsureSuccessStatusCode();
        return (await res.Content.ReadFromJsonAsync<AgentCreatedResponse>(KaiJson.Options))!;
    }

    /// <summary>Exchanges agent credentials for an access token (client_credentials grant).</summary>
    public async Task<string> AgentTokenAsync(AgentCreatedResponse agent)
    {
        var res = await Http.PostAsync("api/v1/auth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = agent.ClientId,
            ["client_secret"] = agent.ClientSecret,
        }));
        res.EnsureSuccessStatusCode();
        return (await res.Content.ReadFromJsonAsync<ClientTokenResponse>(KaiJson.Options))!.AccessToken;
    }

    public Uri WebSocketUri(string path, string? token = null)
    {
        var builder = new UriBuilder(new Uri(BaseAddress, path)) { Scheme = "ws" };
        if (token is not null)
        {
            builder.Query = "token=" + Uri.EscapeDataString(token);
        }
        return builder.Uri;
    }

    /// <summary>Opens a raw WebSocket to <paramref name="path"/> with the token in the query.</summary>
    public async Task<TestSocket> ConnectAsync(string path, string? token)
    {
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(WebSocketUri(path, token), CancellationToken.None);
        return new TestSocket(socket);
    }

    /// <summary>Connects an agent's own link and reads the welcome frame.</summary>
    public async Task<TestSocket> ConnectAgentAsync(AgentCreatedResponse agent)
    {
        var socket = await ConnectAsync($"ws/agents/{agent.AgentId}", await AgentTokenAsync(agent));
        var welcome = await socket.ReceiveAsync();
        Assert.Equal("welcome", welcome.Type);
        return socket;
    }

    /// <summary>Stops the hub but keeps its data directory, so a test can read the files or start a new hub on them.</summary>
    public async Task DisposeAsyncKeepingData()
    {
        if (_stopped)
        {
            return;
        }
        _stopped = true;
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }

    private bool _stopped;

    public async ValueTask DisposeAsync()
    {
        await DisposeAsyncKeepingData();
        if (!_keepData)
        {
            if (TestPostgres.HubsOnPostgres)
            {
                await TestPostgres.DropSchemaAsync(TestPostgres.SchemaFor(DataDirectory));
            }
            try
            {
                Directory.Delete(DataDirectory, recursive: true);
            }
            catch (IOException)
            {
                // Best effort: a temp directory left behind is harmless.
            }
        }
    }
}
