using Microsoft.Extensions.Time.Testing;
using System.Net;
using System.Net.Http.Json;
using Kai.Hub.Housekeeping;
using Kai.Hub.Observability;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Protocol.Frames;
using Kai.Testing;

namespace Kai.Hub.Tests.Streams;

public sealed class PromptStreamTests
{
    private static async Task<StreamPromptResponse> StartAsync(TestHub hub, string token, string agentId, string? streamId = null)
    {
        using var client = hub.Client(token);
        var res = await client.PostAsJsonAsync($"api/v1/agents/{agentId}/stream-prompt", new { prompt = "Tell me a story", stream_id = streamId, context = new { lang = "en" } }, KaiJson.Options);
        Assert.True(res.IsSuccessStatusCode, await res.Content.ReadAsStringAsync());
        return (await res.Content.ReadFromJsonAsync<StreamPromptResponse>(KaiJson.Options))!;
    }

    private static Task Chunk(TestSocket agent, string streamId, int index, bool final = false) =>
        agent.SendAsync("stream_chunk", new { stream_id = streamId, chunk = $"c{index}", chunk_index = index, is_final = final }, $"k-{index}");

    private static async Task<StreamChunkPayload> NextChunkAsync(TestSocket observer) =>
        (await observer.ReceiveAsync("stream_chunk")).PayloadAs<StreamChunkPayload>()!;

    private static async Task<TestSocket> ObserverAsync(TestHub hub, string url, string token)
    {
        var socket = await hub.ConnectAsync(new Uri(url).PathAndQuery.TrimStart('/').Split('?')[0] + new Uri(url).Query.Replace("?", "?token=" + Uri.EscapeDataString(token) + "&", StringComparison.Ordinal), null);
        Assert.Equal("welcome", (await socket.ReceiveAsync()).Type);
        return socket;
    }

    [Fact]
    public async Task Chunks_reach_observers_in_order_and_the_stream_completes()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        var agentInfo = await hub.NewAgentAsync(user.AccessToken, "streamer");
        await using var agent = await hub.ConnectAgentAsync(agentInfo);

        var started = await StartAsync(hub, user.AccessToken, "streamer");
        Assert.StartsWith("str_", started.StreamId, StringComparison.Ordinal);
        Assert.Equal(4, started.EstimatedTokens);
        Assert.Contains($"/ws/agents/streamer?stream_id={started.StreamId}", started.WebsocketUrl, StringComparison.Ordinal);
        var prompt = (await agent.ReceiveAsync("stream_prompt")).PayloadAs<StreamPromptPayload>()!;
        Assert.Equal(started.StreamId, prompt.StreamId);
        Assert.Equal("en", prompt.Context!.Value.GetProperty("lang").GetString());

        // Two chunks before the observer connects: it still gets them all, from 0, via websocket_url.
        await Chunk(agent, started.StreamId, 0);
        await agent.ReceiveAsync("ack");
        await Chunk(agent, started.StreamId, 1);
        await agent.ReceiveAsync("ack");
        await using var observer = await ObserverAsync(hub, started.WebsocketUrl, user.AccessToken);
        for (var i = 2; i < 5; i++)
        {
            await Chunk(agent, started.StreamId, i, final: i == 4);
            await agent.ReceiveAsync("ack");
        }
        for (var i = 0; i < 5; i++)
        {
            var chunk = await NextChunkAsync(observer);
            Assert.Equal(i, chunk.ChunkIndex);
            Assert.Equal($"c{i}", chunk.Chunk);
            Assert.Equal("streamer", chunk.AgentId);
            Assert.Equal(i == 4, chunk.IsFinal);
        }

