using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Kai.Protocol;
using Kai.Testing;

namespace Kai.Hub.Tests.Chat;

/// <summary>The seed 003 REST routes under /api, called the way the reference client calls them.</summary>
public sealed partial class ChatApiTests
{
    [GeneratedRegex("^session_[0-9]{14}_[0-9a-f]{8}$")]
    private static partial Regex SessionId();

    private static void AssertSeedError(JsonElement body, string code)
    {
        Assert.True(body.TryGetProperty("detail", out var d) && d.GetString()!.Length > 0, body.GetRawText());
        Assert.Equal(code, body.GetProperty("code").GetString());
        Assert.True(body.TryGetProperty("timestamp", out _));
        Assert.False(body.TryGetProperty("error", out _), "the /api/v1 envelope leaked onto /api");
    }

    [Fact]
    public async Task Form_login_gives_a_bearer_token_whose_exp_the_client_can_decode_and_verify_shows_its_claims()
    {
        await using var hub = await TestHub.StartAsync(settings: ChatKit.Settings());
        var token = await ChatKit.LoginAsync(hub);

        // auth.ts parseToken: base64url-decode the payload and read exp (seconds).
        var payload = token.Split('.')[1].Replace('-', '+').Replace('_', '/');
        payload = payload.PadRight(payload.Length + ((4 - (payload.Length % 4)) % 4), '=');
        var claims = JsonDocument.Parse(Convert.FromBase64String(payload)).RootElement;
        Assert.True(claims.GetProperty("exp").GetInt64() * 1000 > DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());

        using var verify = new HttpRequestMessage(HttpMethod.Post, "api/auth/verify");
        verify.Headers.Authorization = new("Bearer", token);
        var res = await hub.Http.SendAsync(verify);
        var body = await ChatKit.Json(res);
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        Assert.True(body.GetProperty("valid").GetBoolean());
        Assert.Equal(claims.GetProperty("sub").GetString(), body.GetProperty("user").GetString());
        Assert.Equal("access", body.GetProperty("type").GetString());
        Assert.Equal(claims.GetProperty("exp").GetInt64(), body.GetProperty("exp").GetInt64());
        Assert.Equal(claims.GetProperty("iat").GetInt64(), body.GetProperty("iat").GetInt64());
        Assert.True(body.TryGetProperty("timestamp", out _));
    }

