using Kai.Protocol;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Client.Tests;

/// <summary><c>HubClient.CallAsync</c> against a real hub, answered by an <c>AgentHost</c> with <c>OnRpc</c> handlers.</summary>
public sealed class RpcClientTests
{
    [Fact]
    public async Task CallAsync_reaches_an_AgentHost_rpc_handler_and_errors_come_back_as_envelopes()
    {
        await using var hub = await TestHub.StartAsync();
        using var owner = new HubClient(hub.BaseAddress);
        var email = $"r{Guid.NewGuid():N}@example.com";
        await owner.RegisterAsync(email, "rpc-password-1", "Rpc");
        await owner.LoginAsync(email, "rpc-password-1");
        var created = await owner.RegisterAgentAsync(new RegisterAgentRequest("memory-1", "worker", "memory-1", "1.0", ["memory"], null, null));
        await using var host = new AgentHost(new AgentHostOptions
        {
            Credentials = new AgentCredentials(hub.BaseAddress.ToString(), created.AgentId, created.ClientId, created.ClientSecret),
            ReconnectDelay = TimeSpan.FromMilliseconds(50),
        });
        host.OnRpc("memory.*", (r, _) => Task.FromResult<object?>(new { method = r.Method, q = r.Params!.Value.GetProperty("q").GetString(), user = r.Headers!.UserId }));
        host.OnRpc("memory.forbidden", (_, _) => throw new RpcException(403, "Unauthorized agent", "FORBIDDEN"));
        using var stop = new CancellationTokenSource();
        var run = host.RunAsync(stop.Token);
        await host.WaitConnectedAsync().WaitAsync(TimeSpan.FromSeconds(10));

        var ok = await owner.CallAsync("memory.query", new { q = "cat" }, destination: "memory-1", ttl: TimeSpan.FromSeconds(10));
        Assert.Null(ok.Error);
        Assert.Equal("memory.query", ok.Result!.Value.GetProperty("method").GetString());
        Assert.Equal("cat", ok.Result.Value.GetProperty("q").GetString());
        Assert.Equal("memory-1", ok.Origin);
        Assert.Equal(0, ok.Metrics!.Retries);

        var denied = await owner.CallAsync("memory.forbidden", new { q = "x" }, destination: "memory-1");
        Assert.Equal((403, "Unauthorized agent", "FORBIDDEN"), (denied.Error!.Code, denied.Error.Message, denied.Error.Type));
        var unserved = await owner.CallAsync("cache.get", destination: "memory-1");
        Assert.Equal(ErrorCodes.MethodNotFound, unserved.Error!.Type); // the agent's own answer: it has no handler
        var unrouted = await owner.CallAsync("nothing.routes.this");
        Assert.Equal((404, ErrorCodes.MethodNotFound, "hub"), (unrouted.Error!.Code, unrouted.Error.Type, unrouted.Origin));

        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
