using System.Net;
using System.Text.Json;
using Kai.Hub.Invocations;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Protocol.Frames;
using Kai.Protocol.Kail;
using Kai.Testing;
using Microsoft.Data.Sqlite;

namespace Kai.Hub.Tests.Invocations;

/// <summary>KAIL invocations (seed 002, issue 11 items 7, 8, 10 to 13) over a real hub, real agent links and the real SQLite file.</summary>
public sealed class InvocationTests
{
    [Fact]
    public async Task An_agent_on_its_link_answers_an_invocation_and_the_stack_records_the_hop_with_hashes()
    {
        await using var hub = await TestHub.StartAsync();
        var token = (await hub.NewUserAsync()).AccessToken;
        var user = hub.Client(token);
        var agent = await hub.NewAgentAsync(token, "notetaker");
        await using var link = await hub.ConnectAgentAsync(agent);

        var envelope = Kail.Envelope(Kail.Handle("notetaker"), "summarize_document", "long_text_here", options: new { model = "m1", temperature = 0.3 }, threadId: "doc-1");
        var call = Kail.InvokeAsync(user, envelope);
        var received = await Kail.NextInvocationAsync(link);
        Assert.Equal("summarize_document", received.Intent);
        Assert.Equal("long_text_here", received.Payload.Input.GetString());
        Assert.Equal("doc-1", received.Context.ThreadId);
        Assert.Equal(0.3, received.Payload.Options!.Value.GetProperty("temperature").GetDouble());
        Assert.StartsWith("kah:user.", received.Sender, StringComparison.Ordinal);
        Assert.NotNull(received.Context.HopId);
        await Kail.AnswerAsync(link, received, new { summary = "short" }, "r1");
        var ack = await link.ReceiveAsync(FrameTypes.Ack);
        Assert.True(ack.Payload.GetProperty("accepted").GetBoolean());

        var res = await call;
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        var result = await Kail.JsonAsync(res);
        Assert.Equal("InvocationResult", result.GetProperty("type").GetString());
        Assert.Equal("completed", result.GetProperty("status").GetString());
        Assert.Equal("short", result.GetProperty("output").GetProperty("summary").GetString());
        Assert.Equal(Kail.Handle("notetaker"), result.GetProperty("agent").GetString());
        var hop = Assert.Single(result.GetProperty("stack").EnumerateArray());
        Assert.Equal(Kail.Handle("notetaker"), hop.GetProperty("agent").GetString());
        Assert.Equal("summarize_document", hop.GetProperty("intent").GetString());
        Assert.Equal(Kail.Sha256("\"long_text_here\""), hop.GetProperty("input_sha256").GetString());
        Assert.Equal(Kail.Sha256("""{"summary":"short"}"""), hop.GetProperty("output_sha256").GetString());
        Assert.Equal(1, hop.GetProperty("depth").GetInt32());
        Assert.True(hop.GetProperty("duration_ms").GetDouble() >= 0);

        // GET shows the same, and the invocation log holds the chain.
        var id = (string)envelope["id"]!;
        var shown = await Kail.JsonAsync(await user.GetAsync($"api/v1/invocations/{id}"));
        Assert.Equal("completed", shown.GetProperty("status").GetString());
        Assert.Equal(hop.GetProperty("hop_id").GetString(), shown.GetProperty("stack")[0].GetProperty("hop_id").GetString());
        var logged = await hub.Service<IInvocationStore>().GetAsync(id, CancellationToken.None);
        Assert.NotNull(logged);
        Assert.Equal("completed", logged.Status);
        Assert.Contains(hop.GetProperty("hop_id").GetString()!, logged.StackJson, StringComparison.Ordinal);

        // Another tenant cannot read it.
        var other = hub.Client((await hub.NewUserAsync()).AccessToken);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"api/v1/invocations/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"api/v1/invocations/{id}/stream")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await user.GetAsync($"api/v1/invocations/{id}/stream")).StatusCode);
    }

