using System.Text.Json;
using Kai.Hub.Tests.Events;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Testing;

namespace Kai.Hub.Tests.Chat;

/// <summary>The chat WebSocket /api/chat/ws/{session_id}: close codes, keep-alive, timeouts, error frames, the message budget, a registry participant.</summary>
public sealed class ChatSocketTests
{
    private static string Type(JsonElement m) => m.GetProperty("type").GetString()!;

    private static string Code(JsonElement m) => m.GetProperty("metadata").GetProperty("code").GetString()!;

    /// <summary>Connects and reads what every link gets first: a ping, then the system frame naming the session.</summary>
    private static async Task<ChatSocket> OpenAsync(TestHub hub, string sid, string token)
    {
        var socket = await ChatKit.ConnectAsync(hub, sid, token);
        var ping = await socket.ReceiveAsync();
        Assert.Equal("ping", Type(ping));
        Assert.True(ping.TryGetProperty("timestamp", out _));
        var system = await socket.ReceiveAsync();
        Assert.Equal("system", Type(system));
        Assert.Equal(sid, system.GetProperty("metadata").GetProperty("session_id").GetString());
        return socket;
    }

    [Fact]
    public async Task Chat_link_refuses_bad_tokens_and_foreign_unknown_malformed_or_ended_sessions_with_the_seed_close_codes()
    {
        await using var hub = await TestHub.StartAsync(settings: ChatKit.Settings());
        var owner = await ChatKit.LoginAsync(hub);
        var other = await ChatKit.LoginAsync(hub);
        var sid = (await ChatKit.CreateSessionAsync(hub, owner, ChatKit.HumanAgent())).GetProperty("session_id").GetString()!;
        var ended = (await ChatKit.CreateSessionAsync(hub, owner, ChatKit.HumanAgent())).GetProperty("session_id").GetString()!;
        await ChatKit.CallAsync(hub, owner, HttpMethod.Delete, $"api/chat/sessions/{ended}");

        foreach (var (session, token, code) in new[]
        {
            (sid, "not-a-token", CloseCodes.AuthenticationFailed),
            (sid, other, CloseCodes.AuthenticationFailed),
            ("session_20260101000000_deadbeef", owner, CloseCodes.AuthenticationFailed),
            ("not-a-session", owner, CloseCodes.InvalidSession),
            (ended, owner, CloseCodes.SessionExpired),
        })
        {
            await using var socket = await ChatKit.ConnectAsync(hub, session, token);
            Assert.Equal(code, await socket.ReceiveCloseAsync());
        }
        // The owner still gets in, and nothing was said.
        await using var ok = await OpenAsync(hub, sid, owner);
        Assert.Equal(0, ChatKit.Count(hub, "chat_messages"));
    }

    [Fact]
    public async Task Pings_come_on_accept_and_every_interval_client_pings_keep_the_link_and_silence_closes_it_with_4002()
    {
        var clock = TestClock.Create();
        await using var hub = await TestHub.StartAsync(clock, settings: ChatKit.Settings());
        var token = await ChatKit.LoginAsync(hub);
        var sid = (await ChatKit.CreateSessionAsync(hub, token, ChatKit.HumanAgent())).GetProperty("session_id").GetString()!;
        await using var socket = await OpenAsync(hub, sid, token);

        clock.Advance(TimeSpan.FromSeconds(20));
        // A client ping is taken silently; a bad frame after it proves both were read (its error is the next message).
        await socket.SendAsync("ping", "");
        await socket.SendRawAsync("{");
        Assert.Equal("error", Type(await socket.ReceiveAsync()));

        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal("ping", Type(await socket.ReceiveAsync()));

        // 30 s + 5 s grace after the last client frame (at +20 s): not yet at +50 s, closed at +55 s.
        clock.Advance(TimeSpan.FromSeconds(20));
        await socket.SendRawAsync("[]");
        Assert.Equal("error", Type(await socket.ReceiveAsync()));
        clock.Advance(TimeSpan.FromSeconds(36));
        var before = new List<JsonElement>();
        Assert.Equal(CloseCodes.SessionExpired, await socket.ReceiveCloseAsync(before));
        var system = before.Single(m => Type(m) == "system");
        Assert.Equal("inactivity_timeout", system.GetProperty("metadata").GetProperty("reason").GetString());
    }

