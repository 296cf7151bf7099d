using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Kail;
using Kai.Testing;
using Microsoft.Data.Sqlite;
using NSec.Cryptography;

namespace Kai.Hub.Tests.Invocations;

/// <summary>
/// Signed KAIL envelopes (seed 002 §VIII, issue 11 item 9) over a real hub: keys registered through the REST routes, envelopes signed by
/// the test as a client would (RFC 8785 canonical JSON without <c>signature</c>), results verified with the key the hub publishes.
/// </summary>
public sealed class SignatureTests
{
    [Fact]
    public async Task Ed25519_and_es256_signed_invocations_pass_and_every_result_verifies_with_the_published_hub_key()
    {
        await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string> { ["Kai:Kail:signed_intents:0"] = "transfer" });
        var token = (await hub.NewUserAsync()).AccessToken;
        var user = hub.Client(token);
        var callerAgent = await hub.NewAgentAsync(token, "signer");
        var caller = hub.Client(await hub.AgentTokenAsync(callerAgent));
        await using var worker = await hub.ConnectAgentAsync(await hub.NewAgentAsync(token, "worker"));
        var hubKey = await HubKeyAsync(user);

        // The agent registers its own Ed25519 key (raw base64); the owner registers an ES256 key for it as a JWK.
        using var ed = Signer.Ed25519();
        var edKey = await RegisterAsync(caller, "signer", ed.Registration("signer-ed-1"));
        Assert.Equal("ed25519", edKey.GetProperty("algorithm").GetString());
        Assert.Equal("OKP", edKey.GetProperty("jwk").GetProperty("kty").GetString());
        using var es = Signer.Es256();
        var esKey = await RegisterAsync(user, "signer", es.JwkRegistration());
        var esKid = esKey.GetProperty("key_id").GetString()!;
        Assert.StartsWith("k_", esKid, StringComparison.Ordinal);
        Assert.Equal("P-256", esKey.GetProperty("jwk").GetProperty("crv").GetString());

        // Ed25519 by the agent, over REST.
        var edEnvelope = ed.Sign(Kail.Envelope(Kail.Handle("worker"), "summarize", new { text = "über €", n = 1.50 }), "signer-ed-1");
        var call = Kail.InvokeAsync(caller, edEnvelope);
        var received = await Kail.NextInvocationAsync(worker);
        Assert.Null(received.Signature);
        await Kail.AnswerAsync(worker, received, new { summary = "s", score = 0.1 });
        var res = await call;
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        var result = await Kail.JsonAsync(res);
        Assert.Equal("completed", result.GetProperty("status").GetString());
        AssertHubSigned(result, hubKey);

        // ES256 by the owner (a user signs with a key of its own agent).
        var esEnvelope = es.Sign(Kail.Envelope(Kail.Handle("worker"), "transfer", "x"), esKid);
        call = Kail.InvokeAsync(user, esEnvelope);
        await Kail.AnswerAsync(worker, await Kail.NextInvocationAsync(worker), "done");
        res = await call;
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        AssertHubSigned(await Kail.JsonAsync(res), hubKey);

        // GET of the logged result is signed too, and a client-side change breaks it.
        var shown = await Kail.JsonAsync(await user.GetAsync($"api/v1/invocations/{esEnvelope["id"]}"));
        AssertHubSigned(shown, hubKey);
        var members = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(shown)!;
        members["output"] = JsonSerializer.SerializeToElement("forged");
        var forged = JsonSerializer.SerializeToElement(members);
        Assert.False(VerifiesWith(forged, hubKey));

        // Unsigned passes under verify-if-present, except for an intent in signed_intents.
        call = Kail.InvokeAsync(user, Kail.Envelope(Kail.Handle("worker"), "summarize", "plain"));
        await Kail.AnswerAsync(worker, await Kail.NextInvocationAsync(worker), "ok");
        Assert.Equal(HttpStatusCode.OK, (await call).StatusCode);
        var unsignedTransfer = await Kail.InvokeAsync(user, Kail.Envelope(Kail.Handle("worker"), "transfer", "plain"));
        Assert.Equal(HttpStatusCode.Forbidden, unsignedTransfer.StatusCode);
        Assert.Equal("SIGNATURE_REQUIRED", (await Kail.JsonAsync(unsignedTransfer)).GetProperty("error").GetProperty("code").GetString());

