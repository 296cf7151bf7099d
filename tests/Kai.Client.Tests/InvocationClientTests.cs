using Kai.Protocol.Kail;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Client.Tests;

/// <summary>The SDK's KAIL side: <see cref="HubClient.InvokeAsync(string, string, object?, object?, string?, IReadOnlyList{string}?, string?, CancellationToken)"/> and <see cref="AgentHost.OnIntent"/>, over a real hub.</summary>
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

    [Fact]
    public async Task A_signed_invocation_passes_its_result_verifies_with_the_hub_key_and_a_revoked_key_is_refused()
    {
        await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string> { ["Kai:Kail:Signatures"] = "required" });
        using var owner = new HubClient(hub.BaseAddress);
        var email = $"s{Guid.NewGuid():N}@example.com";
        await owner.RegisterAsync(email, "kail-password-1", "Signer");
        await owner.LoginAsync(email, "kail-password-1");
        var created = await owner.RegisterAgentAsync(new RegisterAgentRequest("echo", "worker", "echo", "1.0", [], null, null));
        await using var host = new AgentHost(new AgentHostOptions
        {
            Credentials = new AgentCredentials(owner.BaseAddress.ToString(), created.AgentId, created.ClientId, created.ClientSecret),
        });
        host.OnIntent("echo", (c, _) => Task.FromResult<object?>(new { said = c.InputText, n = 0.5 }));
        using var stop = new CancellationTokenSource();
        var run = host.RunAsync(stop.Token);
        await host.WaitConnectedAsync().WaitAsync(TimeSpan.FromSeconds(10));

        using var ed = NSec.Cryptography.Key.Create(NSec.Cryptography.SignatureAlgorithm.Ed25519);
        var raw = ed.PublicKey.Export(NSec.Cryptography.KeyBlobFormat.RawPublicKey);
        var key = await owner.RegisterAgentKeyAsync("echo", new AgentKeyCreate("ed25519", Convert.ToBase64String(raw)));
        using var es = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var esKey = await owner.RegisterAgentKeyAsync("echo", new AgentKeyCreate("es256", Convert.ToBase64String(es.ExportSubjectPublicKeyInfo()), KeyId: "es-1"));
        var hubKeys = (await owner.InvocationKeysAsync()).Keys;

        var result = await owner.InvokeAsync(KailSigning.SignEd25519(owner.NewInvocation("kah:echo", "echo", "hi €"), key.KeyId, ed));
        Assert.Equal("hi €", result.Output!.Value.GetProperty("said").GetString());
        Assert.True(KailSigning.VerifyResult(result, hubKeys));
        Assert.False(KailSigning.VerifyResult(result with { Agent = "kah:someone.else" }, hubKeys));
        Assert.True(KailSigning.VerifyResult(await owner.GetInvocationAsync(result.Id), hubKeys));
        var byEs = await owner.InvokeAsync(KailSigning.SignEs256(owner.NewInvocation("kah:echo", "echo", "es"), esKey.KeyId, es));
        Assert.True(KailSigning.VerifyResult(byEs, hubKeys));

        var unsigned = await Assert.ThrowsAsync<HubApiException>(() => owner.InvokeAsync("kah:echo", "echo", "x"));
        Assert.Equal("SIGNATURE_REQUIRED", unsigned.Code);
        Assert.NotNull((await owner.RevokeAgentKeyAsync("echo", key.KeyId)).RevokedAt);
        var revoked = await Assert.ThrowsAsync<HubApiException>(() => owner.InvokeAsync(KailSigning.SignEd25519(owner.NewInvocation("kah:echo", "echo", "x"), key.KeyId, ed)));
        Assert.Equal("KEY_REVOKED", revoked.Code);

        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