    [Fact]
    public async Task Another_tenants_agent_can_neither_invoke_nor_answer_for_an_agent_over_its_link()
    {
        await using var hub = await TestHub.StartAsync();
        var ownerToken = (await hub.NewUserAsync()).AccessToken;
        var user = hub.Client(ownerToken);
        await using var mine = await hub.ConnectAgentAsync(await hub.NewAgentAsync(ownerToken, "mine"));
        await using var intruder = await hub.ConnectAgentAsync(await hub.NewAgentAsync((await hub.NewUserAsync()).AccessToken, "intruder"));

        await intruder.SendAsync(FrameTypes.Invocation, Kail.Envelope(Kail.Handle("mine"), "summarize", "doc"), "i1");
        var refused = (await intruder.ReceiveAsync(FrameTypes.Error)).PayloadAs<ErrorPayload>()!;
        Assert.Equal("AGENT_NOT_FOUND", refused.Code);

        // An answer for a try routed to another agent is refused, and the real answer still counts.
        var call = Kail.InvokeAsync(user, Kail.Envelope(Kail.Handle("mine"), "summarize", "doc"));
        var inv = await Kail.NextInvocationAsync(mine);
        await Kail.AnswerAsync(intruder, inv, "forged", "forge");
        Assert.Equal("NOT_FOUND", (await intruder.ReceiveAsync(FrameTypes.Error)).PayloadAs<ErrorPayload>()!.Code);
        await Kail.AnswerAsync(mine, inv, "genuine");
        var result = await Kail.JsonAsync(await call);
        Assert.Equal("genuine", result.GetProperty("output").GetString());
        Assert.Equal(1, await CountAsync(hub, "SELECT COUNT(*) FROM kail_invocation_log"));
    }

    [Fact]
    public async Task Malformed_stale_replayed_and_unknown_envelopes_are_refused_with_their_codes_and_leave_nothing_stored()
    {
        await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string> { ["Kai:Kail:replay_window"] = "60" });
        var token = (await hub.NewUserAsync()).AccessToken;
        var user = hub.Client(token);
        var agent = await hub.NewAgentAsync(token, "worker-1");
        await using var link = await hub.ConnectAgentAsync(agent);

        // Schema: the failing paths are named.
        var missing = Kail.Envelope(Kail.Handle("worker-1"), "x", "in");
        missing.Remove("intent");
        ((Dictionary<string, object?>)missing["payload"]!)["options"] = "not an object";
        var bad = await Kail.InvokeAsync(user, missing);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var error = (await Kail.JsonAsync(bad)).GetProperty("error");
        Assert.Equal("VALIDATION_ERROR", error.GetProperty("code").GetString());
        Assert.True(error.GetProperty("details").TryGetProperty("/payload/options", out _), error.ToString());
        Assert.Contains("intent", error.GetProperty("details").GetProperty("/").ToString(), StringComparison.Ordinal);
        var wrongType = Kail.Envelope(Kail.Handle("worker-1"), "x", "in");
        wrongType["type"] = "SomethingElse";
        var wt = (await Kail.JsonAsync(await Kail.InvokeAsync(user, wrongType))).GetProperty("error");
        Assert.True(wt.GetProperty("details").TryGetProperty("/type", out _), wt.ToString());

        // Stale and future timestamps.
        var stale = await Kail.InvokeAsync(user, Kail.Envelope(Kail.Handle("worker-1"), "x", "in", at: DateTimeOffset.UtcNow.AddMinutes(-5)));
        Assert.Equal("ENVELOPE_EXPIRED", (await Kail.JsonAsync(stale)).GetProperty("error").GetProperty("code").GetString());
        var future = await Kail.InvokeAsync(user, Kail.Envelope(Kail.Handle("worker-1"), "x", "in", at: DateTimeOffset.UtcNow.AddMinutes(5)));
        Assert.Equal("ENVELOPE_EXPIRED", (await Kail.JsonAsync(future)).GetProperty("error").GetProperty("code").GetString());

        // Unknown handle: named; the id is not burnt.
        var reused = Guid.NewGuid().ToString();
        var unknown = await Kail.InvokeAsync(user, Kail.Envelope("kah:agent.local.nobody", "x", "in", id: reused));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        var unknownError = (await Kail.JsonAsync(unknown)).GetProperty("error");
        Assert.Equal("AGENT_NOT_FOUND", unknownError.GetProperty("code").GetString());
        Assert.Contains("kah:agent.local.nobody", unknownError.GetProperty("message").GetString(), StringComparison.Ordinal);

