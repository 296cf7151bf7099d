using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Hub.Routing;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rpc;
using Kai.Testing;

namespace Kai.Hub.Tests.Rpc;

/// <summary>
/// The seed 000 command-dispatcher features on AMRI (issue 11 item 17): scatter-gather with all/first/quorum, result caching per method
/// (hits in the reply's metrics), per-method params/result schemas declared in agent.register, and asynchronous callbacks with late
/// responses posted to /api/v1/callbacks/{id} (seed 004). Real hub, real agent links, the fake clock for deadlines and TTLs.
/// </summary>
public sealed class RpcAggregationTests
{
    private static object Request(string id, string method, object? @params, string? destination, object headers, TimeProvider clock) => new
    {
        id,
        origin = "test.client",
        destination,
        timestamp = RpcKit.Now(clock),
        method,
        @params = @params ?? new { },
        headers,
    };

    private static async Task<(TestHub Hub, Kai.Protocol.Rest.TokenResponse User, List<(string Id, TestSocket Link)> Agents)> StartAsync(
        Microsoft.Extensions.Time.Testing.FakeTimeProvider clock, string capability, int count, Dictionary<string, string>? settings = null, object? methods = null)
    {
        var hub = await TestHub.StartAsync(clock, settings: settings);
        var user = await hub.NewUserAsync();
        var agents = new List<(string, TestSocket)>();
        for (var i = 0; i < count; i++)
        {
            var agent = await hub.NewAgentAsync(user.AccessToken, $"{capability}-{i}", capabilities: [capability]);
            var token = await hub.AgentTokenAsync(agent);
            var (status, body) = await hub.Client(token).CallAsync(RpcKit.Envelope(Guid.NewGuid().ToString(), RpcMethods.AgentRegister,
                new { capabilities = new[] { capability }, intents = new[] { "serve" }, metadata = new { version = "1.0.0" }, methods }));
            Assert.True(status == HttpStatusCode.OK, body.ToString());
            agents.Add((agent.AgentId, await hub.ConnectAgentAsync(agent)));
        }
        return (hub, user, agents);
    }

    [Fact]
    public async Task Scatter_gather_asks_every_healthy_agent_of_a_capability_and_aggregates_all_first_and_quorum()
    {
        var clock = TestClock.Create();
        var (hub, user, agents) = await StartAsync(clock, "search", 3);
        await using var _ = hub;
        var http = hub.Client(user.AccessToken);
        var pending = hub.Service<PendingRequests>();

        // all: every agent answers; the result lists each reply.
        var all = http.CallAsync(Request("s-all", "search.query", new { q = "cat" }, "capability:search", new { aggregate = "all" }, clock));
        for (var i = 0; i < agents.Count; i++)
        {
            var req = await agents[i].Link.NextRequestAsync();
            Assert.Equal("s-all", req.Id);
            Assert.Equal(agents[i].Id, req.Headers!.TargetAgent);
            await agents[i].Link.AnswerAsync(req, new { hits = i });
        }
        var (status, body) = await all;
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        var result = body.GetProperty("result");
        Assert.Equal("all", result.GetProperty("aggregate").GetString());
        Assert.Equal(3, result.GetProperty("asked").GetInt32());
        Assert.Equal(3, result.GetProperty("answered").GetInt32());
        Assert.True(result.GetProperty("complete").GetBoolean());
        var byAgent = result.GetProperty("responses").EnumerateArray().ToDictionary(r => r.GetProperty("agent_id").GetString()!, r => r.GetProperty("result").GetProperty("hits").GetInt32());
        Assert.Equal(Enumerable.Range(0, 3).ToDictionary(i => agents[i].Id, i => i), byAgent);

        // quorum 2: the answer comes once two agents answered; the third's late answer is refused.
        var quorum = http.CallAsync(Request("s-q", "search.query", new { q = "dog" }, "capability:search", new { aggregate = "quorum", quorum = 2 }, clock));
        var requests = new List<RpcRequest>();
        foreach (var (_, link) in agents)
        {
            requests.Add(await link.NextRequestAsync());
        }
        await agents[0].Link.AnswerAsync(requests[0], new { hits = 10 });
        await agents[2].Link.AnswerAsync(requests[2], new { hits = 12 });
        (status, body) = await quorum;
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body.GetProperty("result").GetProperty("complete").GetBoolean());
        Assert.Equal(2, body.GetProperty("result").GetProperty("answered").GetInt32());
        Assert.False((await agents[1].Link.AnswerAsync(requests[1], new { hits = 11 })).GetProperty("accepted").GetBoolean());

