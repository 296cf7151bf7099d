using System.Net;
using System.Net.Http.Json;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Testing;

namespace Kai.Hub.Tests.Events;

public sealed class EventFallbackTests
{
    [Fact]
    public async Task Sse_streams_matching_events_and_resumes_after_Last_Event_ID()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        var filters = Uri.EscapeDataString("""{"level":["high"]}""");
        using (var sse = await SseReader.OpenAsync(hub, user.AccessToken, $"topics=custom.sse.*&filters={filters}"))
        {
            Assert.Equal("text/event-stream", sse.Response.Content.Headers.ContentType!.MediaType);
            await hub.PublishRestAsync(user.AccessToken, "custom.sse.a", new { level = "low" });
            await hub.PublishRestAsync(user.AccessToken, "custom.other", new { level = "high" });
            await hub.PublishRestAsync(user.AccessToken, "custom.sse.b", new { level = "high" });
            var e = await sse.NextAsync();
            Assert.Equal("event", e.Event);
            Assert.Equal("custom.sse.b", e.Data.GetProperty("topic").GetString());
            Assert.Equal(e.Id, e.Data.GetProperty("id").GetString());

            var missed = await (await hub.PublishRestAsync(user.AccessToken, "custom.sse.c", new { level = "high" })).Content.ReadFromJsonAsync<PublishAck>(KaiJson.Options);
            // Reconnect after the first event: the second is replayed.
            using var resumed = await SseReader.OpenAsync(hub, user.AccessToken, $"topics=custom.sse.*&filters={filters}", lastEventId: e.Id);
            var replayed = await resumed.NextAsync();
            Assert.Equal(missed!.Id, replayed.Id);
        }

