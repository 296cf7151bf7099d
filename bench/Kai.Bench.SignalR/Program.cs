using System.Collections.Concurrent;
using System.Runtime;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;

// The baseline a .NET user would pick instead of Kai Hub: a minimal ASP.NET Core SignalR hub doing the same routing.
// Connections are authenticated with an HMAC-signed token naming the agent (cheaper to check than Kai's RS256 JWT:
// the baseline gets the benefit of the doubt), keyed by agent id; SendToAgent goes to that agent's connection,
// Publish goes to one group (serialized once by SignalR's DefaultHubLifetimeManager). Loopback benchmark only.

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddSingleton<Registry>();
builder.Services.AddAuthentication("bench").AddScheme<AuthenticationSchemeOptions, TokenAuth>("bench", null);
builder.Services.AddAuthorization();
builder.Services.AddSignalR();
var app = builder.Build();
app.UseAuthentication();
app.UseAuthorization();
app.MapHub<AgentHub>("/hub").RequireAuthorization();
// Bench only: hands out a token for any agent id (no secrets to manage on loopback).
app.MapGet("/token/{agentId}", (string agentId) => Results.Text(Tokens.Issue(agentId)));
app.MapGet("/api/agents", (Registry r, int? limit, int? offset) =>
{
    // One page in the dictionary's own order: O(page), as an in-memory registry would serve it.
    var page = r.Connected.Keys.Skip(offset ?? 0).Take(limit ?? 20).Select(id => new AgentView(id, "worker", "active", true)).ToArray();
    return Results.Ok(new { agents = page, total = r.Connected.Count });
}).RequireAuthorization();
app.MapGet("/api/agents/{id}", (Registry r, string id) =>
    r.Connected.ContainsKey(id) ? Results.Ok(new AgentView(id, "worker", "active", true)) : Results.NotFound()).RequireAuthorization();
app.MapGet("/heap", () =>
{
    var info = GC.GetGCMemoryInfo();
    long heap = 0;
    foreach (var g in info.GenerationInfo)
    {
        heap += g.SizeAfterBytes;
    }
    return Results.Text($"{heap} {(GCSettings.IsServerGC ? "server" : "workstation")} {(GCSettings.LatencyMode == GCLatencyMode.Batch ? "non-concurrent" : "concurrent")}");
});
app.Run();

internal sealed record AgentView(string AgentId, string Type, string Status, bool Connected);

internal sealed class Registry
{
    public ConcurrentDictionary<string, string> Connected { get; } = new(StringComparer.Ordinal);
}

internal sealed class AgentHub(Registry registry) : Hub
{
    public override Task OnConnectedAsync()
    {
        registry.Connected[Context.UserIdentifier!] = Context.ConnectionId;
        return Task.CompletedTask;
    }

    public override Task OnDisconnectedAsync(Exception? exception)
    {
        registry.Connected.TryRemove(new KeyValuePair<string, string>(Context.UserIdentifier!, Context.ConnectionId));
        return Task.CompletedTask;
    }

    public Task SendToAgent(string to, string content) =>
        registry.Connected.TryGetValue(to, out var connectionId)
            ? Clients.Client(connectionId).SendAsync("agent_message", Context.UserIdentifier, content)
            : throw new HubException("agent unavailable");

    public Task Subscribe(string topic) => Groups.AddToGroupAsync(Context.ConnectionId, topic);

    public Task Publish(string topic, string data) => Clients.Group(topic).SendAsync("event", topic, data);
}

internal static class Tokens
{
    private static readonly byte[] Key = RandomNumberGenerator.GetBytes(32);

    public static string Issue(string agentId) => agentId + "." + Convert.ToHexString(HMACSHA256.HashData(Key, Encoding.UTF8.GetBytes(agentId)));

    public static string? Validate(string? token)
    {
        var dot = token?.LastIndexOf('.') ?? -1;
        if (token is null || dot <= 0)
        {
            return null;
        }
        var id = token[..dot];
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Issue(id)), Encoding.ASCII.GetBytes(token)) ? id : null;
    }
}

internal sealed class TokenAuth(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? token = Request.Query["access_token"];
        var header = Request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            token = header["Bearer ".Length..];
        }
        var id = Tokens.Validate(token);
        if (id is null)
        {
            return Task.FromResult(token is null ? AuthenticateResult.NoResult() : AuthenticateResult.Fail("bad token"));
        }
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, id)], "bench");
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), "bench")));
    }
}