        // all with a silent agent: cut by the deadline, the replies so far, complete: false.
        var partial = http.CallAsync(Request("s-p", "search.query", new { q = "emu" }, "capability:search", new { aggregate = "all" }, clock));
        requests.Clear();
        foreach (var (_, link) in agents)
        {
            requests.Add(await link.NextRequestAsync());
        }
        await agents[0].Link.AnswerAsync(requests[0], new { hits = 20 });
        await agents[1].Link.AnswerAsync(requests[1], null, new RpcError(500, "index offline", "INDEX_DOWN"));
        await RpcResilienceTests.WaitUntilAsync(() => pending.IsWaiting("rpc:s-p@" + agents[2].Id));
        clock.Advance(TimeSpan.FromMilliseconds(10_000)); // the "*" policy: 10000 ms
        (status, body) = await partial;
        Assert.Equal(HttpStatusCode.OK, status);
        result = body.GetProperty("result");
        Assert.False(result.GetProperty("complete").GetBoolean());
        Assert.Equal(2, result.GetProperty("answered").GetInt32());
        Assert.Contains(result.GetProperty("responses").EnumerateArray(), r => r.GetProperty("error").ValueKind == JsonValueKind.Object
            && r.GetProperty("error").GetProperty("type").GetString() == "INDEX_DOWN");

        // first: one success is enough; the others are no longer waited for.
        var first = http.CallAsync(Request("s-f", "search.query", new { q = "fox" }, "capability:search", new { aggregate = "first" }, clock));
        var firstRequest = await agents[0].Link.NextRequestAsync();
        await agents[0].Link.AnswerAsync(firstRequest, new { hits = 30 });
        (status, body) = await first;
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(1, body.GetProperty("result").GetProperty("answered").GetInt32());
        Assert.Equal(agents[0].Id, body.GetProperty("result").GetProperty("responses")[0].GetProperty("agent_id").GetString());

