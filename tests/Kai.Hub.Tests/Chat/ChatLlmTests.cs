using System.Text.Json;
using Kai.Hub.Tests.Hosting;
using Kai.Protocol;
using Kai.Testing;

namespace Kai.Hub.Tests.Chat;

/// <summary>Hosted chat participants against the scripted OpenAI-compatible server in its own process (tests/Kai.Hub.Tests/Hosting/scripted-llm.js).</summary>
public sealed class ChatLlmTests
{
    private static string Type(JsonElement m) => m.GetProperty("type").GetString()!;

    [SkippableFact]
    public async Task A_human_chats_with_a_hosted_agent_and_gets_streamed_chunks_then_the_assistants_text_frame()
    {
        await using var llm = await LlmServer.StartScriptedAsync();
        await using var hub = await TestHub.StartAsync(settings: ChatKit.Settings(llm.BaseUrl));
        var token = await ChatKit.LoginAsync(hub);
        var session = await ChatKit.CreateSessionAsync(hub, token, ChatKit.HumanAgent(model: "m2", personality: "a pirate"));
        var sid = session.GetProperty("session_id").GetString()!;
        var aiId = session.GetProperty("agents").GetProperty("ai_agent").GetProperty("agent_id").GetString()!;
        await using var socket = await ChatKit.ConnectAsync(hub, sid, token);
        await socket.ReceiveAsync("system");

        await socket.SendAsync("text", "hello there");
        var before = new List<JsonElement>();
        var answer = await socket.ReceiveAsync("text", before);
        // What the reference hook keeps: a text frame with content, from agents.ai_agent.agent_id.
        Assert.Equal(aiId, answer.GetProperty("sender").GetString());
        Assert.Equal("human_" + sid, answer.GetProperty("receiver").GetString());
        Assert.True(answer.TryGetProperty("timestamp", out _));
        var metadata = answer.GetProperty("metadata");
        Assert.Equal("assistant", metadata.GetProperty("role").GetString());
        Assert.Equal("local", metadata.GetProperty("provider").GetString());
        Assert.Equal("m2", metadata.GetProperty("model").GetString());
        // The chunks came first, as info frames, and add up to the answer; nothing echoed the user.
        var chunks = before.Where(m => Type(m) == "info" && m.GetProperty("metadata").TryGetProperty("stream", out _)).ToList();
        Assert.NotEmpty(chunks);
        Assert.Equal(answer.GetProperty("content").GetString(), string.Concat(chunks.Select(c => c.GetProperty("content").GetString())));
        Assert.DoesNotContain(before, m => Type(m) is "text" or "response");
        // The scripted server echoes what it was sent: the personality as the system prompt, the user's text last, the model.
        var echo = JsonDocument.Parse(answer.GetProperty("content").GetString()!).RootElement;
        Assert.Equal("m2", echo.GetProperty("model").GetString());
        var sent = echo.GetProperty("messages").EnumerateArray().ToList();
        Assert.Contains("a pirate", sent[0].GetProperty("content").GetString(), StringComparison.Ordinal);
        Assert.Equal("hello there", sent[^1].GetProperty("content").GetString());

        // The second turn carries the first as history.
        await socket.SendAsync("text", "and again");
        var second = JsonDocument.Parse((await socket.ReceiveAsync("text")).GetProperty("content").GetString()!).RootElement;
        var roles = second.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("role").GetString()!).ToArray();
        Assert.Equal(["system", "user", "assistant", "user"], roles);