        // Out of order, duplicates, unknown streams, after completion: clear answers.
        await Chunk(agent, started.StreamId, 2);
        Assert.True((await agent.ReceiveAsync("ack")).Payload.GetProperty("duplicate").GetBoolean());
        await Chunk(agent, started.StreamId, 9);
        Assert.Equal("CONFLICT", (await agent.ReceiveAsync("error")).PayloadAs<ErrorPayload>()!.Code);
        await Chunk(agent, "no-such-stream", 0);
        var unknown = (await agent.ReceiveAsync("error")).PayloadAs<ErrorPayload>()!;
        Assert.Equal("NOT_FOUND", unknown.Code);
        Assert.Contains("no-such-stream", unknown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pause_buffers_resume_flushes_in_order_and_cancel_stops_everything()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        await using var agent = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "pausable"));
        await using var observer = await hub.ConnectAsync("ws/agents/pausable", user.AccessToken);
        Assert.Equal("welcome", (await observer.ReceiveAsync()).Type);
        var s = (await StartAsync(hub, user.AccessToken, "pausable", "story-1")).StreamId;
        Assert.Equal("story-1", s);

        await Chunk(agent, s, 0);
        Assert.Equal(0, (await NextChunkAsync(observer)).ChunkIndex);
        await observer.SendAsync("stream_control", new { stream_id = s, action = "pause" }, "c-1");
        Assert.Equal("pause", (await observer.ReceiveAsync("stream_control")).PayloadAs<StreamControlPayload>()!.Action);
        Assert.Equal("paused", (await observer.ReceiveAsync("ack")).Payload.GetProperty("state").GetString());
        var forwarded = (await agent.ReceiveAsync("stream_control")).PayloadAs<StreamControlPayload>()!;
        Assert.Equal(("pause", s), (forwarded.Action, forwarded.StreamId));

        // Chunks in flight during the pause are buffered, not delivered.
        await Chunk(agent, s, 1);
        Assert.Equal("paused", (await agent.ReceiveAsync("ack")).Payload.GetProperty("state").GetString());
        await Chunk(agent, s, 2);
        await agent.ReceiveAsync("ack");
        await observer.SendAsync("stream_control", new { stream_id = s, action = "resume" }, "c-2");
        Assert.Equal("resume", (await observer.ReceiveAsync()).PayloadAs<StreamControlPayload>()!.Action);
        Assert.Equal(1, (await observer.ReceiveAsync()).PayloadAs<StreamChunkPayload>()!.ChunkIndex);
        Assert.Equal(2, (await observer.ReceiveAsync()).PayloadAs<StreamChunkPayload>()!.ChunkIndex);
        Assert.Equal("c-2", (await observer.ReceiveAsync("ack")).Id);
        Assert.Equal("resume", (await agent.ReceiveAsync("stream_control")).PayloadAs<StreamControlPayload>()!.Action);

        await observer.SendAsync("stream_control", new { stream_id = s, action = "cancel" }, "c-3");
        Assert.Equal("cancel", (await observer.ReceiveAsync("stream_control")).PayloadAs<StreamControlPayload>()!.Action);
        Assert.Equal("cancelled", (await observer.ReceiveAsync("ack")).Payload.GetProperty("state").GetString());
        Assert.Equal("cancel", (await agent.ReceiveAsync("stream_control")).PayloadAs<StreamControlPayload>()!.Action);
        await Chunk(agent, s, 3);
        Assert.Equal("CONFLICT", (await agent.ReceiveAsync("error")).PayloadAs<ErrorPayload>()!.Code);
        // Nothing more reaches the observer: the next thing it sees is the answer to its own frame.
        await observer.SendAsync("heartbeat", new { }, "hb");
        Assert.Equal(("ack", "hb"), ((await observer.ReceiveAsync()).Type, "hb"));

        Assert.Equal("VALIDATION_ERROR", (await ErrorOf(observer, "stream_control", new { stream_id = s, action = "rewind" })).Code);
        Assert.Equal("NOT_FOUND", (await ErrorOf(observer, "stream_control", new { stream_id = "nope", action = "pause" })).Code);
    }

    [Fact]
    public async Task A_full_pause_buffer_cancels_the_stream_and_tells_the_agent_to_stop()
    {
        await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string> { ["Kai:Streams:PauseBufferBytes"] = "1024" });
        var user = await hub.NewUserAsync();
        await using var agent = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "chatty"));
        await using var observer = await hub.ConnectAsync("ws/agents/chatty", user.AccessToken);
        await observer.ReceiveAsync();
        var s = (await StartAsync(hub, user.AccessToken, "chatty")).StreamId;
        await observer.SendAsync("stream_control", new { stream_id = s, action = "pause" }, "p");
        await observer.ReceiveAsync("ack");
        await agent.ReceiveAsync("stream_control");
        var big = new string('x', 600);
        await agent.SendAsync("stream_chunk", new { stream_id = s, chunk = big, chunk_index = 0 }, "k0");
        Assert.Equal("paused", (await agent.ReceiveAsync("ack")).Payload.GetProperty("state").GetString());
        await agent.SendAsync("stream_chunk", new { stream_id = s, chunk = big, chunk_index = 1 }, "k1");
        var stop = (await agent.ReceiveAsync("stream_control")).PayloadAs<StreamControlPayload>()!;
        Assert.Equal(("cancel", "pause_buffer_full"), (stop.Action, stop.Reason));
        Assert.Equal("cancelled", (await agent.ReceiveAsync("ack")).Payload.GetProperty("state").GetString());
        var told = (await observer.ReceiveAsync("stream_control")).PayloadAs<StreamControlPayload>()!;
        Assert.Equal("pause_buffer_full", told.Reason);
    }

    [Fact]
    public async Task An_observer_that_reconnects_resumes_from_a_chunk_index()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        await using var agent = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "resumable"));
        var s = (await StartAsync(hub, user.AccessToken, "resumable")).StreamId;
        var first = await hub.ConnectAsync($"ws/agents/resumable?stream_id={s}&token={Uri.EscapeDataString(user.AccessToken)}", null);
        await first.ReceiveAsync();
        for (var i = 0; i < 3; i++)
        {
            await Chunk(agent, s, i);
            await agent.ReceiveAsync("ack");
            Assert.Equal(i, (await NextChunkAsync(first)).ChunkIndex);
        }
        await first.DisposeAsync();   // the observer drops after chunk 2 ...
        for (var i = 3; i < 5; i++)
        {
            await Chunk(agent, s, i);
            await agent.ReceiveAsync("ack");
        }
        // ... and comes back asking from chunk 3.
        await using var again = await hub.ConnectAsync("ws/agents/resumable", user.AccessToken);
        await again.ReceiveAsync();
        await again.SendAsync("stream_resume", new { stream_id = s, from_chunk_index = 3 }, "r-1");
        var ack = (await again.ReceiveAsync()).PayloadAs<StreamResumeAck>()!;
        Assert.Equal((2, "running"), (ack.Replayed, ack.State));
        Assert.Equal(3, (await again.ReceiveAsync()).PayloadAs<StreamChunkPayload>()!.ChunkIndex);
        Assert.Equal(4, (await again.ReceiveAsync()).PayloadAs<StreamChunkPayload>()!.ChunkIndex);
        await Chunk(agent, s, 5, final: true);
        var last = await NextChunkAsync(again);
        Assert.Equal((5, true), (last.ChunkIndex, last.IsFinal));
        Assert.Equal("NOT_FOUND", (await ErrorOf(again, "stream_resume", new { stream_id = "unknown" })).Code);
    }

    [Fact]
    public async Task Abandoned_streams_are_cancelled_and_forgotten_by_the_sweeper_and_bad_requests_are_refused()
    {
        var clock = TestClock.Create();
        await using var hub = await TestHub.StartAsync(clock, settings: new Dictionary<string, string>
        {
            // The fake clock jumps by minutes: keep the agent's link from timing out meanwhile.
            ["Kai:Links:HeartbeatInterval"] = "00:10:00",
            ["Kai:Links:MaxMissedHeartbeats"] = "10",
        });
        var user = await hub.NewUserAsync();
        var stranger = await hub.NewUserAsync();
        await hub.NewAgentAsync(user.AccessToken, "offline-bot");
        await using var agent = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "quiet"));
        var s = (await StartAsync(hub, user.AccessToken, "quiet", "abandon-me")).StreamId;
        await agent.ReceiveAsync("stream_prompt");

        clock.Advance(TimeSpan.FromMinutes(6));
        await hub.Service<HubSweeper>().SweepOnceAsync(CancellationToken.None);
        var stop = (await agent.ReceiveAsync("stream_control")).PayloadAs<StreamControlPayload>()!;
        Assert.Equal(("cancel", "abandoned"), (stop.Action, stop.Reason));
        clock.Advance(TimeSpan.FromMinutes(3));
        await hub.Service<HubSweeper>().SweepOnceAsync(CancellationToken.None);
        await Chunk(agent, s, 0);
        Assert.Equal("NOT_FOUND", (await agent.ReceiveAsync("error")).PayloadAs<ErrorPayload>()!.Code);

        using var client = hub.Client(user.AccessToken);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.PostAsJsonAsync("api/v1/agents/offline-bot/stream-prompt", new { prompt = "hi" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsJsonAsync("api/v1/agents/quiet/stream-prompt", new { prompt = "" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsJsonAsync("api/v1/agents/quiet/stream-prompt", new { prompt = "x", stream_id = "bad id!" })).StatusCode);
        await StartAsync(hub, user.AccessToken, "quiet", "dup");
        Assert.Equal(HttpStatusCode.Conflict, (await client.PostAsJsonAsync("api/v1/agents/quiet/stream-prompt", new { prompt = "x", stream_id = "dup" })).StatusCode);
        using var other = hub.Client(stranger.AccessToken);
        Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsJsonAsync("api/v1/agents/quiet/stream-prompt", new { prompt = "hi" })).StatusCode);
    }

    private static async Task<ErrorPayload> ErrorOf(TestSocket socket, string type, object payload)
    {
        await socket.SendAsync(type, payload, "e-" + type);
        return (await socket.ReceiveAsync("error")).PayloadAs<ErrorPayload>()!;
    }
}
