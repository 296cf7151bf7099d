using Kai.Protocol.Kail;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Client.Tests;

/// <summary>The SDK's KAIL side: <see cref="HubClient.InvokeAsync(string, string, object?, object?, string?, IReadOnlyList{string}?, CancellationToken)"/> and <see cref="AgentHost.OnIntent"/>, over a real hub.</summary>
public sealed class InvocationClientTests
{
    [Fact]
    public async Task An_intent_handler_answers_invoke_async_streams_and_failures_carry_their_code()
    {
        await using var hub = await TestHub.StartAsync();
        using var owner = new HubClient(hub.BaseAddress);
        var email = $"k{Guid.NewGuid():N}@example.com";
        await owner.RegisterAsync(email, "kail-password-1", "Kail");
        await owner.LoginAsync(email, "kail-password-1");
        var created = await owner.RegisterAgentAsync(new RegisterAgentRequest("scribe", "worker", "scribe", "1.0", [], null, null));
        await using var host = new AgentHost(new AgentHostOptions
        {
            Credentials = new AgentCredentials(owner.BaseAddress.ToString(), created.AgentId, created.ClientId, created.ClientSecret),
        });
        host.OnIntent("shout", async (c, _) =>
        {
            await c.Chunk(c.InputText!.ToUpperInvariant(), true);
            return c.InputText!.ToUpperInvariant() + "!";
        });
        host.OnIntent("refuse", (_, _) => throw new IntentFailedException("NOT_TODAY", "try tomorrow"));
        using var stop = new CancellationTokenSource();
        var run = host.RunAsync(stop.Token);
        await host.WaitConnectedAsync().WaitAsync(TimeSpan.FromSeconds(10));

        var result = await owner.InvokeAsync("kah:agent.local.scribe", "shout", "hello");
        Assert.Equal(InvocationStatuses.Completed, result.Status);
        Assert.Equal("HELLO!", result.Output!.Value.GetString());
        Assert.Equal("kah:agent.local.scribe", Assert.Single(result.Stack).Agent);
        Assert.Equal(result.Id, (await owner.GetInvocationAsync(result.Id)).Id);

        var refused = await Assert.ThrowsAsync<HubApiException>(() => owner.InvokeAsync("kah:scribe", "refuse", "x"));
        Assert.Equal("NOT_TODAY", refused.Code);
        var unknown = await Assert.ThrowsAsync<HubApiException>(() => owner.InvokeAsync("kah:scribe", "dance", "x"));
        Assert.Equal("UNKNOWN_INTENT", unknown.Code);
        var missing = await Assert.ThrowsAsync<HubApiException>(() => owner.InvokeAsync("kah:agent.local.nobody", "shout", "x"));
        Assert.Equal("AGENT_NOT_FOUND", missing.Code);

        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