        using var badPattern = await SseReader.OpenAsync(hub, user.AccessToken, "topics=a..b");
        Assert.Equal(HttpStatusCode.BadRequest, badPattern.Response.StatusCode);
        using var noToken = await hub.Http.GetAsync("api/v1/events/stream?topics=a");
        Assert.Equal(HttpStatusCode.Unauthorized, noToken.StatusCode);
    }

    [Fact]
    public async Task Sse_sends_a_gap_event_when_the_position_is_from_another_epoch()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        await hub.PublishRestAsync(user.AccessToken, "custom.kept", new { n = 1 });
        using var sse = await SseReader.OpenAsync(hub, user.AccessToken, "topics=custom.>", lastEventId: "abcdefabcdef-7");
        var gap = await sse.NextAsync();
        Assert.Equal("gap", gap.Event);
        Assert.Equal("epoch_changed", gap.Data.GetProperty("reason").GetString());
        Assert.Equal("custom.kept", (await sse.NextAsync()).Data.GetProperty("topic").GetString());
    }

    [Fact]
    public async Task Long_polling_returns_events_and_a_cursor_waits_for_the_next_one_and_flags_gaps()
    {
        await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string> { ["Kai:Events:HistorySize"] = "1" });
        var user = await hub.NewUserAsync();
        using var client = hub.Client(user.AccessToken);

        var empty = (await client.GetFromJsonAsync<EventPollResponse>("api/v1/events?topics=custom.poll.*&wait=0", KaiJson.Options))!;
        Assert.Empty(empty.Events);
        Assert.False(empty.Gap);

        // A poll waits; a publish answers it.
        var waiting = client.GetFromJsonAsync<EventPollResponse>($"api/v1/events?topics=custom.poll.*&since={empty.NextCursor}&wait=30", KaiJson.Options);
        var published = await (await hub.PublishRestAsync(user.AccessToken, "custom.poll.a", new { n = 1 })).Content.ReadFromJsonAsync<PublishAck>(KaiJson.Options);
        var got = (await waiting)!;
        Assert.Equal(published!.Id, Assert.Single(got.Events).Id);
        Assert.Equal(published.Id, got.NextCursor);

        var nothingNew = (await client.GetFromJsonAsync<EventPollResponse>($"api/v1/events?topics=custom.poll.*&since={got.NextCursor}", KaiJson.Options))!;
        Assert.Empty(nothingNew.Events);
        Assert.Equal(got.NextCursor, nothingNew.NextCursor);

        // History of 1: two more events after the cursor, one is lost.
        await hub.PublishRestAsync(user.AccessToken, "custom.poll.a", new { n = 2 });
        await hub.PublishRestAsync(user.AccessToken, "custom.poll.a", new { n = 3 });
        var gapped = (await client.GetFromJsonAsync<EventPollResponse>($"api/v1/events?topics=custom.poll.*&since={got.NextCursor}", KaiJson.Options))!;
        Assert.True(gapped.Gap);
        Assert.Equal("history_trimmed", gapped.GapInfo!.Reason);
        Assert.Equal(3, Assert.Single(gapped.Events).Payload.GetProperty("n").GetInt32());

        var bad = await client.GetAsync("api/v1/events?topics=x&wait=999");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task Another_users_events_are_never_seen_over_websocket_sse_or_polling()
    {
        await using var hub = await TestHub.StartAsync();
        var alice = await hub.NewUserAsync();
        var bob = await hub.NewUserAsync();
        using var bobClient = hub.Client(bob.AccessToken);
        var start = (await bobClient.GetFromJsonAsync<EventPollResponse>("api/v1/events?topics=>", KaiJson.Options))!.NextCursor;
        var (bobWs, _) = await hub.EventsAsync(bob.AccessToken);
        await using var bw = bobWs;
        await bobWs.SubscribeAsync(new { events = new[] { ">" } });
        using var bobSse = await SseReader.OpenAsync(hub, bob.AccessToken, "topics=>");
        // Bob's agent, to check agent principals too.
        var bobsAgent = await hub.NewAgentAsync(bob.AccessToken, "bobs-agent");
        Assert.Equal("agent.registered", (await bobWs.NextEventAsync()).EventType);
        Assert.Equal("agent.registered", (await bobSse.NextAsync()).Data.GetProperty("event_type").GetString());
        var (agentWs, _) = await hub.EventsAsync(await hub.AgentTokenAsync(bobsAgent));
        await using var aw = agentWs;
        await agentWs.SubscribeAsync(new { events = new[] { ">" } });

        // Alice: an agent registered and connected, and publications in both tenant namespaces.
        var alicesAgent = await hub.NewAgentAsync(alice.AccessToken, "alices-agent");
        await using (var link = await hub.ConnectAgentAsync(alicesAgent))
        {
            await hub.PublishRestAsync(alice.AccessToken, "custom.secret", new { project_id = "p" });
            await hub.PublishRestAsync(await hub.AgentTokenAsync(alicesAgent), "app.secret", new { x = 1 });
        }
        // Alice's own replay sees her events; Bob's with since=0 of this epoch does not.
        var marker = await (await hub.PublishRestAsync(bob.AccessToken, "custom.marker", new { })).Content.ReadFromJsonAsync<PublishAck>(KaiJson.Options);

        Assert.Equal(marker!.Id, (await bobWs.NextEventAsync()).Id);
        Assert.Equal(marker.Id, (await bobSse.NextAsync()).Id);
        Assert.Equal(marker.Id, (await agentWs.NextEventAsync()).Id);
        var polled = (await bobClient.GetFromJsonAsync<EventPollResponse>($"api/v1/events?topics=>&since={start}", KaiJson.Options))!;
        Assert.Equal(["agent.registered", "custom.marker"], polled.Events.Select(e => e.EventType));
        var (bobReplay, _) = await hub.EventsAsync(bob.AccessToken);
        await using var br = bobReplay;
        Assert.Equal(2, (await bobReplay.SubscribeAsync(new { events = new[] { ">" }, since = start })).Replayed);

        using var aliceClient = hub.Client(alice.AccessToken);
        var alices = (await aliceClient.GetFromJsonAsync<EventPollResponse>($"api/v1/events?topics=>&since={start}&limit=100", KaiJson.Options))!;
        Assert.Contains(alices.Events, e => e.Topic == "custom.secret");
        Assert.Contains(alices.Events, e => e.Topic == "app.secret" && e.SourceAgent == "alices-agent");
        Assert.Contains(alices.Events, e => e.Topic == "agent.alices-agent.status_changed");
        Assert.DoesNotContain(alices.Events, e => e.Topic == "custom.marker");
    }
}