        // Over the agent's link: a signed invocation frame, and the invocation_result frame carries the hub's signature.
        await using var link = await hub.ConnectAgentAsync(callerAgent);
        await link.SendAsync(FrameTypes.Invocation, ed.Sign(Kail.Envelope("kah:worker", "summarize", "by link"), "signer-ed-1"), "f1");
        Assert.Equal("running", (await link.ReceiveAsync(FrameTypes.Ack)).Payload.GetProperty("status").GetString());
        await Kail.AnswerAsync(worker, await Kail.NextInvocationAsync(worker), "linked");
        var frame = await link.ReceiveAsync(FrameTypes.InvocationResult);
        Assert.Equal("linked", frame.Payload.GetProperty("output").GetString());
        AssertHubSigned(frame.Payload, hubKey);
    }

    [Fact]
    public async Task Bad_tampered_revoked_unknown_and_unsigned_envelopes_get_their_codes_and_nothing_is_stored_or_delivered()
    {
        await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string> { ["Kai:Kail:Signatures"] = "required" });
        var token = (await hub.NewUserAsync()).AccessToken;
        var user = hub.Client(token);
        await hub.NewAgentAsync(token, "mine");
        await using var worker = await hub.ConnectAgentAsync(await hub.NewAgentAsync(token, "worker"));
        using var good = Signer.Ed25519();
        await RegisterAsync(user, "mine", good.Registration("good"));
        using var old = Signer.Es256();
        await RegisterAsync(user, "mine", old.Registration("old"));
        Assert.Equal(HttpStatusCode.OK, (await user.DeleteAsync("api/v1/agents/mine/keys/old")).StatusCode);
        // Another tenant's key: known to the hub, but not this sender's.
        var otherToken = (await hub.NewUserAsync()).AccessToken;
        await hub.NewAgentAsync(otherToken, "theirs");
        using var theirs = Signer.Ed25519();
        await RegisterAsync(hub.Client(otherToken), "theirs", theirs.Registration("theirs-key"));

        var id = Guid.NewGuid().ToString();
        Dictionary<string, object?> Fresh(string intent) => Kail.Envelope(Kail.Handle("worker"), intent, new { amount = 10 }, id: id);

        var tampered = good.Sign(Fresh("tampered"), "good");
        tampered["payload"] = new Dictionary<string, object?> { ["input"] = new { amount = 10_000 } };
        var wrongKey = theirs.Sign(Fresh("wrong-key"), "good");
        var noKeyId = good.Sign(Fresh("no-key-id"), "good");
        noKeyId.Remove("key_id");
        var garbage = Fresh("garbage");
        garbage["key_id"] = "good";
        garbage["signature"] = "!!not base64!!";
        var cases = new (string Name, Dictionary<string, object?> Envelope, string Code)[]
        {
            ("unsigned", Fresh("unsigned"), ErrorCodes.SignatureRequired),
            ("tampered payload", tampered, ErrorCodes.SignatureInvalid),
            ("signed by another key", wrongKey, ErrorCodes.SignatureInvalid),
            ("malformed signature", garbage, ErrorCodes.SignatureInvalid),
            ("unknown key", good.Sign(Fresh("unknown"), "nobody-has-this"), ErrorCodes.KeyUnknown),
            ("another tenant's key", theirs.Sign(Fresh("foreign"), "theirs-key"), ErrorCodes.KeyUnknown),
            ("signature without key_id", noKeyId, ErrorCodes.KeyUnknown),
            ("revoked key", old.Sign(Fresh("revoked"), "old"), ErrorCodes.KeyRevoked),
        };
        foreach (var (name, envelope, code) in cases)
        {
            var res = await Kail.InvokeAsync(user, envelope);
            var error = (await Kail.JsonAsync(res)).GetProperty("error");
            Assert.True(code == error.GetProperty("code").GetString(), $"{name}: {error}");
            Assert.Equal(HttpStatusCode.Forbidden, res.StatusCode);
            Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
            Assert.Equal(0, await CountAsync(hub, "SELECT COUNT(*) FROM kail_invocation_log"));
            Assert.Equal(0, await CountAsync(hub, "SELECT COUNT(*) FROM kail_nonces"));
        }
        // The same refusals in a batch: each item on its own.
        var batch = await Kail.JsonAsync(await Kail.InvokeAsync(user, new[] { tampered, Fresh("unsigned") }, "?wait=false"));
        Assert.Equal(new string?[] { ErrorCodes.SignatureInvalid, ErrorCodes.SignatureRequired },
            batch.EnumerateArray().Select(i => i.GetProperty("error").GetProperty("code").GetString()).ToArray());

        // Nothing was delivered and the id (the nonce) was not used up: a good envelope with the same id is the first the worker sees.
        var call = Kail.InvokeAsync(user, good.Sign(Fresh("valid"), "good"));
        var received = await Kail.NextInvocationAsync(worker);
        Assert.Equal("valid", received.Intent);
        Assert.Equal(id, received.Id);
        await Kail.AnswerAsync(worker, received, "ok");
        Assert.Equal(HttpStatusCode.OK, (await call).StatusCode);
        Assert.Equal(1, await CountAsync(hub, "SELECT COUNT(*) FROM kail_invocation_log"));
        // Replaying the signed envelope is refused by the nonce check that already existed.
        var replay = await Kail.InvokeAsync(user, good.Sign(Fresh("valid"), "good"));
        Assert.Equal("REPLAY_DETECTED", (await Kail.JsonAsync(replay)).GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Rotation_keeps_the_old_key_valid_until_it_is_revoked() => await RotationAsync(await TestHub.StartAsync());

    [SkippableFact]
    public async Task Rotation_keeps_the_old_key_valid_until_it_is_revoked_on_postgres()
    {
        TestPostgres.Require();
        var schema = TestPostgres.SchemaFor("kailsig-" + Guid.NewGuid());
        try
        {
            await RotationAsync(await TestHub.StartAsync(settings: new Dictionary<string, string>
            {
                ["Kai:Store"] = "postgres", ["ConnectionStrings:Postgres"] = await TestPostgres.CreateSchemaAsync(schema),
            }));
        }
        finally
        {
            await TestPostgres.DropSchemaAsync(schema);
        }
    }

    private static async Task RotationAsync(TestHub started)
    {
        await using var hub = started;
        var token = (await hub.NewUserAsync()).AccessToken;
        var agent = await hub.NewAgentAsync(token, "rotator");
        var client = hub.Client(await hub.AgentTokenAsync(agent));
        await using var worker = await hub.ConnectAgentAsync(await hub.NewAgentAsync(token, "worker"));
        using var first = Signer.Ed25519();
        using var second = Signer.Es256();
        await RegisterAsync(client, "rotator", first.Registration("v1"));

        Assert.Equal("completed", await SignedCallAsync(client, worker, first, "v1"));
        await RegisterAsync(client, "rotator", second.Registration("v2"));
        // Both keys are valid while the rotation overlaps.
        Assert.Equal("completed", await SignedCallAsync(client, worker, first, "v1"));
        Assert.Equal("completed", await SignedCallAsync(client, worker, second, "v2"));
        var revoke = await client.DeleteAsync("api/v1/agents/rotator/keys/v1");
        Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);
        Assert.True((await Kail.JsonAsync(revoke)).TryGetProperty("revoked_at", out _));
        var revoked = await Kail.InvokeAsync(client, first.Sign(Kail.Envelope(Kail.Handle("worker"), "work", "v1"), "v1"));
        Assert.Equal(HttpStatusCode.Forbidden, revoked.StatusCode);
        Assert.Equal(ErrorCodes.KeyRevoked, (await Kail.JsonAsync(revoked)).GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("completed", await SignedCallAsync(client, worker, second, "v2"));

        var keys = (await Kail.JsonAsync(await client.GetAsync("api/v1/agents/rotator/keys"))).GetProperty("keys").EnumerateArray().ToList();
        Assert.Equal(2, keys.Count);
        var v1 = keys.Single(k => k.GetProperty("key_id").GetString() == "v1");
        Assert.True(v1.TryGetProperty("revoked_at", out _));
        Assert.False(keys.Single(k => k.GetProperty("key_id").GetString() == "v2").TryGetProperty("revoked_at", out _));
        // Revoking again keeps the first revocation time.
        var revokedAt = v1.GetProperty("revoked_at").GetString();
        Assert.Equal(HttpStatusCode.OK, (await client.DeleteAsync("api/v1/agents/rotator/keys/v1")).StatusCode);
        var again = (await Kail.JsonAsync(await client.GetAsync("api/v1/agents/rotator/keys"))).GetProperty("keys").EnumerateArray()
            .Single(k => k.GetProperty("key_id").GetString() == "v1");
        Assert.Equal(revokedAt, again.GetProperty("revoked_at").GetString());
    }

    [Fact]
    public async Task Key_routes_answer_only_the_agent_and_its_owner_and_refuse_bad_keys_without_storing_them()
    {
        await using var hub = await TestHub.StartAsync();
        var token = (await hub.NewUserAsync()).AccessToken;
        var owner = hub.Client(token);
        var agent = await hub.NewAgentAsync(token, "keyed");
        var sibling = hub.Client(await hub.AgentTokenAsync(await hub.NewAgentAsync(token, "sibling")));
        var stranger = hub.Client((await hub.NewUserAsync()).AccessToken);
        using var signer = Signer.Ed25519();
        await RegisterAsync(owner, "keyed", signer.Registration("kept"));

        // Another tenant and a sibling agent: 404 for every key route, and the keys are unchanged.
        foreach (var other in new[] { stranger, sibling })
        {
            using var other2 = Signer.Ed25519();
            var post = await other.PostAsJsonAsync("api/v1/agents/keyed/keys", other2.Registration("intruder"), KaiJson.Options);
            Assert.Equal(HttpStatusCode.NotFound, post.StatusCode);
            Assert.Equal("AGENT_NOT_FOUND", (await Kail.JsonAsync(post)).GetProperty("error").GetProperty("code").GetString());
            Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync("api/v1/agents/keyed/keys")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await other.DeleteAsync("api/v1/agents/keyed/keys/kept")).StatusCode);
        }
        var anonymous = hub.Client();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("api/v1/invocations/keys")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("api/v1/agents/keyed/keys")).StatusCode);

        // Bad registrations: each a 400 naming the field (or 409), nothing stored.
        var bad = new (object Body, HttpStatusCode Status, string Field)[]
        {
            (new { algorithm = "rsa", public_key = signer.PublicKeyBase64 }, HttpStatusCode.BadRequest, "/algorithm"),
            (new { algorithm = "ed25519" }, HttpStatusCode.BadRequest, "/public_key"),
            (new { algorithm = "ed25519", public_key = Convert.ToBase64String(new byte[31]) }, HttpStatusCode.BadRequest, "/public_key"),
            (new { algorithm = "es256", public_key = signer.PublicKeyBase64 }, HttpStatusCode.BadRequest, "/public_key"),
            (new { algorithm = "es256", public_key = Convert.ToBase64String([4, .. new byte[64]]) }, HttpStatusCode.BadRequest, "/public_key"),
            (new { algorithm = "ed25519", jwk = new Dictionary<string, string> { ["kty"] = "EC", ["crv"] = "P-256", ["x"] = "AA" } }, HttpStatusCode.BadRequest, "/jwk"),
            (new { algorithm = "ed25519", public_key = "%%%" }, HttpStatusCode.BadRequest, "/public_key"),
            (new { algorithm = "ed25519", public_key = signer.PublicKeyBase64, key_id = "bad id!" }, HttpStatusCode.BadRequest, "key_id"),
            (new { algorithm = "ed25519", public_key = signer.PublicKeyBase64, key_id = "kept" }, HttpStatusCode.Conflict, "key_id"),
        };
        foreach (var (body, status, field) in bad)
        {
            var res = await owner.PostAsJsonAsync("api/v1/agents/keyed/keys", body, KaiJson.Options);
            var error = (await Kail.JsonAsync(res)).GetProperty("error");
            Assert.True(status == res.StatusCode, $"{JsonSerializer.Serialize(body)}: {error}");
            Assert.Contains(field, error.ToString(), StringComparison.Ordinal);
        }
        Assert.Equal(HttpStatusCode.NotFound, (await owner.DeleteAsync("api/v1/agents/keyed/keys/no-such-key")).StatusCode);
        var keys = (await Kail.JsonAsync(await owner.GetAsync("api/v1/agents/keyed/keys"))).GetProperty("keys");
        var only = Assert.Single(keys.EnumerateArray());
        Assert.Equal("kept", only.GetProperty("key_id").GetString());
        Assert.False(only.TryGetProperty("revoked_at", out _));
        Assert.Equal(1, await CountAsync(hub, "SELECT COUNT(*) FROM kail_keys"));
        // The agent itself may list its keys.
        Assert.Equal(HttpStatusCode.OK, (await hub.Client(await hub.AgentTokenAsync(agent)).GetAsync("api/v1/agents/keyed/keys")).StatusCode);
    }

    [Fact]
    public async Task With_signatures_off_signatures_are_ignored_and_results_are_not_signed()
    {
        await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string> { ["Kai:Kail:Signatures"] = "off" });
        var token = (await hub.NewUserAsync()).AccessToken;
        var user = hub.Client(token);
        await using var worker = await hub.ConnectAgentAsync(await hub.NewAgentAsync(token, "worker"));
        var envelope = Kail.Envelope(Kail.Handle("worker"), "x", "in");
        envelope["key_id"] = "whatever";
        envelope["signature"] = Convert.ToBase64String(new byte[64]);
        var call = Kail.InvokeAsync(user, envelope);
        await Kail.AnswerAsync(worker, await Kail.NextInvocationAsync(worker), "ok");
        var result = await Kail.JsonAsync(await call);
        Assert.Equal("completed", result.GetProperty("status").GetString());
        Assert.False(result.TryGetProperty("signature", out _));
    }

    [Fact]
    public async Task The_hub_key_is_kept_in_the_data_directory_across_restarts()
    {
        var dir = TestHub.NewDataDirectory();
        string first;
        await using (var hub = await TestHub.StartAsync(dataDirectory: dir, keepData: true))
        {
            first = (await HubKeyAsync(hub.Client((await hub.NewUserAsync("k@example.com")).AccessToken))).KeyId;
            Assert.True(File.Exists(Path.Combine(dir, "keys", "kail-result-ed25519.pem")));
        }
        await using var again = await TestHub.StartAsync(dataDirectory: dir);
        var login = await again.Client().PostAsJsonAsync("api/v1/auth/login", new { email = "k@example.com", password = "correct-horse-battery" }, KaiJson.Options);
        var token = (await login.Content.ReadFromJsonAsync<JsonElement>(KaiJson.Options)).GetProperty("access_token").GetString();
        Assert.Equal(first, (await HubKeyAsync(again.Client(token))).KeyId);
    }

    // ---- helpers ----

    /// <summary>A signed call the worker answers; returns the result's status.</summary>
    private static async Task<string> SignedCallAsync(HttpClient client, TestSocket worker, Signer signer, string kid)
    {
        var call = Kail.InvokeAsync(client, signer.Sign(Kail.Envelope(Kail.Handle("worker"), "work", kid), kid));
        await Kail.AnswerAsync(worker, await Kail.NextInvocationAsync(worker), "ok");
        var res = await call;
        var json = await Kail.JsonAsync(res);
        Assert.True(res.StatusCode == HttpStatusCode.OK, json.ToString());
        return json.GetProperty("status").GetString()!;
    }

    private static async Task<JsonElement> RegisterAsync(HttpClient client, string agentId, object body)
    {
        var res = await client.PostAsJsonAsync($"api/v1/agents/{agentId}/keys", body, KaiJson.Options);
        var json = await Kail.JsonAsync(res);
        Assert.True(res.StatusCode == HttpStatusCode.Created, json.ToString());
        return json;
    }

    private static async Task<(string KeyId, byte[] Key)> HubKeyAsync(HttpClient client)
    {
        var key = Assert.Single((await Kail.JsonAsync(await client.GetAsync("api/v1/invocations/keys"))).GetProperty("keys").EnumerateArray());
        Assert.Equal("ed25519", key.GetProperty("algorithm").GetString());
        return (key.GetProperty("key_id").GetString()!, Convert.FromBase64String(key.GetProperty("public_key").GetString()!));
    }

    private static void AssertHubSigned(JsonElement result, (string KeyId, byte[] Key) hubKey)
    {
        Assert.Equal(hubKey.KeyId, result.GetProperty("key_id").GetString());
        Assert.True(VerifiesWith(result, hubKey), "the result's signature does not verify with the published hub key: " + result);
    }

    private static bool VerifiesWith(JsonElement result, (string KeyId, byte[] Key) hubKey)
    {
        var signature = Convert.FromBase64String(result.GetProperty("signature").GetString()!);
        var key = NSec.Cryptography.PublicKey.Import(SignatureAlgorithm.Ed25519, hubKey.Key, KeyBlobFormat.RawPublicKey);
        return SignatureAlgorithm.Ed25519.Verify(key, KailSignatures.SigningInput(result), signature);
    }

    private static async Task<long> CountAsync(TestHub hub, string sql)
    {
        await using var db = new SqliteConnection($"Data Source={Path.Combine(hub.DataDirectory, "kai.db")};Mode=ReadOnly");
        await db.OpenAsync();
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    /// <summary>A client's signing key: signs envelopes as docs/protocol.md says (key_id set, signature over the canonical envelope without it).</summary>
    private abstract class Signer : IDisposable
    {
        public static Signer Ed25519() => new EdSigner();

        public static Signer Es256() => new EsSigner();

        public abstract string Algorithm { get; }

        public abstract string PublicKeyBase64 { get; }

        public object Registration(string? keyId) => new { algorithm = Algorithm, public_key = PublicKeyBase64, key_id = keyId };

        public abstract object JwkRegistration();

        protected abstract byte[] SignBytes(byte[] data);

        public Dictionary<string, object?> Sign(Dictionary<string, object?> envelope, string keyId)
        {
            envelope["key_id"] = keyId;
            envelope.Remove("signature");
            var input = KailSignatures.SigningInput(JsonSerializer.SerializeToElement(envelope, KaiJson.Options));
            envelope["signature"] = Convert.ToBase64String(SignBytes(input));
            return envelope;
        }

        public abstract void Dispose();

        private sealed class EdSigner : Signer
        {
            private readonly Key _key = Key.Create(SignatureAlgorithm.Ed25519);

            public override string Algorithm => "ed25519";

            public override string PublicKeyBase64 => Convert.ToBase64String(_key.PublicKey.Export(KeyBlobFormat.RawPublicKey));

            public override object JwkRegistration() => new { algorithm = Algorithm, jwk = new Dictionary<string, string>
            {
                ["kty"] = "OKP", ["crv"] = "Ed25519", ["x"] = Convert.ToBase64String(_key.PublicKey.Export(KeyBlobFormat.RawPublicKey)).TrimEnd('=').Replace('+', '-').Replace('/', '_'),
            } };

            protected override byte[] SignBytes(byte[] data) => SignatureAlgorithm.Ed25519.Sign(_key, data);

            public override void Dispose() => _key.Dispose();
        }

        private sealed class EsSigner : Signer
        {
            private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

            public override string Algorithm => "es256";

            public override string PublicKeyBase64 => Convert.ToBase64String(_key.ExportSubjectPublicKeyInfo());

            public override object JwkRegistration()
            {
                var q = _key.ExportParameters(false).Q;
                static string B64Url(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');
                return new { algorithm = Algorithm, jwk = new Dictionary<string, string> { ["kty"] = "EC", ["crv"] = "P-256", ["x"] = B64Url(q.X!), ["y"] = B64Url(q.Y!) } };
            }

            protected override byte[] SignBytes(byte[] data) => _key.SignData(data, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);

            public override void Dispose() => _key.Dispose();
        }
    }
}