        var (_, full) = await ChatKit.CallAsync(hub, token, HttpMethod.Get, $"api/chat/sessions/{sid}?include_messages=true");
        Assert.Equal(4, full.GetProperty("messages").GetArrayLength());
    }

    [SkippableFact]
    public async Task A_provider_429_sends_a_cooldown_frame_with_cooldown_until_and_the_link_stays_open()
    {
        await using var llm = await LlmServer.StartScriptedAsync();
        await using var hub = await TestHub.StartAsync(settings: ChatKit.Settings(llm.BaseUrl));
        var token = await ChatKit.LoginAsync(hub);
        var sid = (await ChatKit.CreateSessionAsync(hub, token, ChatKit.HumanAgent())).GetProperty("session_id").GetString()!;
        await using var socket = await ChatKit.ConnectAsync(hub, sid, token);
        await socket.ReceiveAsync("system");
        await socket.SendAsync("text", "fail429:5");
        var cooldown = await socket.ReceiveAsync("cooldown");
        Assert.True(cooldown.GetProperty("metadata").GetProperty("cooldown_until").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddSeconds(-5));
        Assert.Equal(ErrorCodes.LlmRateLimited, cooldown.GetProperty("metadata").GetProperty("code").GetString());
        await socket.SendAsync("text", "fine now");
        Assert.Contains("fine now", (await socket.ReceiveAsync("text")).GetProperty("content").GetString(), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Two_hosted_agents_take_turns_until_the_turn_limit_and_a_goal_marker_ends_an_exchange_early()
    {
        await using var llm = await LlmServer.StartScriptedAsync();
        await using var hub = await TestHub.StartAsync(settings: ChatKit.Settings(llm.BaseUrl, new Dictionary<string, string>
        {
            ["Kai:Chat:MaxTurns"] = "3",
            // The scripted server echoes every message it gets, the system prompt too: keep the marker out of it.
            ["Kai:Chat:GoalInstruction"] = "false",
        }));
        var token = await ChatKit.LoginAsync(hub);
        var session = await ChatKit.CreateSessionAsync(hub, token, new
        {
            session_type = "agent_agent",
            agents = new Dictionary<string, object> { ["agent1"] = new { provider = "local" }, ["agent2"] = new { provider = "local", model = "m2" } },
        });
        var sid = session.GetProperty("session_id").GetString()!;
        await using var socket = await ChatKit.ConnectAsync(hub, sid, token);
        await socket.ReceiveAsync("system");
        await socket.SendAsync("text", "talk about tides", "agent_agent");
        var turns = new List<JsonElement>();
        JsonElement end;
        while (true)
        {
            var m = await socket.ReceiveAsync(TimeSpan.FromSeconds(30));
            if (Type(m) == "text")
            {
                turns.Add(m);
            }
            else if (Type(m) == "system")
            {
                end = m;
                break;
            }
        }
        Assert.Equal("turn_limit", end.GetProperty("metadata").GetProperty("reason").GetString());
        Assert.Equal(["ai1_" + sid, "ai2_" + sid, "ai1_" + sid], turns.Select(t => t.GetProperty("sender").GetString()!).ToArray());
        Assert.Equal(["ai2_" + sid, "ai1_" + sid, "ai2_" + sid], turns.Select(t => t.GetProperty("receiver").GetString()!).ToArray());
        Assert.Equal("m2", turns[1].GetProperty("metadata").GetProperty("model").GetString());
        // Each turn was routed to the other agent: agent2's prompt ends with agent1's words.
        var second = JsonDocument.Parse(turns[1].GetProperty("content").GetString()!).RootElement;
        Assert.Equal(turns[0].GetProperty("content").GetString(), second.GetProperty("messages").EnumerateArray().Last().GetProperty("content").GetString());

        // A new topic with the goal marker: the first turn echoes it and the exchange ends there.
        await socket.SendAsync("text", "say GOAL_ACHIEVED when done", "agent_agent");
        var goalTurn = await socket.ReceiveAsync("text", timeout: TimeSpan.FromSeconds(30));
        var goalEnd = await socket.ReceiveAsync("system", timeout: TimeSpan.FromSeconds(30));
        Assert.Equal("ai1_" + sid, goalTurn.GetProperty("sender").GetString());
        Assert.Equal("goal_achieved", goalEnd.GetProperty("metadata").GetProperty("reason").GetString());
    }

    [SkippableFact]
    public async Task A_stop_frame_ends_a_running_exchange()
    {
        await using var llm = await LlmServer.StartScriptedAsync();
        await using var hub = await TestHub.StartAsync(settings: ChatKit.Settings(llm.BaseUrl));
        var token = await ChatKit.LoginAsync(hub);
        var session = await ChatKit.CreateSessionAsync(hub, token, new
        {
            session_type = "agent_agent",
            agents = new Dictionary<string, object> { ["agent1"] = new { provider = "local" }, ["agent2"] = new { provider = "local" } },
        });
        var sid = session.GetProperty("session_id").GetString()!;
        await using var socket = await ChatKit.ConnectAsync(hub, sid, token);
        await socket.ReceiveAsync("system");
        await socket.SendAsync("text", "sleep:20000", "agent_agent");
        await socket.ReceiveAsync("info");
        await socket.SendAsync("stop", "");
        var skipped = new List<JsonElement>();
        var stop = await socket.ReceiveAsync("stop", skipped);
        Assert.Equal("stop", stop.GetProperty("metadata").GetProperty("reason").GetString());
        Assert.DoesNotContain(skipped, m => Type(m) == "text");
        // The link stays usable: a new topic may start.
        await socket.SendAsync("text", "short one", "agent_agent");
        Assert.Equal("ai1_" + sid, (await socket.ReceiveAsync("text", timeout: TimeSpan.FromSeconds(30))).GetProperty("sender").GetString());
    }
}
