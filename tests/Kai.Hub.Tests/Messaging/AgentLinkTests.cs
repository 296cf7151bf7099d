using Microsoft.Extensions.Time.Testing;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Hub.Housekeeping;
using Kai.Hub.Messaging;
using Kai.Hub.Routing;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Testing;

namespace Kai.Hub.Tests.Messaging;

public sealed class AgentLinkTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("not-a-jwt")]
    [InlineData("a.b.c")]
    public async Task Missing_or_invalid_token_closes_with_4003(string? token)
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        var agent = await hub.NewAgentAsync(user.AccessToken, "guarded");
        await using var socket = await hub.ConnectAsync("ws/agents/guarded", token);
        Assert.Equal(CloseCodes.AuthenticationFailed, await socket.ReceiveCloseAsync());
        Assert.NotNull(agent);
    }

    [Fact]
    public async Task A_stranger_is_closed_with_4001_before_any_frame_and_unknown_agents_look_the_same()
    {
        await using var hub = await TestHub.StartAsync();
        var alice = await hub.NewUserAsync();
        var bob = await hub.NewUserAsync();
        var alicesAgent = await hub.NewAgentAsync(alice.AccessToken, "alice-bot");
        var bobsAgent = await hub.NewAgentAsync(bob.AccessToken, "bob-bot");

        foreach (var (path, token) in new[]
        {
            ("ws/agents/alice-bot", bob.AccessToken),                        // another user
            ("ws/agents/alice-bot", await hub.AgentTokenAsync(bobsAgent)),   // another tenant's agent
            ("ws/agents/no-such-agent", alice.AccessToken),                  // unknown agent
        })
        {
            await using var socket = await hub.ConnectAsync(path, token);
            // The very first thing received is the close: no welcome, no events.
            var ex = await Assert.ThrowsAsync<WebSocketCloseException>(() => socket.ReceiveAsync());
            Assert.Equal(CloseCodes.InvalidSession, ex.Code);
        }
        Assert.NotNull(alicesAgent);
    }

    [Fact]
    public async Task Agents_of_one_owner_exchange_messages_with_acks()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        await using var a = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "talker-a"));
        await using var b = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "talker-b"));

        await a.SendAsync("agent_message", new { to_agent = "talker-b", message_type = "greeting", content = new { text = "hi", n = 1 }, requires_response = true, correlation_id = "c-1" }, "m-1");
        var ack = await a.ReceiveAsync("ack");
        Assert.Equal("m-1", ack.Id);
        Assert.True(ack.Payload.GetProperty("delivered").GetBoolean());

        var got = await b.ReceiveAsync("agent_message");
        var delivery = got.PayloadAs<AgentMessageDelivery>()!;
        Assert.Equal("talker-a", delivery.FromAgent);
        Assert.Equal("greeting", delivery.MessageType);
        Assert.Equal("hi", delivery.Content.GetProperty("text").GetString());
        Assert.True(delivery.RequiresResponse);
        Assert.Equal("c-1", delivery.CorrelationId);
        Assert.True(got.Timestamp > DateTimeOffset.UtcNow.AddMinutes(-1));

        await b.SendAsync("agent_message", new { to_agent = "talker-a", message_type = "greeting.result", content = "hello back", correlation_id = "c-1" });
        var reply = (await a.ReceiveAsync("agent_message")).PayloadAs<AgentMessageDelivery>()!;
        Assert.Equal("talker-b", reply.FromAgent);
        Assert.Equal("hello back", reply.Content.GetString());
    }

    [Fact]
    public async Task Messages_to_unknown_foreign_or_offline_agents_get_error_frames()
    {
        await using var hub = await TestHub.StartAsync();
        var alice = await hub.NewUserAsync();
        var bob = await hub.NewUserAsync();
        await using var a = await hub.ConnectAgentAsync(await hub.NewAgentAsync(alice.AccessToken, "sender-a"));
        await hub.NewAgentAsync(alice.AccessToken, "sleeping-a");
        await using var foreign = await hub.ConnectAgentAsync(await hub.NewAgentAsync(bob.AccessToken, "bobs-live"));

        foreach (var (to, code) in new[] { ("ghost", "AGENT_NOT_FOUND"), ("bobs-live", "AGENT_NOT_FOUND"), ("sleeping-a", "AGENT_UNAVAILABLE") })
        {
            await a.SendAsync("agent_message", new { to_agent = to, message_type = "x", content = 1 }, "id-" + to);
            var error = await a.ReceiveAsync("error");
            Assert.Equal("id-" + to, error.Id);
            Assert.Equal(code, error.PayloadAs<ErrorPayload>()!.Code);
        }
        // Bob's agent saw nothing.
        await Assert.ThrowsAsync<TimeoutException>(() => foreign.ReceiveAsync(TimeSpan.FromMilliseconds(300)));
    }

    [Fact]
    public async Task Malformed_and_unknown_frames_get_errors_and_the_link_stays_open()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        await using var a = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "sturdy"));

        await a.SendRawAsync("{not json");
        Assert.Equal("VALIDATION_ERROR", (await a.ReceiveAsync("error")).PayloadAs<ErrorPayload>()!.Code);
        await a.SendRawAsync("""{"payload": {}}""");
        Assert.Equal("VALIDATION_ERROR", (await a.ReceiveAsync("error")).PayloadAs<ErrorPayload>()!.Code);
        await a.SendAsync("agent_message", new { to_agent = "" }, "bad-payload");
        var invalid = await a.ReceiveAsync("error");
        Assert.Equal("bad-payload", invalid.Id);
        Assert.True(invalid.PayloadAs<ErrorPayload>()!.Details!.Value.TryGetProperty("to_agent", out _));
        await a.SendAsync("teleport", new { }, "u-1");
        var unsupported = await a.ReceiveAsync("error");
        Assert.Equal("UNSUPPORTED_FRAME", unsupported.PayloadAs<ErrorPayload>()!.Code);
        Assert.Equal("u-1", unsupported.Id);
        await a.SendAsync("heartbeat", new { agent_id = "sturdy" }, "hb-1");
        Assert.Equal("hb-1", (await a.ReceiveAsync("ack")).Id);
    }

    [Fact]
    public async Task Agent_messages_of_the_wrong_shape_get_errors_with_their_id_and_nothing_is_delivered()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        await using var a = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "shaper-a"));
        await using var b = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "shaper-b"));

        var bad = new Dictionary<string, string>
        {
            ["no-payload"] = """{"type":"agent_message","id":"no-payload"}""",
            ["null-payload"] = """{"type":"agent_message","id":"null-payload","payload":null}""",
            ["array-payload"] = """{"type":"agent_message","id":"array-payload","payload":["shaper-b"]}""",
            ["number-target"] = """{"type":"agent_message","id":"number-target","payload":{"to_agent":5,"message_type":"x"}}""",
            ["string-flag"] = """{"type":"agent_message","id":"string-flag","payload":{"to_agent":"shaper-b","message_type":"x","requires_response":"yes"}}""",
            ["object-type"] = """{"type":"agent_message","id":"object-type","payload":{"to_agent":"shaper-b","message_type":{}}}""",
            ["no-type"] = """{"type":"agent_message","id":"no-type","payload":{"to_agent":"shaper-b","content":1}}""",
            ["lone-surrogate"] = """{"type":"agent_message","id":"lone-surrogate","payload":{"to_agent":"shaper-\udc00b","message_type":"x"}}""",
            // Copied byte for byte, this content would reach the target (or a hosted agent) and throw when read there.
            ["lone-surrogate-content"] = """{"type":"agent_message","id":"lone-surrogate-content","payload":{"to_agent":"shaper-b","message_type":"x","content":{"t":"\ud800"}}}""",
            ["long-correlation"] = """{"type":"agent_message","id":"long-correlation","payload":{"to_agent":"shaper-b","message_type":"x","correlation_id":"__C__"}}"""
                .Replace("__C__", new string('c', 129), StringComparison.Ordinal),
        };
        foreach (var (id, text) in bad)
        {
            await a.SendRawAsync(text);
            var error = await a.ReceiveAsync("error");
            Assert.Equal(id, error.Id);
            var payload = error.PayloadAs<ErrorPayload>()!;
            Assert.Equal("VALIDATION_ERROR", payload.Code);
            Assert.DoesNotContain("System.", payload.Message, StringComparison.Ordinal);
        }
        // An envelope whose type is not valid UTF-16 is a malformed frame (no id to echo), not a dropped link.
        await a.SendRawAsync("""{"type":"\ud800","id":"x"}""");
        Assert.Equal("VALIDATION_ERROR", (await a.ReceiveAsync("error")).PayloadAs<ErrorPayload>()!.Code);

        // A good one, its content as sent (spacing, escapes, non-ASCII text): it is the first agent_message the target gets.
        await a.SendRawAsync("""{"type":"agent_message","id":"good","payload":{ "to_agent" : "shaper-b", "message_type":"x", "content" : { "t" : "caf\u00e9 \"q\" ✓", "n" : [1, 2.5e1] } }}""");
        Assert.Equal("good", (await a.ReceiveAsync("ack")).Id);
        var delivered = (await b.ReceiveAsync("agent_message")).PayloadAs<AgentMessageDelivery>()!;
        Assert.Equal("shaper-a", delivered.FromAgent);
        Assert.Equal("café \"q\" ✓", delivered.Content.GetProperty("t").GetString());
        Assert.Equal(25, delivered.Content.GetProperty("n")[1].GetDouble());
    }

    [Fact]
    public async Task A_frame_over_the_limit_closes_with_1009()
    {
        await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string> { ["Kai:Links:MaxFrameBytes"] = "4096" });
        var user = await hub.NewUserAsync();
        await using var a = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "big-talker"));
        await a.SendAsync("log", new { level = "info", message = new string('x', 5000) });
        Assert.Equal(CloseCodes.MessageTooBig, await a.ReceiveCloseAsync());
    }

    [Fact]
    public async Task The_owner_observes_status_logs_commands_and_results()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        var agent = await hub.NewAgentAsync(user.AccessToken, "watched");
        await using var observer = await hub.ConnectAsync("ws/agents/watched", user.AccessToken);
        var welcome = await observer.ReceiveAsync();
        Assert.Equal("observer", welcome.PayloadAs<WelcomePayload>()!.Role);

        var link = await hub.ConnectAgentAsync(agent);
        var online = (await observer.ReceiveAsync("status_update")).PayloadAs<StatusUpdatePayload>()!;
        Assert.Equal(("active", "offline", "connected"), (online.Status, online.PreviousStatus, online.Reason));

        await link.SendAsync("log", new { level = "warn", message = "disk almost full", component = "fs" });
        var log = (await observer.ReceiveAsync("log")).PayloadAs<LogPayload>()!;
        Assert.Equal(("warn", "disk almost full", "watched"), (log.Level, log.Message, log.AgentId));

        await observer.SendAsync("command", new { command = "ping", parameters = new { n = 7 } }, "cmd-1");
        // The command event is routed to observers while the command is created, so it precedes the ack.
        var commandEvent = (await observer.ReceiveAsync("command")).PayloadAs<CommandPayload>()!;
        var ack = await observer.ReceiveAsync("ack");
        var commandId = ack.Payload.GetProperty("command_id").GetString()!;
        Assert.Equal("executing", ack.Payload.GetProperty("status").GetString());
        Assert.Equal(commandId, commandEvent.CommandId);
        var cmd = (await link.ReceiveAsync("command")).PayloadAs<CommandPayload>()!;
        Assert.Equal(7, cmd.Parameters.GetProperty("n").GetInt32());
        await link.SendAsync("command_result", new { command_id = commandId, status = "completed", result = "pong" }, "r-1");
        Assert.Equal("r-1", (await link.ReceiveAsync("ack")).Id);
        var result = (await observer.ReceiveAsync("command_result")).PayloadAs<CommandResultPayload>()!;
        Assert.Equal(("completed", "pong"), (result.Status, result.Result!.Value.GetString()));

        await link.DisposeAsync();
        var offline = (await observer.ReceiveAsync("status_update")).PayloadAs<StatusUpdatePayload>()!;
        Assert.Equal(("offline", "active"), (offline.Status, offline.PreviousStatus));
        // Observers may not speak for the agent.
        await observer.SendAsync("agent_message", new { to_agent = "watched", message_type = "x", content = 1 }, "no");
        Assert.Equal("UNSUPPORTED_FRAME", (await observer.ReceiveAsync("error")).PayloadAs<ErrorPayload>()!.Code);
    }

    [Fact]
    public async Task A_reader_that_stops_reading_is_closed_as_slow_consumer_and_memory_stays_bounded()
    {
        const int cap = 64 * 1024;
        await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string> { ["Kai:Links:SendQueueBytes"] = cap.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        var user = await hub.NewUserAsync();
        await using var sender = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "firehose"));
        await using var slow = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "sloth"));
        var registry = hub.Service<ConnectionRegistry>();
        var slowLink = registry.AgentLink("sloth")!;

        var blob = new string('z', 16 * 1024);
        long maxQueued = 0;
        var sent = 0;
        // The slow side never reads. Socket buffers absorb some; then the hub's queue fills and the cap trips.
        while (!slowLink.IsClosing && sent < 20_000)
        {
            await sender.SendAsync("agent_message", new { to_agent = "sloth", message_type = "flood", content = blob });
            sent++;
            maxQueued = Math.Max(maxQueued, slowLink.QueuedBytes);
        }
        Assert.True(slowLink.IsClosing, $"still open after {sent} messages");
        Assert.Equal(CloseCodes.SlowConsumer, slowLink.CloseCode);
        Assert.True(maxQueued <= cap, $"queued {maxQueued} bytes, cap {cap}");
        // The sender is unaffected: its own link still answers.
        await sender.SendAsync("heartbeat", new { }, "still-here");
        Assert.Equal("still-here", (await sender.ReceiveAsync("ack")).Id);
    }

    [Fact]
    public async Task A_silent_agent_link_is_closed_with_4005_after_three_intervals_and_goes_offline()
    {
        var clock = TestClock.Create();
        await using var hub = await TestHub.StartAsync(clock);
        var user = await hub.NewUserAsync();
        await using var link = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "quiet"));
        var sweeper = hub.Service<Kai.Hub.Housekeeping.HubSweeper>();

        clock.Advance(TimeSpan.FromSeconds(60));
        await link.SendAsync("heartbeat", new { }, "hb");
        await link.ReceiveAsync("ack");
        clock.Advance(TimeSpan.FromSeconds(60));
        await sweeper.SweepOnceAsync(CancellationToken.None);
        Assert.Equal("active", (await hub.Client(user.AccessToken).GetFromJsonAsync<JsonElement>("api/v1/agents/quiet", KaiJson.Options)).GetProperty("status").GetString());

        clock.Advance(TimeSpan.FromSeconds(31));
        await sweeper.SweepOnceAsync(CancellationToken.None);
        Assert.Equal(CloseCodes.HeartbeatTimeout, await link.ReceiveCloseAsync());
        await WaitForStatusAsync(hub, user.AccessToken, "quiet", "offline");
    }

    [Fact]
    public async Task Links_whose_token_expires_are_closed_with_4002()
    {
        var clock = TestClock.Create();
        await using var hub = await TestHub.StartAsync(clock);
        var user = await hub.NewUserAsync();
        await using var observer = await hub.ConnectAsync("ws/agents/" + (await hub.NewAgentAsync(user.AccessToken, "exp")).AgentId, user.AccessToken);
        await observer.ReceiveAsync("welcome");
        await using var events = await hub.ConnectAsync("ws", user.AccessToken);
        await events.ReceiveAsync("welcome");
        clock.Advance(TimeSpan.FromMinutes(15) + TimeSpan.FromSeconds(31));
        await hub.Service<Kai.Hub.Housekeeping.HubSweeper>().SweepOnceAsync(CancellationToken.None);
        Assert.Equal(CloseCodes.SessionExpired, await observer.ReceiveCloseAsync());
        Assert.Equal(CloseCodes.SessionExpired, await events.ReceiveCloseAsync());
    }

    [Fact]
    public async Task A_second_link_for_the_same_agent_replaces_the_first_with_4006()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        var agent = await hub.NewAgentAsync(user.AccessToken, "twin");
        await using var first = await hub.ConnectAgentAsync(agent);
        await using var second = await hub.ConnectAgentAsync(agent);
        Assert.Equal(CloseCodes.Replaced, await first.ReceiveCloseAsync());
        await second.SendAsync("heartbeat", new { }, "alive");
        Assert.Equal("alive", (await second.ReceiveAsync("ack")).Id);
        // The replaced link's close must not mark the agent offline.
        Assert.Equal("active", (await hub.Client(user.AccessToken).GetFromJsonAsync<JsonElement>("api/v1/agents/twin", KaiJson.Options)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Shutdown_closes_every_link_with_1001()
    {
        var hub = await TestHub.StartAsync();
        try
        {
            var user = await hub.NewUserAsync();
            await using var agent = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "leaving"));
            await using var observer = await hub.ConnectAsync("ws/agents/leaving", user.AccessToken);
            await observer.ReceiveAsync("welcome");
            await using var events = await hub.ConnectAsync("ws", user.AccessToken);
            await events.ReceiveAsync("welcome");
            var stopping = hub.App.StopAsync();
            Assert.Equal(CloseCodes.GoingAway, await agent.ReceiveCloseAsync());
            Assert.Equal(CloseCodes.GoingAway, await observer.ReceiveCloseAsync());
            Assert.Equal(CloseCodes.GoingAway, await events.ReceiveCloseAsync());
            await stopping.WaitAsync(TimeSpan.FromSeconds(10));
        }
        finally
        {
            await hub.DisposeAsync();
        }
    }

    internal static async Task WaitForStatusAsync(TestHub hub, string token, string agentId, string status)
    {
        using var client = hub.Client(token);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        string? last = null;
        while (DateTime.UtcNow < deadline)
        {
            last = (await client.GetFromJsonAsync<JsonElement>($"api/v1/agents/{agentId}", KaiJson.Options)).GetProperty("status").GetString();
            if (last == status)
            {
                return;
            }
            await Task.Delay(20);
        }
        Assert.Fail($"agent {agentId} stayed {last}, expected {status}");
    }
}
