using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Kai.Protocol.Rpc;
using Kai.Testing;

namespace Kai.Hub.Tests.Rpc;

/// <summary>AMRI (seed 001) over its three transports, against a real hub and real agent links that answer rpc_request frames.</summary>
public sealed class RpcTransportTests
{
    [Fact]
    public async Task Rest_call_reaches_the_agent_link_as_an_rpc_request_and_answers_one_response_envelope()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        await using var agent = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "echo-1"));
        var http = hub.Client(user.AccessToken);
        var traceId = Guid.NewGuid().ToString();

        var call = http.CallAsync(RpcKit.Envelope("req-1", "echo.say", new { text = "hi \"there\"\nfriend" }, destination: "echo-1", ttl: 8000, traceId: traceId));
        var request = await agent.NextRequestAsync();
        Assert.Equal("req-1", request.Id);
        Assert.Equal("echo.say", request.Method);
        Assert.Equal(user.UserProfile.UserId, request.Origin); // the hub sets origin to the caller, whatever the client claimed
        Assert.Equal("echo-1", request.Destination);
        Assert.Equal("hi \"there\"\nfriend", request.Params!.Value.GetProperty("text").GetString());
        Assert.Equal(traceId, request.Headers!.TraceId);
        Assert.Equal(user.UserProfile.UserId, request.Headers.UserId);
        Assert.Null(request.Headers.AuthToken);
        Assert.InRange(request.Headers.Ttl!.Value, 7000, 8000); // the default * deadline (10 s), capped by the ttl (8 s)
        var ack = await agent.AnswerAsync(request, new { echoed = request.Params.Value.GetProperty("text").GetString() });
        Assert.True(ack.GetProperty("accepted").GetBoolean());

        var (status, body) = await call;
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("req-1", body.GetProperty("id").GetString());
        Assert.Equal("echo-1", body.GetProperty("origin").GetString());
        Assert.Equal("test.client", body.GetProperty("destination").GetString());
        Assert.Equal("hi \"there\"\nfriend", body.GetProperty("result").GetProperty("echoed").GetString());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("error").ValueKind); // written, as the seed shows it
        Assert.Equal(JsonValueKind.Number, body.GetProperty("timestamp").ValueKind);
        Assert.Equal(0, body.GetProperty("metrics").GetProperty("retries").GetInt32());
        Assert.Equal("REST", body.GetProperty("metrics").GetProperty("backend").GetString());
        Assert.True(body.GetProperty("metrics").GetProperty("latency_ms").GetInt64() >= 0);

        // The same answer a second time is late: not accepted, and nothing waits for it.
        Assert.False((await agent.AnswerAsync(request, new { again = true }, frameId: "r2")).GetProperty("accepted").GetBoolean());
    }

    [Fact]
    public async Task WebSocket_link_carries_many_envelopes_in_flight_matched_by_id()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        await using var agent = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "worker-ws"));
        await using var rpc = await hub.ConnectAsync("ws/rpc", user.AccessToken);

        foreach (var i in new[] { 1, 2, 3 })
        {
            await rpc.SendTextAsync(RpcKit.Envelope($"w-{i}", "work.do", new { n = i }, destination: "worker-ws"));
        }
        var requests = new List<RpcRequest>();
        for (var i = 0; i < 3; i++)
        {
            requests.Add(await agent.NextRequestAsync());
        }
        Assert.Equal(["w-1", "w-2", "w-3"], requests.Select(r => r.Id).Order());
        // Answered in reverse: the link matches by id, not by order.
        foreach (var r in Enumerable.Reverse(requests))
        {
            await agent.AnswerAsync(r, new { doubled = r.Params!.Value.GetProperty("n").GetInt32() * 2 }, frameId: "a-" + r.Id);
        }
        var answers = new Dictionary<string, JsonElement>();
        for (var i = 0; i < 3; i++)
        {
            var m = await rpc.ReceiveTextAsync();
            answers[m.GetProperty("id").GetString()!] = m;
        }
        foreach (var i in new[] { 1, 2, 3 })
        {
            Assert.Equal(i * 2, answers[$"w-{i}"].GetProperty("result").GetProperty("doubled").GetInt32());
            Assert.Equal("WebSocket", answers[$"w-{i}"].GetProperty("metrics").GetProperty("backend").GetString());
        }

        // Not JSON on the link: an error envelope, and the link stays open.
        await rpc.SendRawAsync("{not json");
        var bad = await rpc.ReceiveTextAsync();
        Assert.Equal(ErrorCodes.ValidationError, bad.ErrorType());
        Assert.Equal(400, bad.GetProperty("error").GetProperty("code").GetInt32());
        await rpc.SendTextAsync(RpcKit.Envelope("w-4", "nothing.here"));
        Assert.Equal(ErrorCodes.MethodNotFound, (await rpc.ReceiveTextAsync()).ErrorType());
    }

    [Fact]
    public async Task Json_rpc_over_http_and_websocket_with_batches_notifications_and_standard_error_codes()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        var created = await hub.NewAgentAsync(user.AccessToken, "calc");
        await hub.RegisterAsync(await hub.AgentTokenAsync(created), "calc");
        await using var agent = await hub.ConnectAgentAsync(created);
        var http = hub.Client(user.AccessToken);
        // The agent adds whatever it is asked, until the test ends.
        using var stop = new CancellationTokenSource();
        var answering = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                RpcRequest r;
                try
                {
                    r = await agent.NextRequestAsync(TimeSpan.FromSeconds(30));
                }
                catch (Exception)
                {
                    return;
                }
                var p = r.Params!.Value;
                await agent.SendAsync("rpc_response", new { id = r.Id, result = p[0].GetInt32() + p[1].GetInt32(), error = (object?)null });
            }
        });

        var batch = """
            [
              {"jsonrpc": "2.0", "method": "calc.add", "params": [2, 3], "id": 1},
              {"jsonrpc": "2.0", "method": "calc.add", "params": [10, 20]},
              {"jsonrpc": "1.0", "method": "calc.add", "params": [1, 1], "id": "old"},
              {"jsonrpc": "2.0", "method": "nobody.serves.this", "id": "x"},
              {"jsonrpc": "2.0", "method": "calc.add", "params": "not structured", "id": 9},
              42
            ]
            """;
        var (status, body) = await http.PostTextAsync("jsonrpc", batch);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(5, body.GetArrayLength()); // the notification is not answered
        var byId = body.EnumerateArray().ToList();
        Assert.All(byId, r => Assert.Equal("2.0", r.GetProperty("jsonrpc").GetString()));
        var ok = byId.Single(r => r.GetProperty("id").ValueKind == JsonValueKind.Number && r.GetProperty("id").GetInt32() == 1);
        Assert.Equal(5, ok.GetProperty("result").GetInt32());
        Assert.Equal(JsonRpcErrorCodes.InvalidRequest, byId.Single(r => r.GetProperty("id").ValueKind == JsonValueKind.String && r.GetProperty("id").GetString() == "old").GetProperty("error").GetProperty("code").GetInt32());
        var missing = byId.Single(r => r.GetProperty("id").ValueKind == JsonValueKind.String && r.GetProperty("id").GetString() == "x").GetProperty("error");
        Assert.Equal(JsonRpcErrorCodes.MethodNotFound, missing.GetProperty("code").GetInt32());
        Assert.Equal(ErrorCodes.MethodNotFound, missing.GetProperty("data").GetProperty("type").GetString());
        Assert.Equal(JsonRpcErrorCodes.InvalidRequest, byId.Single(r => r.GetProperty("id").ValueKind == JsonValueKind.Number && r.GetProperty("id").GetInt32() == 9).GetProperty("error").GetProperty("code").GetInt32());
        Assert.Equal(JsonRpcErrorCodes.InvalidRequest, byId.Single(r => r.GetProperty("id").ValueKind == JsonValueKind.Null).GetProperty("error").GetProperty("code").GetInt32());

        // Only notifications: nothing to answer.
        var (quiet, _) = await http.PostTextAsync("jsonrpc", """{"jsonrpc": "2.0", "method": "calc.add", "params": [1, 2]}""");
        Assert.Equal(HttpStatusCode.NoContent, quiet);
        // Not JSON: -32700 with a null id; an empty batch: -32600.
        var (_, parse) = await http.PostTextAsync("jsonrpc", "{\"jsonrpc\": ");
        Assert.Equal(JsonRpcErrorCodes.ParseError, parse.GetProperty("error").GetProperty("code").GetInt32());
        Assert.Equal(JsonValueKind.Null, parse.GetProperty("id").ValueKind);
        var (_, empty) = await http.PostTextAsync("jsonrpc", "[]");
        Assert.Equal(JsonRpcErrorCodes.InvalidRequest, empty.GetProperty("error").GetProperty("code").GetInt32());

        // The same over /ws/rpc.
        await using var rpc = await hub.ConnectAsync("ws/rpc", user.AccessToken);
        await rpc.SendRawAsync("""{"jsonrpc": "2.0", "method": "calc.add", "params": [40, 2], "id": "ws-1"}""");
        var answer = await rpc.ReceiveTextAsync();
        Assert.Equal("ws-1", answer.GetProperty("id").GetString());
        Assert.Equal(42, answer.GetProperty("result").GetInt32());
        await rpc.SendRawAsync("""[{"jsonrpc": "2.0", "method": "calc.add", "params": [1, 1], "id": 7}, {"jsonrpc": "2.0", "method": "calc.add", "params": [0, 0]}]""");
        var batchAnswer = await rpc.ReceiveTextAsync();
        Assert.Equal(JsonValueKind.Array, batchAnswer.ValueKind);
        Assert.Equal(2, Assert.Single(batchAnswer.EnumerateArray()).GetProperty("result").GetInt32());

        // A lone surrogate escape parses as JSON but is no text (RFC 7493 §2.1): a parse error, not a 500 or a dropped link.
        const string lone = """{"jsonrpc": "2.0", "method": "calc.add", "params": {"note": "\udc00"}, "id": "lone"}""";
        var (loneStatus, loneBody) = await http.PostTextAsync("jsonrpc", lone);
        Assert.Equal(HttpStatusCode.OK, loneStatus);
        Assert.Equal(JsonRpcErrorCodes.ParseError, loneBody.GetProperty("error").GetProperty("code").GetInt32());
        await rpc.SendRawAsync(lone);
        Assert.Equal(JsonRpcErrorCodes.ParseError, (await rpc.ReceiveTextAsync()).GetProperty("error").GetProperty("code").GetInt32());
        await rpc.SendRawAsync("""{"id": "amri-\ud800", "method": "calc.add", "params": [1, 2]}""");
        var amri = await rpc.ReceiveTextAsync();
        Assert.Equal(400, amri.GetProperty("error").GetProperty("code").GetInt32());
        Assert.Equal(ErrorCodes.ValidationError, amri.GetProperty("error").GetProperty("type").GetString());
        Assert.Contains("lone surrogate", amri.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        await rpc.SendRawAsync("""{"jsonrpc": "2.0", "method": "calc.add", "params": [2, 2], "id": "after"}""");
        Assert.Equal(4, (await rpc.ReceiveTextAsync()).GetProperty("result").GetInt32()); // the link is still open

        await stop.CancelAsync();
    }

    [Fact]
    public async Task Agent_register_updates_the_registry_and_the_routing_table_which_follows_the_agent_going_away()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        var created = await hub.NewAgentAsync(user.AccessToken, "kAI.memory.3277");
        var agentToken = await hub.AgentTokenAsync(created);
        var http = hub.Client(user.AccessToken);

        var body = await hub.RegisterAsync(agentToken, "llm_chat", "media_gen", "memory.store");
        var result = body.GetProperty("result");
        Assert.Equal("kAI.memory.3277", result.GetProperty("agent_id").GetString());
        Assert.True(result.GetProperty("accepted").GetBoolean());
        Assert.Equal(30, result.GetProperty("heartbeat_interval").GetInt32());
        Assert.Equal("hub", body.GetProperty("origin").GetString());

        var view = (await http.GetFromJsonAsync<AgentView>("api/v1/agents/kAI.memory.3277", KaiJson.Options))!;
        Assert.Equal(["llm_chat", "media_gen", "memory.store"], view.Capabilities.Order());
        Assert.Equal("1.4.0", view.Version);

        async Task<List<RpcRouteView>> RoutesAsync(HttpClient client) =>
            [.. (await client.GetFromJsonAsync<RpcRoutesResponse>("api/v1/rpc/routes", KaiJson.Options))!.Routes];
        var routes = await RoutesAsync(http);
        var memory = routes.Single(r => r.Prefix == "memory.store");
        Assert.Equal("registration", memory.Source);
        Assert.Equal("capability:memory.store", memory.Target);
        Assert.Equal("unavailable", memory.Health); // registered, but no live link yet
        Assert.Equal(["serve"], memory.Intents);

        await using (var agent = await hub.ConnectAgentAsync(created))
        {
            Assert.Equal("healthy", (await RoutesAsync(http)).Single(r => r.Prefix == "memory.store").Health);
            var call = http.CallAsync(RpcKit.Envelope("m-1", "memory.store.put", new { key = "k" }));
            var request = await agent.NextRequestAsync();
            Assert.Equal("capability:memory.store", request.Destination);
            await agent.AnswerAsync(request, new { stored = true });
            var (status, answer) = await call;
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.True(answer.GetProperty("result").GetProperty("stored").GetBoolean());
            Assert.Equal("kAI.memory.3277", answer.GetProperty("origin").GetString());
        }
        // Gone: the entry stays, unavailable, and a call says so.
        await WaitAsync(async () => (await RoutesAsync(http)).Single(r => r.Prefix == "memory.store").Health == "unavailable");
        var (offline, gone) = await http.CallAsync(RpcKit.Envelope("m-2", "memory.store.put"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, offline);
        Assert.Equal(ErrorCodes.AgentUnavailable, gone.ErrorType());

        // Another tenant sees none of it, and a user cannot register.
        var stranger = await hub.NewUserAsync();
        Assert.DoesNotContain(await RoutesAsync(hub.Client(stranger.AccessToken)), r => r.Prefix == "memory.store");
        var (forbidden, refused) = await hub.Client(stranger.AccessToken).CallAsync(RpcKit.Envelope("reg-u", RpcMethods.AgentRegister, new { capabilities = new[] { "x" } }));
        Assert.Equal(HttpStatusCode.Forbidden, forbidden);
        Assert.Equal(ErrorCodes.Forbidden, refused.ErrorType());
    }

    internal static async Task WaitAsync(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 200; i++)
        {
            if (await condition())
            {
                return;
            }
            await Task.Delay(25);
        }
        Assert.Fail("condition not reached");
    }
}