    private static Task<HttpResponseMessage> FormLoginAsync(TestHub hub, string username, string password) =>
        hub.Http.PostAsync("api/auth/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["username"] = username, ["password"] = password }));

    [Fact]
    public async Task The_login_username_is_the_email_or_the_accounts_name_and_bad_names_are_refused_storing_nothing()
    {
        await using var hub = await TestHub.StartAsync(settings: ChatKit.Settings());
        var reg = await hub.Http.PostAsJsonAsync("api/v1/auth/register", new
        {
            email = "ada@example.com", password = "correct-horse-battery", display_name = "Ada", terms_accepted = true, username = "ada.lovelace",
        });
        Assert.Equal(HttpStatusCode.Created, reg.StatusCode);
        var userId = (await ChatKit.Json(reg)).GetProperty("user_id").GetString();

        // By name (any case) and by email: the same account.
        foreach (var name in new[] { "ada.lovelace", "Ada.Lovelace", "ada@example.com" })
        {
            var res = await FormLoginAsync(hub, name, "correct-horse-battery");
            Assert.Equal(HttpStatusCode.OK, res.StatusCode);
            var token = (await ChatKit.Json(res)).GetProperty("access_token").GetString()!;
            using var verify = new HttpRequestMessage(HttpMethod.Post, "api/auth/verify");
            verify.Headers.Authorization = new("Bearer", token);
            Assert.Equal(userId, (await ChatKit.Json(await hub.Http.SendAsync(verify))).GetProperty("user").GetString());
        }
        // A wrong password by name, and an unknown name: the same 401 as for an email.
        foreach (var (name, password) in new[] { ("ada.lovelace", "wrong-horse-battery"), ("nobody", "correct-horse-battery") })
        {
            var res = await FormLoginAsync(hub, name, password);
            Assert.Equal(HttpStatusCode.Unauthorized, res.StatusCode);
            AssertSeedError(await ChatKit.Json(res), ErrorCodes.AuthenticationFailed);
        }

        // Registering: a taken name (any case) is a conflict naming the field; a malformed one is refused; neither stores a user.
        var users = ChatKit.Count(hub, "users");
        var taken = await hub.Http.PostAsJsonAsync("api/v1/auth/register", new
        {
            email = "other@example.com", password = "correct-horse-battery", display_name = "O", terms_accepted = true, username = "ADA.lovelace",
        });
        Assert.Equal(HttpStatusCode.Conflict, taken.StatusCode);
        Assert.Contains("username", (await taken.Content.ReadAsStringAsync()), StringComparison.Ordinal);
        foreach (var bad in new[] { "ab", "a@b.example", "-lead", "has space", new string('x', 65), "ümlaut" })
        {
            var res = await hub.Http.PostAsJsonAsync("api/v1/auth/register", new
            {
                email = $"x{Guid.NewGuid():N}@example.com", password = "correct-horse-battery", display_name = "X", terms_accepted = true, username = bad,
            });
            // /api/v1's envelope: 400 VALIDATION_ERROR naming the field.
            Assert.Equal(HttpStatusCode.BadRequest, res.StatusCode);
            var error = (await ChatKit.Json(res)).GetProperty("error");
            Assert.Equal(ErrorCodes.ValidationError, error.GetProperty("code").GetString());
            Assert.True(error.GetProperty("details").TryGetProperty("username", out _), error.GetRawText());
        }
        Assert.Equal(users, ChatKit.Count(hub, "users"));
    }

    [Fact]
    public async Task Bad_logins_and_tokens_get_seed_003_errors()
    {
        await using var hub = await TestHub.StartAsync(settings: ChatKit.Settings());
        await ChatKit.LoginAsync(hub);

        var json = await hub.Http.PostAsJsonAsync("api/auth/login", new { username = "a@example.com", password = "x" });
        Assert.Equal(422, (int)json.StatusCode);
        AssertSeedError(await ChatKit.Json(json), ErrorCodes.ValidationError);

        var missing = await hub.Http.PostAsync("api/auth/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["username"] = "a@example.com" }));
        Assert.Equal(422, (int)missing.StatusCode);
        AssertSeedError(await ChatKit.Json(missing), ErrorCodes.ValidationError);

        var wrong = await hub.Http.PostAsync("api/auth/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["username"] = "nobody@example.com", ["password"] = "wrong-password" }));
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        AssertSeedError(await ChatKit.Json(wrong), ErrorCodes.AuthenticationFailed);

        using var verify = new HttpRequestMessage(HttpMethod.Post, "api/auth/verify");
        verify.Headers.Authorization = new("Bearer", "not-a-token");
        var bad = await hub.Http.SendAsync(verify);
        Assert.Equal(HttpStatusCode.Unauthorized, bad.StatusCode);
        AssertSeedError(await ChatKit.Json(bad), ErrorCodes.AuthenticationFailed);

        // /api/v1 keeps its own envelope.
        var v1 = await hub.Http.GetAsync("api/v1/agents");
        Assert.True((await ChatKit.Json(v1)).TryGetProperty("error", out _));
    }

    [Fact]
    public async Task Providers_are_a_map_of_name_models_and_default_model()
    {
        await using var hub = await TestHub.StartAsync(settings: ChatKit.Settings());
        var token = await ChatKit.LoginAsync(hub);
        var (status, body) = await ChatKit.CallAsync(hub, token, HttpMethod.Get, "api/chat/providers");
        Assert.Equal(200, status);
        var local = body.GetProperty("local");
        Assert.Equal("local", local.GetProperty("name").GetString());
        Assert.Equal(["m1", "m2"], local.GetProperty("models").EnumerateArray().Select(m => m.GetString()!).ToArray());
        Assert.Equal("m1", local.GetProperty("default_model").GetString());
        Assert.DoesNotContain("provider-key", body.GetRawText(), StringComparison.Ordinal);
        Assert.DoesNotContain("127.0.0.1", body.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sessions_are_created_read_and_deleted_with_json_answers_and_survive_a_restart()
    {
        var dir = TestHub.NewDataDirectory();
        string token, sid, aiId;
        await using (var hub = await TestHub.StartAsync(dataDirectory: dir, keepData: true, settings: ChatKit.Settings()))
        {
            token = await ChatKit.LoginAsync(hub);
            var created = await ChatKit.CreateSessionAsync(hub, token, ChatKit.HumanAgent(model: "m2", personality: "terse"));
            sid = created.GetProperty("session_id").GetString()!;
            Assert.Matches(SessionId(), sid);
            Assert.Equal("system", created.GetProperty("type").GetString());
            Assert.Equal("active", created.GetProperty("status").GetString());
            Assert.Equal("human_agent", created.GetProperty("session_type").GetString());
            var ai = created.GetProperty("agents").GetProperty("ai_agent");
            aiId = ai.GetProperty("agent_id").GetString()!;
            Assert.Equal("ai1_" + sid, aiId);
            Assert.Equal("local", ai.GetProperty("provider").GetString());
            Assert.Equal("m2", ai.GetProperty("model").GetString());
            Assert.Equal(["conversation"], ai.GetProperty("capabilities").EnumerateArray().Select(c => c.GetString()!).ToArray());
            Assert.Equal("terse", ai.GetProperty("personality").GetString());
            Assert.Equal("active", ai.GetProperty("status").GetString());

            var two = await ChatKit.CreateSessionAsync(hub, token, new
            {
                session_type = "agent_agent",
                agents = new Dictionary<string, object> { ["agent1"] = new { provider = "local" }, ["agent2"] = new { provider = "local", model = "m2" } },
            });
            var s2 = two.GetProperty("session_id").GetString()!;
            Assert.Equal("ai1_" + s2, two.GetProperty("agents").GetProperty("agent1").GetProperty("agent_id").GetString());
            Assert.Equal("ai2_" + s2, two.GetProperty("agents").GetProperty("agent2").GetProperty("agent_id").GetString());
            Assert.Equal("m1", two.GetProperty("agents").GetProperty("agent1").GetProperty("model").GetString());
            await hub.DisposeAsyncKeepingData();
        }
        await using (var hub = await TestHub.StartAsync(dataDirectory: dir, settings: ChatKit.Settings()))
        {
            var (status, got) = await ChatKit.CallAsync(hub, token, HttpMethod.Get, $"api/chat/sessions/{sid}");
            Assert.Equal(200, status);
            Assert.Equal(aiId, got.GetProperty("agents").GetProperty("ai_agent").GetProperty("agent_id").GetString());
            Assert.Equal("active", got.GetProperty("status").GetString());

            var (deleted, body) = await ChatKit.CallAsync(hub, token, HttpMethod.Delete, $"api/chat/sessions/{sid}");
            Assert.Equal(200, deleted);
            Assert.Equal("success", body.GetProperty("status").GetString());
            Assert.Equal("Session ended", body.GetProperty("message").GetString());
            var (_, after) = await ChatKit.CallAsync(hub, token, HttpMethod.Get, $"api/chat/sessions/{sid}");
            Assert.Equal("ended", after.GetProperty("status").GetString());
        }
    }

    [Fact]
    public async Task Bad_session_requests_get_422_with_a_code_and_store_nothing()
    {
        await using var hub = await TestHub.StartAsync(settings: ChatKit.Settings());
        var token = await ChatKit.LoginAsync(hub);
        object[] bad =
        [
            "{not json",
            new { session_type = "group_chat", agents = new Dictionary<string, object> { ["ai_agent"] = new { provider = "local" } } },
            new { session_type = "human_agent", agents = new Dictionary<string, object> { ["ai_agent"] = new { provider = "nope" } } },
            new { session_type = "human_agent", agents = new Dictionary<string, object> { ["ai_agent"] = new { provider = "local", model = "gpt-9" } } },
            new { session_type = "human_agent", agents = new Dictionary<string, object> { ["a"] = new { provider = "local" }, ["b"] = new { provider = "local" } } },
            new { session_type = "agent_agent", agents = new Dictionary<string, object> { ["agent1"] = new { provider = "local" } } },
            new { session_type = "human_agent", agents = new Dictionary<string, object>() },
            new { session_type = "human_agent", agents = new Dictionary<string, object> { ["ai_agent"] = new { model = "m1" } } },
            new { session_type = "human_agent", agents = new Dictionary<string, object> { ["ai_agent"] = new { provider = "local" } }, metadata = "not an object" },
        ];
        foreach (var request in bad)
        {
            var (status, body) = await ChatKit.CallAsync(hub, token, HttpMethod.Post, "api/chat/sessions/create", request);
            Assert.True(status == 422, $"{JsonSerializer.Serialize(request)} → {status} {body.GetRawText()}");
            AssertSeedError(body, ErrorCodes.ValidationError);
        }
        var (unknownAgent, ua) = await ChatKit.CallAsync(hub, token, HttpMethod.Post, "api/chat/sessions/create",
            new { session_type = "human_agent", agents = new Dictionary<string, object> { ["ai_agent"] = new { provider = "kai", agent_id = "no-such-agent" } } });
        Assert.Equal(404, unknownAgent);
        AssertSeedError(ua, ErrorCodes.AgentNotFound);
        Assert.Equal(0, ChatKit.Count(hub, "chat_sessions"));
        Assert.Equal(0, ChatKit.Count(hub, "chat_messages"));
    }

    [Fact]
    public async Task Another_users_session_is_not_found_for_every_session_route_and_stays_unchanged()
    {
        await using var hub = await TestHub.StartAsync(settings: ChatKit.Settings());
        var owner = await ChatKit.LoginAsync(hub);
        var other = await ChatKit.LoginAsync(hub);
        var sid = (await ChatKit.CreateSessionAsync(hub, owner, ChatKit.HumanAgent())).GetProperty("session_id").GetString()!;
        foreach (var (method, path) in new[]
        {
            (HttpMethod.Get, $"api/chat/sessions/{sid}"), (HttpMethod.Delete, $"api/chat/sessions/{sid}"),
            (HttpMethod.Get, $"api/v1/chat/sessions/{sid}/messages"), (HttpMethod.Get, "api/chat/sessions/session_20260101000000_deadbeef"),
        })
        {
            var (status, body) = await ChatKit.CallAsync(hub, other, method, path);
            Assert.True(status == 404, $"{method} {path} → {status}");
            Assert.Equal(ErrorCodes.NotFound, path.Contains("/v1/", StringComparison.Ordinal) ? body.GetProperty("error").GetProperty("code").GetString() : body.GetProperty("code").GetString());
        }
        var (_, mine) = await ChatKit.CallAsync(hub, owner, HttpMethod.Get, $"api/chat/sessions/{sid}");
        Assert.Equal("active", mine.GetProperty("status").GetString());
        var (anon, _) = (await hub.Http.GetAsync($"api/chat/sessions/{sid}")).StatusCode is var c ? ((int)c, 0) : (0, 0);
        Assert.Equal(401, anon);
    }

    [Fact]
    public async Task Agent_routes_list_status_message_capabilities_and_delete_in_seed_003_shapes()
    {
        await using var hub = await TestHub.StartAsync(settings: ChatKit.Settings());
        var token = await ChatKit.LoginAsync(hub);
        var worker = await hub.NewAgentAsync(token, "worker-one", "worker", "summarize");
        var peer = await hub.NewAgentAsync(token, "worker-two", "worker");
        await using var peerLink = await hub.ConnectAgentAsync(peer);

        var (listed, list) = await ChatKit.CallAsync(hub, token, HttpMethod.Get, "api/agents/list");
        Assert.Equal(200, listed);
        Assert.Equal(2, list.GetProperty("total_count").GetInt32());
        Assert.Equal(2, list.GetProperty("user_owned_count").GetInt32());
        Assert.True(list.TryGetProperty("timestamp", out _));
        var two = list.GetProperty("agents").EnumerateArray().Single(a => a.GetProperty("agent_id").GetString() == "worker-two");
        Assert.Equal("worker", two.GetProperty("agent_type").GetString());
        Assert.Equal("active", two.GetProperty("status").GetString());
        Assert.True(two.GetProperty("is_running").GetBoolean());
        foreach (var field in new[] { "last_active", "capabilities", "interaction_modes", "owner_id", "message_count", "metadata" })
        {
            Assert.True(two.TryGetProperty(field, out _), field);
        }

        var (st, status) = await ChatKit.CallAsync(hub, token, HttpMethod.Get, "api/agents/status/worker-one");
        Assert.Equal(200, st);
        Assert.Equal("inactive", status.GetProperty("status").GetString());
        Assert.False(status.GetProperty("is_running").GetBoolean());

        var (cs, caps) = await ChatKit.CallAsync(hub, token, HttpMethod.Get, "api/agents/worker-one/capabilities");
        Assert.Equal(200, cs);
        Assert.Equal(["summarize"], caps.GetProperty("capabilities").EnumerateArray().Select(c => c.GetString()!).ToArray());

        var (ms, sent) = await ChatKit.CallAsync(hub, token, HttpMethod.Post, "api/agents/worker-one/message",
            new { receiver_id = "worker-two", content = "hello", message_type = "text", structured_data = new { k = 1 } });
        Assert.True(ms == 200, sent.GetRawText());
        Assert.Equal("success", sent.GetProperty("status").GetString());
        Assert.Equal("worker-one", sent.GetProperty("sender").GetString());
        Assert.Equal("worker-two", sent.GetProperty("receiver").GetString());
        var frame = await peerLink.ReceiveAsync("agent_message");
        var delivered = frame.Payload;
        Assert.Equal("worker-one", delivered.GetProperty("from_agent").GetString());
        Assert.Equal("hello", delivered.GetProperty("content").GetProperty("content").GetString());
        Assert.Equal(1, delivered.GetProperty("content").GetProperty("structured_data").GetProperty("k").GetInt32());

        var (bad, badBody) = await ChatKit.CallAsync(hub, token, HttpMethod.Post, "api/agents/worker-one/message", new { receiver_id = "worker-two" });
        Assert.Equal(422, bad);
        AssertSeedError(badBody, ErrorCodes.ValidationError);

        var (ds, del) = await ChatKit.CallAsync(hub, token, HttpMethod.Delete, "api/agents/worker-one");
        Assert.Equal(200, ds);
        Assert.Equal("success", del.GetProperty("status").GetString());
        var (gone, goneBody) = await ChatKit.CallAsync(hub, token, HttpMethod.Get, "api/agents/status/worker-one");
        Assert.Equal(404, gone);
        AssertSeedError(goneBody, ErrorCodes.AgentNotFound);
    }

    [Fact]
    public async Task A_sessions_hosted_participants_answer_status_capabilities_and_list_until_it_ends_and_only_for_its_owner()
    {
        await using var hub = await TestHub.StartAsync(settings: ChatKit.Settings());
        var token = await ChatKit.LoginAsync(hub);
        var other = await ChatKit.LoginAsync(hub);
        var session = await ChatKit.CreateSessionAsync(hub, token, new
        {
            session_type = "agent_agent",
            agents = new Dictionary<string, object>
            {
                ["agent1"] = new { provider = "local", capabilities = new[] { "analysis" } },
                ["agent2"] = new { provider = "local", model = "m2", personality = "Critic: terse" },
            },
        });
        var sid = session.GetProperty("session_id").GetString()!;

        // What the reference collaboration page asks right after creating the session: both participants' status.
        var (status, s1) = await ChatKit.CallAsync(hub, token, HttpMethod.Get, $"api/agents/status/ai1_{sid}");
        Assert.Equal(200, status);
        Assert.Equal("ai1_" + sid, s1.GetProperty("agent_id").GetString());
        Assert.Equal("ai", s1.GetProperty("agent_type").GetString());
        Assert.Equal("active", s1.GetProperty("status").GetString());
        Assert.True(s1.GetProperty("is_running").GetBoolean());
        Assert.Equal(0, s1.GetProperty("message_count").GetInt32());
        Assert.Equal(["analysis"], s1.GetProperty("capabilities").EnumerateArray().Select(c => c.GetString()!).ToArray());
        Assert.Equal(["agent_to_agent"], s1.GetProperty("interaction_modes").EnumerateArray().Select(c => c.GetString()!).ToArray());
        Assert.Equal("local", s1.GetProperty("metadata").GetProperty("provider").GetString());
        Assert.Equal(sid, s1.GetProperty("metadata").GetProperty("session_id").GetString());
        var (_, s2) = await ChatKit.CallAsync(hub, token, HttpMethod.Get, $"api/agents/status/ai2_{sid}");
        Assert.Equal("m2", s2.GetProperty("metadata").GetProperty("model").GetString());
        var (capStatus, caps) = await ChatKit.CallAsync(hub, token, HttpMethod.Get, $"api/agents/ai2_{sid}/capabilities");
        Assert.Equal(200, capStatus);
        Assert.Equal("Critic: terse", caps.GetProperty("personality").GetString());

        var (_, list) = await ChatKit.CallAsync(hub, token, HttpMethod.Get, "api/agents/list");
        var ids = list.GetProperty("agents").EnumerateArray().Select(a => a.GetProperty("agent_id").GetString()!).ToList();
        Assert.Contains("ai1_" + sid, ids);
        Assert.Contains("ai2_" + sid, ids);
        Assert.Equal(ids.Count, list.GetProperty("total_count").GetInt32());
        Assert.Equal(ids.Count, list.GetProperty("user_owned_count").GetInt32());

        // Another user: not found, and not listed. Ids shaped like participants that are not: not found.
        foreach (var path in new[] { $"api/agents/status/ai1_{sid}", $"api/agents/ai1_{sid}/capabilities" })
        {
            var (code, body) = await ChatKit.CallAsync(hub, other, HttpMethod.Get, path);
            Assert.Equal(404, code);
            AssertSeedError(body, ErrorCodes.AgentNotFound);
        }
        var (_, otherList) = await ChatKit.CallAsync(hub, other, HttpMethod.Get, "api/agents/list");
        Assert.DoesNotContain(otherList.GetProperty("agents").EnumerateArray(), a => a.GetProperty("agent_id").GetString()!.EndsWith(sid, StringComparison.Ordinal));
        foreach (var id in new[] { $"human_{sid}", $"ai3_{sid}", "ai1_session_20990101000000_00000000", "ai1_nonsense" })
        {
            var (code, body) = await ChatKit.CallAsync(hub, token, HttpMethod.Get, $"api/agents/status/{id}");
            Assert.Equal(404, code);
            AssertSeedError(body, ErrorCodes.AgentNotFound);
        }

        // Ended: still answers (inactive), no longer listed.
        Assert.Equal(200, (await ChatKit.CallAsync(hub, token, HttpMethod.Delete, $"api/chat/sessions/{sid}")).Status);
        var (_, ended) = await ChatKit.CallAsync(hub, token, HttpMethod.Get, $"api/agents/status/ai1_{sid}");
        Assert.Equal("inactive", ended.GetProperty("status").GetString());
        Assert.False(ended.GetProperty("is_running").GetBoolean());
        var (_, after) = await ChatKit.CallAsync(hub, token, HttpMethod.Get, "api/agents/list");
        Assert.DoesNotContain(after.GetProperty("agents").EnumerateArray(), a => a.GetProperty("agent_id").GetString()!.EndsWith(sid, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Another_users_agents_are_not_found_on_the_agent_routes()
    {
        await using var hub = await TestHub.StartAsync(settings: ChatKit.Settings());
        var owner = await ChatKit.LoginAsync(hub);
        var other = await ChatKit.LoginAsync(hub);
        await hub.NewAgentAsync(owner, "owned-agent", "worker");
        await hub.NewAgentAsync(other, "other-agent", "worker");
        foreach (var (method, path, body) in new (HttpMethod, string, object?)[]
        {
            (HttpMethod.Get, "api/agents/status/owned-agent", null), (HttpMethod.Get, "api/agents/owned-agent/capabilities", null),
            (HttpMethod.Delete, "api/agents/owned-agent", null),
            (HttpMethod.Post, "api/agents/owned-agent/message", new { receiver_id = "other-agent", content = "x", message_type = "text" }),
            (HttpMethod.Post, "api/agents/other-agent/message", new { receiver_id = "owned-agent", content = "x", message_type = "text" }),
        })
        {
            var (status, _) = await ChatKit.CallAsync(hub, other, method, path, body);
            Assert.True(status == 404, $"{method} {path} → {status}");
        }
        var (_, list) = await ChatKit.CallAsync(hub, other, HttpMethod.Get, "api/agents/list");
        Assert.Equal(["other-agent"], list.GetProperty("agents").EnumerateArray().Select(a => a.GetProperty("agent_id").GetString()!).ToArray());
        var (_, still) = await ChatKit.CallAsync(hub, owner, HttpMethod.Get, "api/agents/status/owned-agent");
        Assert.Equal("owned-agent", still.GetProperty("agent_id").GetString());
    }

    [Fact]
    public async Task Register_creates_a_hosted_agent_of_a_configured_provider_and_refuses_an_unknown_one()
    {
        await using var hub = await TestHub.StartAsync(settings: ChatKit.Settings());
        var token = await ChatKit.LoginAsync(hub);
        var (status, body) = await ChatKit.CallAsync(hub, token, HttpMethod.Post, "api/agents/register",
            new { name = "helper", provider = "local", model = "m2", capabilities = new[] { "conversation" }, personality = "kind" });
        Assert.True(status == 200, body.GetRawText());
        var id = body.GetProperty("agent_id").GetString()!;
        Assert.Equal("registered", body.GetProperty("status").GetString());
        var (_, st) = await ChatKit.CallAsync(hub, token, HttpMethod.Get, $"api/agents/status/{id}");
        Assert.Equal("llm", st.GetProperty("agent_type").GetString());
        Assert.Equal("local", st.GetProperty("metadata").GetProperty("provider").GetString());
        Assert.Equal("m2", st.GetProperty("metadata").GetProperty("model").GetString());

        var before = ChatKit.Count(hub, "agents");
        var (bad, badBody) = await ChatKit.CallAsync(hub, token, HttpMethod.Post, "api/agents/register", new { name = "x", provider = "nope" });
        Assert.Equal(422, bad);
        AssertSeedError(badBody, ErrorCodes.ValidationError);
        Assert.Equal(before, ChatKit.Count(hub, "agents"));
    }

    [Fact]
    public async Task Session_creation_is_limited_per_user_with_the_rate_limit_headers()
    {
        await using var hub = await TestHub.StartAsync(settings: ChatKit.Settings(extra: new Dictionary<string, string> { ["Kai:Security:RateLimits:SessionCreate"] = "2" }));
        var token = await ChatKit.LoginAsync(hub);
        for (var i = 0; i < 2; i++)
        {
            await ChatKit.CreateSessionAsync(hub, token, ChatKit.HumanAgent());
        }
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/chat/sessions/create")
        {
            Content = new StringContent(JsonSerializer.Serialize(ChatKit.HumanAgent()), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new("Bearer", token);
        var res = await hub.Http.SendAsync(request);
        Assert.Equal(429, (int)res.StatusCode);
        Assert.Equal("2", res.Headers.GetValues("X-RateLimit-Limit").Single());
        Assert.True(res.Headers.Contains("Retry-After"));
        AssertSeedError(await ChatKit.Json(res), ErrorCodes.RateLimitExceeded);
        Assert.Equal(2, ChatKit.Count(hub, "chat_sessions"));
    }
}
