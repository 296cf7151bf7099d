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

/// <summary><c>HubClient.SetAgentSchemasAsync</c> / <c>GetAgentSchemasAsync</c> against a real hub: a declared params schema refuses a bad call before the agent sees it.</summary>
public sealed class AgentSchemaClientTests
{
    [Fact]
    public async Task Declared_schemas_are_stored_shown_and_refuse_bad_params_with_the_failing_path()
    {
        await using var hub = await TestHub.StartAsync();
        using var owner = new HubClient(hub.BaseAddress);
        var email = $"s{Guid.NewGuid():N}@example.com";
        await owner.RegisterAsync(email, "schema-password-1", "Schemas");
        await owner.LoginAsync(email, "schema-password-1");
        var created = await owner.RegisterAgentAsync(new RegisterAgentRequest("calc-1", "worker", "calc-1", "1.0", ["calc"], null, null));
        var schema = System.Text.Json.JsonSerializer.SerializeToElement(new { type = "object", required = new[] { "a" }, properties = new { a = new { type = "integer" } } });
        var stored = await owner.SetAgentSchemasAsync("calc-1", new Kai.Protocol.Rpc.AgentSchemaDeclarations(
            Methods: new Dictionary<string, Kai.Protocol.Rpc.RpcMethodDeclaration> { ["calc.add"] = new(ParamsSchema: schema) }));
        Assert.True(stored.Methods!.ContainsKey("calc.add"));
        Assert.Equal("integer", (await owner.GetAgentSchemasAsync("calc-1")).Methods!["calc.add"].ParamsSchema!.Value
            .GetProperty("properties").GetProperty("a").GetProperty("type").GetString());
        var bad = await Assert.ThrowsAsync<HubApiException>(() => owner.SetAgentSchemasAsync("calc-1", new Kai.Protocol.Rpc.AgentSchemaDeclarations(
            Commands: new Dictionary<string, Kai.Protocol.Rpc.RpcMethodDeclaration> { ["add"] = new(ParamsSchema: System.Text.Json.JsonSerializer.SerializeToElement(5)) })));
        Assert.Equal(ErrorCodes.ValidationError, bad.Code);

        var calls = 0;
        await using var host = new AgentHost(new AgentHostOptions
        {
            Credentials = new AgentCredentials(hub.BaseAddress.ToString(), created.AgentId, created.ClientId, created.ClientSecret),
            ReconnectDelay = TimeSpan.FromMilliseconds(50),
        });
        host.OnRpc("calc.add", (r, _) => { Interlocked.Increment(ref calls); return Task.FromResult<object?>(new { sum = r.Params!.Value.GetProperty("a").GetInt32() }); });
        using var stop = new CancellationTokenSource();
        var run = host.RunAsync(stop.Token);
        await host.WaitConnectedAsync().WaitAsync(TimeSpan.FromSeconds(10));

        var refused = await owner.CallAsync("calc.add", new { a = "one" }, destination: "calc-1");
        Assert.Equal(ErrorCodes.ValidationError, refused.Error!.Type);
        Assert.Contains("params/a", refused.Error.Message);
        var ok = await owner.CallAsync("calc.add", new { a = 2 }, destination: "calc-1");
        Assert.Equal(2, ok.Result!.Value.GetProperty("sum").GetInt32());
        Assert.Equal(1, calls); // the refused call never reached the agent

        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