    [Fact]
    public async Task The_session_timeout_closes_its_links_with_4002_and_ends_the_session()
    {
        var clock = TestClock.Create();
        await using var hub = await TestHub.StartAsync(clock, settings: ChatKit.Settings(extra: new Dictionary<string, string>
        {
            ["Kai:Chat:SessionTimeout"] = "00:01:00",
            ["Kai:Chat:InactivityTimeout"] = "01:00:00",
            ["Kai:Chat:PingInterval"] = "00:10:00",
        }));
        var token = await ChatKit.LoginAsync(hub);
        var sid = (await ChatKit.CreateSessionAsync(hub, token, ChatKit.HumanAgent())).GetProperty("session_id").GetString()!;
        await using var socket = await OpenAsync(hub, sid, token);
        clock.Advance(TimeSpan.FromSeconds(61));
        var before = new List<JsonElement>();
        Assert.Equal(CloseCodes.SessionExpired, await socket.ReceiveCloseAsync(before));
        Assert.Contains(before, m => Type(m) == "system" && m.GetProperty("metadata").GetProperty("reason").GetString() == "session_timeout");
        var (_, session) = await ChatKit.CallAsync(hub, token, HttpMethod.Get, $"api/chat/sessions/{sid}");
        Assert.Equal("ended", session.GetProperty("status").GetString());
        await using var again = await ChatKit.ConnectAsync(hub, sid, token);
        Assert.Equal(CloseCodes.SessionExpired, await again.ReceiveCloseAsync());
    }

    [Fact]
    public async Task Malformed_oversized_and_unknown_frames_get_error_frames_with_a_code_and_the_link_stays_open()
    {
        await using var hub = await TestHub.StartAsync(settings: ChatKit.Settings(extra: new Dictionary<string, string> { ["Kai:Chat:MaxMessageBytes"] = "1024" }));
        var token = await ChatKit.LoginAsync(hub);
        var sid = (await ChatKit.CreateSessionAsync(hub, token, ChatKit.HumanAgent())).GetProperty("session_id").GetString()!;
        await using var socket = await OpenAsync(hub, sid, token);
        foreach (var (frame, code) in new[]
        {
            ("not json at all", ErrorCodes.ValidationError),
            ("{\"content\":\"no type\"}", ErrorCodes.ValidationError),
            ("\"just a string\"", ErrorCodes.ValidationError),
            (JsonSerializer.Serialize(new { type = "text", content = new string('x', 2000) }), ErrorCodes.PayloadTooLarge),
            (JsonSerializer.Serialize(new { type = "response", content = "I am the assistant" }), ErrorCodes.ValidationError),
            (JsonSerializer.Serialize(new { type = "text", content = "" }), ErrorCodes.ValidationError),
            // Lone surrogate escapes parse as JSON and used to throw from GetString in the handler (an unhandled exception, the link gone).
            ("""{"type":"text","content":"hi \ud800"}""", ErrorCodes.ValidationError),
            ("""{"type":"\udc00"}""", ErrorCodes.ValidationError),
            ("""{"type":"text","content":"hi","structured_data":{"\ud800":1}}""", ErrorCodes.ValidationError),
            (JsonSerializer.Serialize(new { type = "text", content = 42 }), ErrorCodes.ValidationError),
        })
        {
            await socket.SendRawAsync(frame);
            var error = await socket.ReceiveAsync();
            Assert.True(Type(error) == "error", error.GetRawText());
            Assert.Equal(code, Code(error));
            Assert.False(string.IsNullOrEmpty(error.GetProperty("content").GetString()));
            Assert.True(error.GetProperty("metadata").TryGetProperty("details", out _));
        }
        Assert.Equal(0, ChatKit.Count(hub, "chat_messages"));
    }

    [Fact]
    public async Task A_message_flood_closes_the_link_with_4004_after_an_error_frame()
    {
        await using var hub = await TestHub.StartAsync(settings: ChatKit.Settings(extra: new Dictionary<string, string> { ["Kai:Chat:MessagesPerMinute"] = "5" }));
        var token = await ChatKit.LoginAsync(hub);
        var sid = (await ChatKit.CreateSessionAsync(hub, token, ChatKit.HumanAgent())).GetProperty("session_id").GetString()!;
        await using var socket = await OpenAsync(hub, sid, token);
        for (var i = 0; i < 6; i++)
        {
            await socket.SendAsync("ping", "");
        }
        var before = new List<JsonElement>();
        Assert.Equal(CloseCodes.RateLimited, await socket.ReceiveCloseAsync(before));
        Assert.Equal(ErrorCodes.RateLimitExceeded, Code(before.Single(m => Type(m) == "error")));
    }