        // A sender that is not the caller.
        var spoof = Kail.Envelope(Kail.Handle("worker-1"), "x", "in");
        spoof["sender"] = "kah:agent.local.worker-1";
        Assert.Equal("VALIDATION_ERROR", (await Kail.JsonAsync(await Kail.InvokeAsync(user, spoof))).GetProperty("error").GetProperty("code").GetString());

        Assert.Equal(0, await CountAsync(hub, "SELECT COUNT(*) FROM kail_invocation_log"));
        Assert.Equal(0, await CountAsync(hub, "SELECT COUNT(*) FROM kail_nonces"));

        // The id refused above works (the first invocation the agent ever gets: nothing before was routed); then it is a nonce.
        var first = Kail.InvokeAsync(user, Kail.Envelope(Kail.Handle("worker-1"), "x", "in", id: reused));
        var delivered = await Kail.NextInvocationAsync(link);
        Assert.Equal(reused, delivered.Id);
        await Kail.AnswerAsync(link, delivered, "out");
        Assert.Equal(HttpStatusCode.OK, (await first).StatusCode);
        var replay = await Kail.InvokeAsync(user, Kail.Envelope(Kail.Handle("worker-1"), "x", "in", id: reused));
        Assert.Equal(HttpStatusCode.Conflict, replay.StatusCode);
        Assert.Equal("REPLAY_DETECTED", (await Kail.JsonAsync(replay)).GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(1, await CountAsync(hub, "SELECT COUNT(*) FROM kail_invocation_log"));
        // The replay was not routed: the next invocation the agent gets is a fresh one.
        var marker = Kail.Envelope(Kail.Handle("worker-1"), "x", "marker");
        var markerCall = Kail.InvokeAsync(user, marker);
        var next = await Kail.NextInvocationAsync(link);
        Assert.Equal(marker["id"], next.Id);
        await Kail.AnswerAsync(link, next, "ok");
        await markerCall;

        // The invocation log is append-only.
        await using var db = new SqliteConnection($"Data Source={Path.Combine(hub.DataDirectory, "kai.db")}");
        await db.OpenAsync();
        foreach (var sql in new[] { "UPDATE kail_invocation_log SET status = 'x'", "DELETE FROM kail_invocation_log" })
        {
            using var cmd = db.CreateCommand();
            cmd.CommandText = sql;
            var ex = await Assert.ThrowsAsync<SqliteException>(() => cmd.ExecuteNonQueryAsync());
            Assert.Contains("append-only", ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_failed_and_a_timed_out_target_are_rerouted_to_the_backup_pool_in_policy_order_and_every_try_is_in_the_stack()
    {
        var clock = TestClock.Create();
        await using var hub = await TestHub.StartAsync(time: clock, settings: new Dictionary<string, string>
        {
            ["Kai:Kail:retries"] = "2",
            ["Kai:Kail:timeout"] = "10",
            ["Kai:Kail:Fallbacks:summarize:0"] = "kah:agent.local.slow",
            ["Kai:Kail:Fallbacks:summarize:1"] = "kah:agent.local.good",
        });
        var token = (await hub.NewUserAsync()).AccessToken;
        var user = hub.Client(token);
        await using var failing = await hub.ConnectAgentAsync(await hub.NewAgentAsync(token, "failing"));
        await using var slow = await hub.ConnectAgentAsync(await hub.NewAgentAsync(token, "slow"));
        await using var good = await hub.ConnectAgentAsync(await hub.NewAgentAsync(token, "good"));

        var call = Kail.InvokeAsync(user, Kail.Envelope(Kail.Handle("failing"), "summarize", "text", at: clock.GetUtcNow()));
        await Kail.FailAsync(failing, await Kail.NextInvocationAsync(failing), "MODEL_DOWN", "no model");
        var toSlow = await Kail.NextInvocationAsync(slow);
        Assert.Equal("text", toSlow.Payload.Input.GetString());
        clock.Advance(TimeSpan.FromSeconds(11));
        var toGood = await Kail.NextInvocationAsync(good);
        // A late answer of the slow agent no longer counts.
        await Kail.AnswerAsync(slow, toSlow, "too late", "late");
        var lateError = await slow.ReceiveAsync(FrameTypes.Error);
        Assert.Equal("NOT_FOUND", lateError.PayloadAs<ErrorPayload>()!.Code);
        await Kail.AnswerAsync(good, toGood, "fine");

        var result = await Kail.JsonAsync(await call);
        Assert.Equal("completed", result.GetProperty("status").GetString());
        Assert.Equal("fine", result.GetProperty("output").GetString());
        Assert.Equal(Kail.Handle("good"), result.GetProperty("agent").GetString());
        var stack = result.GetProperty("stack").EnumerateArray().ToList();
        Assert.Equal([Kail.Handle("failing"), Kail.Handle("slow"), Kail.Handle("good")], stack.Select(h => h.GetProperty("agent").GetString()));
        Assert.Equal([1, 2, 3], stack.Select(h => h.GetProperty("attempt").GetInt32()));
        Assert.Equal([false, true, true], stack.Select(h => h.GetProperty("fallback").GetBoolean()));
        Assert.Equal("MODEL_DOWN", stack[0].GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("INVOCATION_TIMEOUT", stack[1].GetProperty("error").GetProperty("code").GetString());
        Assert.True(stack[1].GetProperty("duration_ms").GetDouble() >= 10_000);
        Assert.Equal("completed", stack[2].GetProperty("status").GetString());
    }

    [Fact]
    public async Task When_every_try_fails_the_error_names_the_code_and_the_result_keeps_the_stack()
    {
        var clock = TestClock.Create();
        await using var hub = await TestHub.StartAsync(time: clock, settings: new Dictionary<string, string> { ["Kai:Kail:retries"] = "1" });
        var token = (await hub.NewUserAsync()).AccessToken;
        var user = hub.Client(token);
        await using var only = await hub.ConnectAgentAsync(await hub.NewAgentAsync(token, "only"));

        var envelope = Kail.Envelope(Kail.Handle("only"), "translate", "hola", at: clock.GetUtcNow());
        var call = Kail.InvokeAsync(user, envelope);
        await Kail.NextInvocationAsync(only);
        clock.Advance(TimeSpan.FromSeconds(10));
        // No other agent has the intent: the retry goes to the target again.
        await Kail.FailAsync(only, await Kail.NextInvocationAsync(only), "UPSTREAM_429", "rate limited upstream");

        var res = await call;
        Assert.Equal(HttpStatusCode.BadRequest, res.StatusCode);
        var error = (await Kail.JsonAsync(res)).GetProperty("error");
        Assert.Equal("UPSTREAM_429", error.GetProperty("code").GetString());
        var stack = error.GetProperty("details").GetProperty("invocation").GetProperty("stack").EnumerateArray().ToList();
        Assert.Equal(["INVOCATION_TIMEOUT", "UPSTREAM_429"], stack.Select(h => h.GetProperty("error").GetProperty("code").GetString()));
        var shown = await Kail.JsonAsync(await user.GetAsync($"api/v1/invocations/{envelope["id"]}"));
        Assert.Equal("failed", shown.GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_chain_hands_each_output_to_the_next_target_and_wait_false_answers_at_once()
    {
        await using var hub = await TestHub.StartAsync();
        var token = (await hub.NewUserAsync()).AccessToken;
        var user = hub.Client(token);
        await using var first = await hub.ConnectAgentAsync(await hub.NewAgentAsync(token, "first"));
        await using var second = await hub.ConnectAgentAsync(await hub.NewAgentAsync(token, "second"));

        var envelope = Kail.Envelope(Kail.Handle("first"), "transform", "x", chain: ["kah:second"]);
        var accepted = await Kail.InvokeAsync(user, envelope, "?wait=false");
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var body = await Kail.JsonAsync(accepted);
        Assert.Equal(envelope["id"], body.GetProperty("id").GetString());
        Assert.Equal("running", (await Kail.JsonAsync(await user.GetAsync($"api/v1/invocations/{envelope["id"]}"))).GetProperty("status").GetString());

        var a = await Kail.NextInvocationAsync(first);
        await Kail.AnswerAsync(first, a, a.Payload.Input.GetString() + "+first");
        var b = await Kail.NextInvocationAsync(second);
        Assert.Equal("x+first", b.Payload.Input.GetString());
        await Kail.AnswerAsync(second, b, b.Payload.Input.GetString() + "+second");

        var result = await WaitDoneAsync(user, (string)envelope["id"]!);
        Assert.Equal("x+first+second", result.GetProperty("output").GetString());
        Assert.Equal([0, 1], result.GetProperty("stack").EnumerateArray().Select(h => h.GetProperty("step").GetInt32()));
        Assert.Equal([Kail.Handle("first"), Kail.Handle("second")], result.GetProperty("stack").EnumerateArray().Select(h => h.GetProperty("agent").GetString()));
    }

    [Fact]
    public async Task A_batch_runs_each_envelope_and_reports_refusals_in_place()
    {
        await using var hub = await TestHub.StartAsync();
        var token = (await hub.NewUserAsync()).AccessToken;
        var user = hub.Client(token);
        await using var link = await hub.ConnectAgentAsync(await hub.NewAgentAsync(token, "echo"));
        var answering = Task.Run(async () =>
        {
            for (var i = 0; i < 2; i++)
            {
                var inv = await Kail.NextInvocationAsync(link);
                await Kail.AnswerAsync(link, inv, "echo:" + inv.Payload.Input.GetString());
            }
        });
        var res = await Kail.InvokeAsync(user, new object[]
        {
            Kail.Envelope(Kail.Handle("echo"), "echo", "one"),
            Kail.Envelope("kah:agent.local.missing", "echo", "lost"),
            Kail.Envelope(Kail.Handle("echo"), "echo", "two"),
        });
        await answering;
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        var items = (await Kail.JsonAsync(res)).EnumerateArray().ToList();
        Assert.Equal(3, items.Count);
        Assert.Equal("echo:one", items[0].GetProperty("output").GetString());
        Assert.Equal("AGENT_NOT_FOUND", items[1].GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("echo:two", items[2].GetProperty("output").GetString());
    }

    [Fact]
    public async Task Another_tenants_agent_is_hidden_unless_granted_and_a_denied_intent_of_a_visible_agent_is_forbidden()
    {
        await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string>
        {
            ["Kai:Kail:DefaultSameOwner"] = "false",
            ["Kai:Kail:Permissions:0:roles:0"] = "user",
            ["Kai:Kail:Permissions:0:targets:0"] = "kah:agent.local.shared",
            ["Kai:Kail:Permissions:0:intents:0"] = "summarize",
        });
        var ownerToken = (await hub.NewUserAsync()).AccessToken;
        var owner = hub.Client(ownerToken);
        var stranger = hub.Client((await hub.NewUserAsync()).AccessToken);
        await using var shared = await hub.ConnectAgentAsync(await hub.NewAgentAsync(ownerToken, "shared"));

        // Granted: any user may summarize with it, the stranger too.
        var call = Kail.InvokeAsync(stranger, Kail.Envelope(Kail.Handle("shared"), "summarize", "doc"));
        await Kail.AnswerAsync(shared, await Kail.NextInvocationAsync(shared), "sum");
        Assert.Equal(HttpStatusCode.OK, (await call).StatusCode);

        // Not granted: the stranger cannot even learn the agent exists; the owner is told it is forbidden.
        var hidden = await Kail.InvokeAsync(stranger, Kail.Envelope(Kail.Handle("shared"), "delete_everything", "doc"));
        Assert.Equal("AGENT_NOT_FOUND", (await Kail.JsonAsync(hidden)).GetProperty("error").GetProperty("code").GetString());
        var forbidden = await Kail.InvokeAsync(owner, Kail.Envelope(Kail.Handle("shared"), "delete_everything", "doc"));
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        Assert.Equal("FORBIDDEN", (await Kail.JsonAsync(forbidden)).GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(1, await CountAsync(hub, "SELECT COUNT(*) FROM kail_invocation_log"));
        // Neither refusal reached the agent: the next invocation it gets is the granted one.
        var again = Kail.Envelope(Kail.Handle("shared"), "summarize", "doc2");
        var againCall = Kail.InvokeAsync(owner, again);
        var delivered = await Kail.NextInvocationAsync(shared);
        Assert.Equal(again["id"], delivered.Id);
        await Kail.AnswerAsync(shared, delivered, "sum2");
        Assert.Equal(HttpStatusCode.OK, (await againCall).StatusCode);
        Assert.True(await CountAsync(hub, "SELECT COUNT(*) FROM audit_log WHERE action = 'access.permission_denied' AND target LIKE 'invoke delete_everything%'") >= 2);
    }

    [Fact]
    public async Task By_default_only_the_same_owner_may_invoke()
    {
        await using var hub = await TestHub.StartAsync();
        var ownerToken = (await hub.NewUserAsync()).AccessToken;
        var stranger = hub.Client((await hub.NewUserAsync()).AccessToken);
        await using var mine = await hub.ConnectAgentAsync(await hub.NewAgentAsync(ownerToken, "mine"));
        var res = await Kail.InvokeAsync(stranger, Kail.Envelope(Kail.Handle("mine"), "summarize", "doc"));
        Assert.Equal(HttpStatusCode.NotFound, res.StatusCode);
        Assert.Equal("AGENT_NOT_FOUND", (await Kail.JsonAsync(res)).GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(0, await CountAsync(hub, "SELECT COUNT(*) FROM kail_invocation_log"));
    }

    [Fact]
    public async Task An_agent_invokes_another_over_its_link_gets_the_streamed_chunks_and_the_result_and_nesting_past_the_depth_is_refused()
    {
        await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string> { ["Kai:Kail:max_depth"] = "1" });
        var token = (await hub.NewUserAsync()).AccessToken;
        await using var caller = await hub.ConnectAgentAsync(await hub.NewAgentAsync(token, "caller"));
        await using var callee = await hub.ConnectAgentAsync(await hub.NewAgentAsync(token, "callee"));

        var envelope = Kail.Envelope("kah:callee", "write", "a poem", options: new { stream = true });
        await caller.SendAsync(FrameTypes.Invocation, envelope, "inv1");
        var ack = await caller.ReceiveAsync(FrameTypes.Ack);
        Assert.Equal("running", ack.Payload.GetProperty("status").GetString());
        var received = await Kail.NextInvocationAsync(callee);
        Assert.Equal(Kail.Handle("caller"), received.Sender);

        // Nesting under it goes one level deeper than max_depth 1: refused.
        await callee.SendAsync(FrameTypes.Invocation, Kail.Envelope("kah:caller", "write", "loop", parentId: received.Id), "nested");
        var refused = await callee.ReceiveAsync(FrameTypes.Error);
        Assert.Equal("INVOCATION_DEPTH_EXCEEDED", refused.PayloadAs<ErrorPayload>()!.Code);

        await callee.SendAsync(FrameTypes.StreamChunk, new StreamChunkPayload(received.Context.HopId!, "roses ", 0));
        await callee.SendAsync(FrameTypes.StreamChunk, new StreamChunkPayload(received.Context.HopId!, "are red", 1, IsFinal: true));
        await Kail.AnswerAsync(callee, received, "roses are red");
        var c0 = (await caller.ReceiveAsync(FrameTypes.StreamChunk)).PayloadAs<StreamChunkPayload>()!;
        var c1 = (await caller.ReceiveAsync(FrameTypes.StreamChunk)).PayloadAs<StreamChunkPayload>()!;
        Assert.Equal((string)envelope["id"]!, c0.StreamId);
        Assert.Equal("roses are red", c0.Chunk + c1.Chunk);
        Assert.Equal([0, 1], new[] { c0.ChunkIndex, c1.ChunkIndex });
        var result = (await caller.ReceiveAsync(FrameTypes.InvocationResult)).PayloadAs<InvocationResult>()!;
        Assert.Equal("completed", result.Status);
        Assert.Equal("roses are red", result.Output!.Value.GetString());
    }

    [Fact]
    public async Task Sse_streams_the_chunks_then_the_result()
    {
        await using var hub = await TestHub.StartAsync();
        var token = (await hub.NewUserAsync()).AccessToken;
        var user = hub.Client(token);
        await using var link = await hub.ConnectAgentAsync(await hub.NewAgentAsync(token, "streamer"));
        var envelope = Kail.Envelope(Kail.Handle("streamer"), "write", "go", options: new { stream = true });
        var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/invocations?stream=true")
        {
            Content = new StringContent(JsonSerializer.Serialize(envelope, KaiJson.Options), System.Text.Encoding.UTF8, "application/json"),
        };
        var sending = user.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var inv = await Kail.NextInvocationAsync(link);
        await link.SendAsync(FrameTypes.StreamChunk, new StreamChunkPayload(inv.Context.HopId!, "hel", 0));
        await link.SendAsync(FrameTypes.StreamChunk, new StreamChunkPayload(inv.Context.HopId!, "lo", 1, IsFinal: true));
        await Kail.AnswerAsync(link, inv, "hello");
        var res = await sending;
        Assert.Equal("text/event-stream", res.Content.Headers.ContentType!.MediaType);
        var text = await res.Content.ReadAsStringAsync();
        var events = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(e => e.Split('\n')).Select(lines => (Name: lines[0]["event: ".Length..], Data: JsonDocument.Parse(lines[2]["data: ".Length..]).RootElement.Clone())).ToList();
        Assert.Equal(["chunk", "chunk", "result"], events.Select(e => e.Name));
        Assert.Equal("hello", events[0].Data.GetProperty("chunk").GetString() + events[1].Data.GetProperty("chunk").GetString());
        Assert.Equal("hello", events[2].Data.GetProperty("output").GetString());
    }

    [Fact]
    public async Task Agent_messages_reach_agents_by_kind_agent_handle_and_an_unknown_handle_is_named()
    {
        await using var hub = await TestHub.StartAsync();
        var token = (await hub.NewUserAsync()).AccessToken;
        await using var a = await hub.ConnectAgentAsync(await hub.NewAgentAsync(token, "alpha"));
        await using var b = await hub.ConnectAgentAsync(await hub.NewAgentAsync(token, "beta"));
        foreach (var handle in new[] { "kah:agent.local.beta", "kah:beta" })
        {
            await a.SendAsync(FrameTypes.AgentMessage, new AgentMessageSend(handle, "note", JsonSerializer.SerializeToElement("hi"), false, null), "m-" + handle);
            Assert.True((await a.ReceiveAsync(FrameTypes.Ack)).Payload.GetProperty("delivered").GetBoolean());
            var got = (await b.ReceiveAsync(FrameTypes.AgentMessage)).PayloadAs<AgentMessageDelivery>()!;
            Assert.Equal("alpha", got.FromAgent);
        }
        await a.SendAsync(FrameTypes.AgentMessage, new AgentMessageSend("kah:agent.local.ghost", "note", JsonSerializer.SerializeToElement("hi"), false, null), "m3");
        var error = (await a.ReceiveAsync(FrameTypes.Error)).PayloadAs<ErrorPayload>()!;
        Assert.Equal("AGENT_NOT_FOUND", error.Code);
        Assert.Contains("kah:agent.local.ghost", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kail_configuration_is_validated_at_start()
    {
        var e = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => TestHub.StartAsync(settings: new Dictionary<string, string>
        {
            ["Kai:Kail:retries"] = "99",
            ["Kai:Kail:transport:0"] = "carrier_pigeon",
            ["Kai:Kail:Fallbacks:x:0"] = "agent-without-prefix",
        }));
        Assert.Contains("Kai:Kail:retries", e.Message, StringComparison.Ordinal);
        Assert.Contains("carrier_pigeon", e.Message, StringComparison.Ordinal);
        Assert.Contains("agent-without-prefix", e.Message, StringComparison.Ordinal);
    }

    private static async Task<JsonElement> WaitDoneAsync(HttpClient user, string id)
    {
        for (var i = 0; i < 500; i++)
        {
            var r = await Kail.JsonAsync(await user.GetAsync($"api/v1/invocations/{id}"));
            if (r.GetProperty("status").GetString() != "running")
            {
                return r;
            }
            await Task.Delay(20);
        }
        throw new TimeoutException("the invocation did not finish");
    }

    private static async Task<long> CountAsync(TestHub hub, string sql)
    {
        await using var db = new SqliteConnection($"Data Source={Path.Combine(hub.DataDirectory, "kai.db")};Mode=ReadOnly");
        await db.OpenAsync();
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        return (long)(await cmd.ExecuteScalarAsync())!;
    }
}
