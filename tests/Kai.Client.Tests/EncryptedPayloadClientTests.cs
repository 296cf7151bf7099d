using System.Text;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Kail;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Client.Tests;

/// <summary>
/// Encrypted payloads end to end (seed 002 §VIII, docs/protocol.md "Encrypted payloads"): two agents of one owner share a key; the caller's
/// <see cref="HubClient"/> seals RPC <c>params</c> and KAIL <c>payload.input</c> with <c>sealWith</c>, the <see cref="AgentHost"/> opens them for
/// its handler and seals the answer, and the caller gets the plaintext back, while the real hub in between only ever holds the JWE: its
/// answers show the JWE and its data directory never holds the plaintext.
/// </summary>
public sealed class EncryptedPayloadClientTests
{
    [Fact]
    public async Task Sealed_rpc_params_and_kail_input_reach_the_handler_opened_and_the_hub_only_sees_the_JWE()
    {
        var hub = await TestHub.StartAsync();
        try
        {
            using var owner = new HubClient(hub.BaseAddress);
            var email = $"e{Guid.NewGuid():N}@example.com";
            await owner.RegisterAsync(email, "sealed-password-1", "Sealer");
            await owner.LoginAsync(email, "sealed-password-1");
            var vaultAgent = await owner.RegisterAgentAsync(new RegisterAgentRequest("vault", "worker", "vault", "1.0", [], null, null));
            var strangerAgent = await owner.RegisterAgentAsync(new RegisterAgentRequest("stranger", "worker", "stranger", "1.0", [], null, null));
            var callerAgent = await owner.RegisterAgentAsync(new RegisterAgentRequest("caller", "worker", "caller", "1.0", [], null, null));

            // One key for the pair caller ↔ vault, handed to both out of band; the stranger holds another key under the same id.
            var shared = PayloadKeyRing.NewKey();
            var marker = $"plaintext-marker-{Guid.NewGuid():N}";
            var seen = new List<string>();
            await using var vault = new AgentHost(new AgentHostOptions
            {
                Credentials = new AgentCredentials(hub.BaseAddress.ToString(), vaultAgent.AgentId, vaultAgent.ClientId, vaultAgent.ClientSecret),
                PayloadKeys = new PayloadKeyRing().Add("pair-1", shared),
            });
            vault.OnRpc("vault.read", (r, _) =>
            {
                var path = r.Params!.Value.GetProperty("path").GetString()!;
                lock (seen) { seen.Add(path); }
                return Task.FromResult<object?>(new { path, content = "opened " + path });
            });
            vault.OnIntent("reveal", (c, _) =>
            {
                var secret = c.Invocation.Payload.Input.GetProperty("secret").GetString()!;
                lock (seen) { seen.Add($"{c.PayloadKeyId}:{secret}"); }
                return Task.FromResult<object?>(new { echoed = secret });
            });
            var strangerRan = false;
            await using var stranger = new AgentHost(new AgentHostOptions
            {
                Credentials = new AgentCredentials(hub.BaseAddress.ToString(), strangerAgent.AgentId, strangerAgent.ClientId, strangerAgent.ClientSecret),
                PayloadKeys = new PayloadKeyRing().Add("pair-1", PayloadKeyRing.NewKey()),
            });
            stranger.OnRpc("vault.read", (_, _) => Task.FromResult<object?>(strangerRan = true));
            stranger.OnIntent("reveal", (_, _) => Task.FromResult<object?>(strangerRan = true));
            using var stop = new CancellationTokenSource();
            var runs = new[] { vault.RunAsync(stop.Token), stranger.RunAsync(stop.Token) };
            await vault.WaitConnectedAsync().WaitAsync(TimeSpan.FromSeconds(10));
            await stranger.WaitConnectedAsync().WaitAsync(TimeSpan.FromSeconds(10));

            using var caller = new HubClient(hub.BaseAddress) { PayloadKeys = new PayloadKeyRing().Add("pair-1", shared) };
            await caller.LoginAgentAsync(callerAgent.ClientId, callerAgent.ClientSecret);

            // RPC: sealed params in, sealed result back, opened by the client.
            var rpc = await caller.CallAsync("vault.read", new { path = marker }, destination: "vault", ttl: TimeSpan.FromSeconds(10), sealWith: "pair-1");
            Assert.Null(rpc.Error);
            Assert.Equal("opened " + marker, rpc.Result!.Value.GetProperty("content").GetString());
            // The same call from a client without keys shows what the hub passed on: a JWE both ways.
            using var keyless = new HubClient(hub.BaseAddress);
            await keyless.LoginAgentAsync(callerAgent.ClientId, callerAgent.ClientSecret);
            var raw = await keyless.CallAsync("vault.read", caller.PayloadKeys.Seal(new { path = marker }, "pair-1"), destination: "vault");
            Assert.True(EncryptedPayload.IsEncrypted(raw.Result!.Value));
            Assert.Equal("pair-1", EncryptedPayload.KeyIdOf(raw.Result.Value));
            Assert.DoesNotContain(marker, raw.Result.Value.GetRawText(), StringComparison.Ordinal);
            Assert.Equal("opened " + marker, caller.PayloadKeys.Open(raw.Result.Value).GetProperty("content").GetString());

            // KAIL: sealed payload.input, sealed output opened by InvokeAsync; the hub's own copy stays sealed.
            var invocation = await caller.InvokeAsync("kah:agent.local.vault", "reveal", new { secret = marker }, sealWith: "pair-1");
            Assert.Equal(InvocationStatuses.Completed, invocation.Status);
            Assert.Equal(marker, invocation.Output!.Value.GetProperty("echoed").GetString());
            using var http = hub.Client(owner.AccessToken);
            var stored = await http.GetStringAsync($"api/v1/invocations/{invocation.Id}");
            Assert.DoesNotContain(marker, stored, StringComparison.Ordinal);
            var storedOutput = JsonDocument.Parse(stored).RootElement.GetProperty("output");
            Assert.True(EncryptedPayload.IsEncrypted(storedOutput));
            Assert.Equal(marker, caller.PayloadKeys.Open(storedOutput).GetProperty("echoed").GetString());
            Assert.True(EncryptedPayload.IsEncrypted((await caller.GetInvocationAsync(invocation.Id)).Output!.Value));

            lock (seen)
            {
                Assert.Equal([marker, marker, "pair-1:" + marker], seen);
            }

            // The wrong key on the receiving side: an error answer saying why, and the handler never runs.
            var refused = await caller.CallAsync("vault.read", new { path = marker }, destination: "stranger", sealWith: "pair-1");
            Assert.Null(refused.Result);
            Assert.Equal((400, ErrorCodes.ValidationError), (refused.Error!.Code, refused.Error.Type));
            Assert.Contains("does not authenticate with key 'pair-1'", refused.Error.Message, StringComparison.Ordinal);
            var failed = await Assert.ThrowsAsync<HubApiException>(() =>
                caller.InvokeAsync("kah:agent.local.stranger", "reveal", new { secret = marker }, sealWith: "pair-1"));
            Assert.Equal(ErrorCodes.ValidationError, failed.Code);
            Assert.Contains("does not authenticate with key 'pair-1'", failed.Message, StringComparison.Ordinal);
            Assert.False(strangerRan);
            // A kid the caller itself lacks fails before anything is sent.
            var unknown = await Assert.ThrowsAsync<EncryptedPayloadException>(() => caller.CallAsync("vault.read", new { path = "x" }, destination: "vault", sealWith: "pair-2"));
            Assert.Equal(EncryptedPayloadError.UnknownKey, unknown.Error);

            await stop.CancelAsync();
            await Task.WhenAll(runs).WaitAsync(TimeSpan.FromSeconds(10));
            var ciphertext = storedOutput.GetProperty("ciphertext").GetString()!;
            await hub.DisposeAsyncKeepingData();

            // Nothing the hub wrote (SQLite files, WAL, file store) holds the plaintext; the stored output's ciphertext is there.
            var files = Directory.EnumerateFiles(hub.DataDirectory, "*", SearchOption.AllDirectories).ToList();
            Assert.NotEmpty(files);
            var markerBytes = Encoding.UTF8.GetBytes(marker);
            var ciphertextBytes = Encoding.UTF8.GetBytes(ciphertext);
            var ciphertextFound = false;
            foreach (var file in files)
            {
                var bytes = await File.ReadAllBytesAsync(file);
                Assert.True(bytes.AsSpan().IndexOf(markerBytes) < 0, $"{file} holds the plaintext");
                ciphertextFound |= bytes.AsSpan().IndexOf(ciphertextBytes) >= 0;
            }
            Assert.True(TestPostgres.HubsOnPostgres || ciphertextFound, "the stored output's ciphertext is in none of " + string.Join(", ", files));
        }
        finally
        {
            await hub.DisposeAsync();
        }
    }
}