    [Fact]
    public async Task A_registry_agent_takes_part_its_answer_reaches_the_client_as_the_assistant_and_the_owner_sees_it_on_ws()
    {
        await using var hub = await TestHub.StartAsync(settings: ChatKit.Settings());
        var token = await ChatKit.LoginAsync(hub);
        var agent = await hub.NewAgentAsync(token, "external-bot", "worker", "conversation");
        await using var agentLink = await hub.ConnectAgentAsync(agent);
        var (events, _) = await hub.EventsAsync(token);
        await using var _events = events;
        await events.SubscribeAsync(new { events = new[] { "chat.>" } });

        var created = await ChatKit.CreateSessionAsync(hub, token, new
        {
            session_type = "human_agent",
            agents = new Dictionary<string, object> { ["ai_agent"] = new { provider = "kai", agent_id = "external-bot" } },
        });
        var sid = created.GetProperty("session_id").GetString()!;
        Assert.Equal("external-bot", created.GetProperty("agents").GetProperty("ai_agent").GetProperty("agent_id").GetString());
        Assert.Equal("chat.session.created", (await events.NextEventAsync()).EventType);

        await using var socket = await OpenAsync(hub, sid, token);
        await socket.SendAsync("text", "hello bot");
        var asked = (await agentLink.ReceiveAsync("agent_message")).Payload;
        Assert.Equal("human_" + sid, asked.GetProperty("from_agent").GetString());
        Assert.True(asked.GetProperty("requires_response").GetBoolean());
        Assert.Equal("hello bot", asked.GetProperty("content").GetProperty("prompt").GetString());

        await agentLink.SendAsync("agent_message", new
        {
            to_agent = "human_" + sid, message_type = "chat.message", content = new { text = "hi human", structured_data = new { mood = "good" } },
            correlation_id = asked.GetProperty("correlation_id").GetString(),
        }, "a-1");
        var skipped = new List<JsonElement>();
        var answer = await socket.ReceiveAsync("text", skipped);
        // No echo of the user's own message.
        Assert.DoesNotContain(skipped, m => m.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String && c.GetString() == "hello bot");
        Assert.Equal("hi human", answer.GetProperty("content").GetString());
        Assert.Equal("external-bot", answer.GetProperty("sender").GetString());
        Assert.Equal("human_" + sid, answer.GetProperty("receiver").GetString());
        Assert.Equal("assistant", answer.GetProperty("metadata").GetProperty("role").GetString());
        Assert.Equal("kai", answer.GetProperty("metadata").GetProperty("provider").GetString());
        Assert.Equal("good", answer.GetProperty("metadata").GetProperty("structured_data").GetProperty("mood").GetString());

        var messages = new List<EventMessage>();
        while (messages.Count < 2)
        {
            messages.Add(await events.NextEventAsync());
        }
        Assert.All(messages, m => Assert.Equal("chat.message", m.EventType));
        Assert.Equal(["human_" + sid, "external-bot"], messages.Select(m => m.Payload.GetProperty("sender").GetString()!).ToArray());

        var (_, full) = await ChatKit.CallAsync(hub, token, HttpMethod.Get, $"api/chat/sessions/{sid}?include_messages=true");
        Assert.Equal(["hello bot", "hi human"], full.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("content").GetString()!).ToArray());
        var (_, page) = await ChatKit.CallAsync(hub, token, HttpMethod.Get, $"api/v1/chat/sessions/{sid}/messages?limit=1");
        Assert.True(page.GetProperty("has_more").GetBoolean());
        var (_, rest) = await ChatKit.CallAsync(hub, token, HttpMethod.Get, $"api/v1/chat/sessions/{sid}/messages?limit=1&after={page.GetProperty("next_cursor").GetInt64()}");
        Assert.Equal("hi human", rest.GetProperty("messages")[0].GetProperty("content").GetString());
        Assert.False(rest.GetProperty("has_more").GetBoolean());

        var (_, status) = await ChatKit.CallAsync(hub, token, HttpMethod.Get, "api/agents/status/external-bot");
        Assert.Equal(1, status.GetProperty("message_count").GetInt32());

        await ChatKit.CallAsync(hub, token, HttpMethod.Delete, $"api/chat/sessions/{sid}");
        Assert.Equal(CloseCodes.Normal, await socket.ReceiveCloseAsync());
        Assert.Equal("chat.session.ended", (await events.NextEventAsync()).EventType);
    }

    [Fact]
    public async Task Another_tenant_cannot_open_or_write_into_a_session_or_reach_its_participants()
    {
        await using var hub = await TestHub.StartAsync(settings: ChatKit.Settings());
        var owner = await ChatKit.LoginAsync(hub);
        var other = await ChatKit.LoginAsync(hub);
        var sid = (await ChatKit.CreateSessionAsync(hub, owner, ChatKit.HumanAgent())).GetProperty("session_id").GetString()!;
        var intruder = await hub.NewAgentAsync(other, "intruder", "worker");
        await using var link = await hub.ConnectAgentAsync(intruder);
        foreach (var target in new[] { "human_" + sid, "ai1_" + sid })
        {
            await link.SendAsync("agent_message", new { to_agent = target, message_type = "chat.message", content = "spoof" }, "x-" + target);
            var error = await link.ReceiveAsync("error");
            Assert.Equal(ErrorCodes.AgentNotFound, error.Payload.GetProperty("code").GetString());
        }
        Assert.Equal(0, ChatKit.Count(hub, "chat_messages"));
    }
}