        // Bad input: aggregate to a single agent, an unknown policy, a quorum larger than the agents.
        (status, body) = await http.CallAsync(Request("s-bad1", "search.query", null, agents[0].Id, new { aggregate = "all" }, clock));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(ErrorCodes.ValidationError, body.ErrorType());
        (status, body) = await http.CallAsync(Request("s-bad2", "search.query", null, "capability:search", new { aggregate = "most" }, clock));
        Assert.Equal(ErrorCodes.ValidationError, body.ErrorType());
        (status, body) = await http.CallAsync(Request("s-bad3", "search.query", null, "capability:search", new { aggregate = "quorum", quorum = 9 }, clock));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal(ErrorCodes.AgentUnavailable, body.ErrorType());
        foreach (var (_, link) in agents)
        {
            await link.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_cached_method_answers_repeats_from_the_cache_per_tenant_until_its_ttl_passes()
    {
        var clock = TestClock.Create();
        var (hub, user, agents) = await StartAsync(clock, "memory", 1, new Dictionary<string, string> { ["Kai:Rpc:Methods:memory.*:CacheTtlMs"] = "60000" });
        await using var _ = hub;
        var http = hub.Client(user.AccessToken);
        var (agentId, link) = agents[0];
        await using var __ = link;

        var miss = http.CallAsync(RpcKit.Envelope("c-1", "memory.query", new { q = "cat", limit = 2 }, timestamp: RpcKit.Now(clock)));
        await link.AnswerAsync(await link.NextRequestAsync(), new { hits = 7 });
        var (status, body) = await miss;
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        Assert.Equal("miss", body.GetProperty("metrics").GetProperty("cache").GetString());

        // The same params in another member order: the same canonical key, a hit; no agent is called.
        clock.Advance(TimeSpan.FromSeconds(5));
        (status, body) = await http.CallAsync(RpcKit.Envelope("c-2", "memory.query", new { limit = 2, q = "cat" }, timestamp: RpcKit.Now(clock)));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(7, body.GetProperty("result").GetProperty("hits").GetInt32());
        Assert.Equal(agentId, body.GetProperty("origin").GetString());
        Assert.Equal("hit", body.GetProperty("metrics").GetProperty("cache").GetString());
        Assert.Equal(5000, body.GetProperty("metrics").GetProperty("cache_age_ms").GetInt64());

        // Other params miss; the next request the agent sees is that one (the hit never reached it).
        var other = http.CallAsync(RpcKit.Envelope("c-3", "memory.query", new { q = "dog" }, timestamp: RpcKit.Now(clock)));
        var third = await link.NextRequestAsync();
        Assert.Equal("c-3", third.Id);
        await link.AnswerAsync(third, new { hits = 1 });
        Assert.Equal("miss", (await other).Body.GetProperty("metrics").GetProperty("cache").GetString());

        // Another tenant never gets this tenant's cached result: the same call goes to its own agent.
        var strangerUser = await hub.NewUserAsync();
        var strangerAgent = await hub.NewAgentAsync(strangerUser.AccessToken, "their-memory", capabilities: ["memory"]);
        await hub.RegisterAsync(await hub.AgentTokenAsync(strangerAgent), "memory");
        await using var strangerLink = await hub.ConnectAgentAsync(strangerAgent);
        var theirs = hub.Client(strangerUser.AccessToken).CallAsync(RpcKit.Envelope("c-4", "memory.query", new { q = "cat", limit = 2 }, timestamp: RpcKit.Now(clock)));
        await strangerLink.AnswerAsync(await strangerLink.NextRequestAsync(), new { hits = 99 });
        (status, body) = await theirs;
        Assert.Equal(99, body.GetProperty("result").GetProperty("hits").GetInt32());
        Assert.Equal("miss", body.GetProperty("metrics").GetProperty("cache").GetString());

        // Past the TTL the agent is asked again; an error is never cached.
        clock.Advance(TimeSpan.FromSeconds(56));
        var again = http.CallAsync(RpcKit.Envelope("c-5", "memory.query", new { q = "cat", limit = 2 }, timestamp: RpcKit.Now(clock)));
        await link.AnswerAsync(await link.NextRequestAsync(), null, new RpcError(500, "store down", "STORE_DOWN"));
        (status, body) = await again;
        Assert.Equal("STORE_DOWN", body.ErrorType());
        var retry = http.CallAsync(RpcKit.Envelope("c-6", "memory.query", new { q = "cat", limit = 2 }, timestamp: RpcKit.Now(clock)));
        await link.AnswerAsync(await link.NextRequestAsync(), new { hits = 8 });
        Assert.Equal(8, (await retry).Body.GetProperty("result").GetProperty("hits").GetInt32());
    }

    [Fact]
    public async Task Declared_schemas_refuse_bad_params_before_routing_and_bad_results_after()
    {
        var clock = TestClock.Create();
        var methods = new Dictionary<string, object>
        {
            ["calc.add"] = new
            {
                params_schema = new { type = "object", required = new[] { "a", "b" }, properties = new { a = new { type = "integer" }, b = new { type = "integer" } } },
                result_schema = new { type = "object", required = new[] { "sum" } },
            },
        };
        var (hub, user, agents) = await StartAsync(clock, "calc", 1, methods: methods);
        await using var _ = hub;
        var http = hub.Client(user.AccessToken);
        var (agentId, link) = agents[0];
        await using var __ = link;

        // Bad params: 400 naming the failing path, nothing routed.
        var (status, body) = await http.CallAsync(RpcKit.Envelope("m-1", "calc.add", new { a = "one" }, timestamp: RpcKit.Now(clock)));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(ErrorCodes.ValidationError, body.ErrorType());
        var message = body.GetProperty("error").GetProperty("message").GetString()!;
        Assert.Contains("params/a", message);
        Assert.Contains("required", message);

        // Good params reach the agent; a result that matches passes.
        var good = http.CallAsync(RpcKit.Envelope("m-2", "calc.add", new { a = 1, b = 2 }, timestamp: RpcKit.Now(clock)));
        var delivered = await link.NextRequestAsync();
        Assert.Equal("m-2", delivered.Id); // m-1 never arrived
        await link.AnswerAsync(delivered, new { sum = 3 });
        (status, body) = await good;
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(3, body.GetProperty("result").GetProperty("sum").GetInt32());

        // A result that does not match: 502 RESULT_SCHEMA_MISMATCH, the result is not passed on.
        var wrong = http.CallAsync(RpcKit.Envelope("m-3", "calc.add", new { a = 1, b = 2 }, timestamp: RpcKit.Now(clock)));
        await link.AnswerAsync(await link.NextRequestAsync(), new { total = 3 });
        (status, body) = await wrong;
        Assert.Equal(HttpStatusCode.BadGateway, status);
        Assert.Equal(ErrorCodes.ResultSchemaMismatch, body.ErrorType());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("result").ValueKind);

        // A declaration that is not a schema is refused at registration and replaces nothing.
        var agent = await hub.NewAgentAsync(user.AccessToken, "calc-bad", capabilities: ["calc"]);
        (status, body) = await hub.Client(await hub.AgentTokenAsync(agent)).CallAsync(RpcKit.Envelope("reg-bad", RpcMethods.AgentRegister,
            new { capabilities = new[] { "calc" }, methods = new Dictionary<string, object> { ["calc.add"] = new { params_schema = "integers please", cache_ttl_ms = -1 } } }));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        message = body.GetProperty("error").GetProperty("message").GetString()!;
        Assert.Contains("methods.calc.add.params_schema", message);
        Assert.Contains("methods.calc.add.cache_ttl_ms", message);
        (status, body) = await http.CallAsync(RpcKit.Envelope("m-4", "calc.add", new { a = "still checked" }, timestamp: RpcKit.Now(clock)));
        Assert.Equal(ErrorCodes.ValidationError, body.ErrorType());
        Assert.Contains(agentId, body.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task A_late_callback_is_accepted_only_from_the_agent_it_went_to_and_reaches_the_callers_link()
    {
        var clock = TestClock.Create();
        await using var hub = await TestHub.StartAsync(clock);
        var user = await hub.NewUserAsync();
        var caller = await hub.NewAgentAsync(user.AccessToken, "orchestrator-001");
        var worker = await hub.NewAgentAsync(user.AccessToken, "code-gen-001");
        var callerToken = await hub.AgentTokenAsync(caller);
        var workerToken = await hub.AgentTokenAsync(worker);
        await using var callerLink = await hub.ConnectAgentAsync(caller);
        await using var workerLink = await hub.ConnectAgentAsync(worker);

        // The call answers at once: accepted, with the callback and the URL the agent may post to.
        var (status, body) = await hub.Client(callerToken).CallAsync(
            Request("req-001", "generate_code.express", new { template_id = "express-api" }, "code-gen-001", new { callback = "agent:orchestrator-001" }, clock));
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        var accepted = body.GetProperty("result");
        Assert.Equal("accepted", accepted.GetProperty("status").GetString());
        Assert.Equal("/api/v1/callbacks/req-001", accepted.GetProperty("callback_url").GetString());

        var request = await workerLink.NextRequestAsync();
        Assert.Equal("/api/v1/callbacks/req-001", request.Headers!.CallbackUrl);
        Assert.Equal(3_600_000, request.Headers.Ttl); // Kai:Rpc:CallbackWindowMs

        // Well past the method's own deadline (10 s), the agent answers late over REST.
        clock.Advance(TimeSpan.FromSeconds(20)); // (less than three heartbeat intervals, so the links stay open)
        var response = new { id = "req-001", result = new { generated_files = new[] { "app.js" } }, error = (object?)null };

        // Nobody else may answer it: another tenant's agent, the caller itself, a caller without a token; each is 404/401 and changes nothing.
        var stranger = await hub.AgentTokenAsync(await hub.NewAgentAsync((await hub.NewUserAsync()).AccessToken, "stranger-1"));
        var foreign = await hub.Client(stranger).PostAsJsonAsync("api/v1/callbacks/req-001", response);
        Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await hub.Client(callerToken).PostAsJsonAsync("api/v1/callbacks/req-001", response)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await hub.Http.PostAsJsonAsync("api/v1/callbacks/req-001", response)).StatusCode);
        var mismatched = await hub.Client(workerToken).PostAsJsonAsync("api/v1/callbacks/req-001", new { id = "req-002", result = 1 });
        Assert.Equal(HttpStatusCode.BadRequest, mismatched.StatusCode);

        var posted = await hub.Client(workerToken).PostAsJsonAsync("api/v1/callbacks/req-001", response);
        Assert.True(posted.StatusCode == HttpStatusCode.OK, await posted.Content.ReadAsStringAsync());
        Assert.True((await posted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accepted").GetBoolean());

        // The response envelope arrives on the caller's link.
        var frame = await callerLink.ReceiveAsync(FrameTypes.RpcResponse);
        var delivered = frame.PayloadAs<RpcResponse>()!;
        Assert.Equal("req-001", delivered.Id);
        Assert.Equal("code-gen-001", delivered.Origin);
        Assert.Equal("app.js", delivered.Result!.Value.GetProperty("generated_files")[0].GetString());

        // Answered once: a second post finds nothing waiting.
        Assert.Equal(HttpStatusCode.NotFound, (await hub.Client(workerToken).PostAsJsonAsync("api/v1/callbacks/req-001", response)).StatusCode);

        // A ttl caps the window; the agent may also answer on its link as usual, the response still goes to the callback.
        (status, body) = await hub.Client(callerToken).CallAsync(
            Request("req-002", "generate_code.express", null, "code-gen-001", new { callback = "agent:orchestrator-001", ttl = 60_000 }, clock));
        Assert.Equal(HttpStatusCode.OK, status);
        var second = await workerLink.NextRequestAsync();
        Assert.InRange(second.Headers!.Ttl!.Value, 59_000, 60_000);
        Assert.True((await workerLink.AnswerAsync(second, new { generated_files = Array.Empty<string>() })).GetProperty("accepted").GetBoolean());
        Assert.Equal("req-002", (await callerLink.ReceiveAsync(FrameTypes.RpcResponse)).PayloadAs<RpcResponse>()!.Id);
        (status, body) = await hub.Client(callerToken).CallAsync(
            Request("req-003", "generate_code.express", null, "code-gen-001", new { callback = "nowhere" }, clock));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(ErrorCodes.ValidationError, body.ErrorType());
    }
}
