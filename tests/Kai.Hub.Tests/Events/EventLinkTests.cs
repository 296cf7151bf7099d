using System.Net;
using Kai.Hub.Auth;
using Kai.Hub.Events;
using Kai.Hub.Routing;
using Kai.Protocol;
using Kai.Testing;

namespace Kai.Hub.Tests.Events;

public sealed class EventLinkTests
{
    [Fact]
    public async Task Wildcard_subscriptions_get_each_matching_event_once_in_the_seed_004_format()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        var (socket, welcome) = await hub.EventsAsync(user.AccessToken);
        await using var _ = socket;
        Assert.Equal("user", welcome.Role);

        var (pub, _) = await hub.EventsAsync(user.AccessToken);
        await using var __ = pub;
        var ack = await socket.SubscribeAsync(new { events = new[] { "custom.*.done", "custom.>" } });
        Assert.Equal(["custom.*.done", "custom.>"], ack.Subscribed);
        Assert.False(ack.Recovered);

        await pub.PublishAsync("app.ignored", new { n = 0 }, "p-0");
        var published = await pub.PublishAsync("custom.build.done", new { n = 1 }, "p-1");
        var e = await socket.NextEventAsync();
        Assert.Equal(published.Id, e.Id);
        Assert.Equal("custom.build.done", e.Topic);
        Assert.Equal("custom.build.done", e.EventType);
        Assert.Equal(1, e.Payload.GetProperty("n").GetInt32());
        await pub.PublishAsync("custom.a.b.c", new { n = 2 }, "p-2");
        Assert.Equal("custom.a.b.c", (await socket.NextEventAsync()).Topic);
        // Matching two patterns still delivers once (the next event is the marker); the tenant never appears on the wire.
        await pub.PublishAsync("custom.end", new { }, "p-m");
        Assert.Equal("custom.end", (await socket.NextEventAsync()).Topic);
        Assert.DoesNotContain(user.UserProfile.UserId, e.Payload.GetRawText() + e.SourceAgent + e.TargetAgent, StringComparison.Ordinal);

        await socket.SendAsync("unsubscribe", new { events = new[] { "custom.>", "custom.*.done" } }, "u-1");
        Assert.Equal("u-1", (await socket.ReceiveAsync("ack")).Id);
        await pub.PublishAsync("custom.build.done", new { n = 3 }, "p-3");
        await Assert.ThrowsAsync<TimeoutException>(() => socket.ReceiveAsync(TimeSpan.FromMilliseconds(300)));
    }

    [Fact]
    public async Task Filters_match_payload_fields_by_equality_and_by_membership()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        var (socket, _) = await hub.EventsAsync(user.AccessToken);
        await using var s = socket;
        var (pub, _) = await hub.EventsAsync(user.AccessToken);
        await using var ps = pub;
        await socket.SubscribeAsync(new
        {
            events = new[] { "custom.task.*" },
            filters = new Dictionary<string, object> { ["priority"] = new[] { "high", "critical" }, ["project_id"] = "proj-456", ["details.n"] = 7 },
        });

        await pub.PublishAsync("custom.task.a", new { priority = "high", project_id = "proj-456", details = new { n = 7 } }, "ok-1");
        Assert.Equal("custom.task.a", (await socket.NextEventAsync()).Topic);
        await pub.PublishAsync("custom.task.b", new { priority = "low", project_id = "proj-456", details = new { n = 7 } }, "no-1");
        await pub.PublishAsync("custom.task.c", new { priority = "critical", project_id = "proj-999", details = new { n = 7 } }, "no-2");
        await pub.PublishAsync("custom.task.d", new { priority = "critical", project_id = "proj-456" }, "no-3");
        await pub.PublishAsync("custom.task.e", "not an object", "no-4");
        await pub.PublishAsync("custom.task.f", new { priority = "critical", project_id = "proj-456", details = new { n = 7.0 } }, "ok-2");
        Assert.Equal("custom.task.f", (await socket.NextEventAsync()).Topic);
        await Assert.ThrowsAsync<TimeoutException>(() => socket.ReceiveAsync(TimeSpan.FromMilliseconds(300)));
    }

    [Fact]
    public async Task Agent_registration_and_status_changes_are_system_events_with_their_topics()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        var (socket, _) = await hub.EventsAsync(user.AccessToken);
        await using var s = socket;
        await socket.SubscribeAsync(new { events = new[] { "agent.*.registered", "agent.*.status_changed" } });

        var agent = await hub.NewAgentAsync(user.AccessToken, "evt.bot");
        var registered = await socket.NextEventAsync();
        Assert.Equal("agent.registered", registered.EventType);
        Assert.Equal("agent.evt~bot.registered", registered.Topic);
        Assert.Equal("evt.bot", registered.SourceAgent);
        Assert.Equal("evt.bot", registered.Payload.GetProperty("agent_id").GetString());

        await using var link = await hub.ConnectAgentAsync(agent);
        var changed = await socket.NextEventAsync();
        Assert.Equal("agent.status_changed", changed.EventType);
        Assert.Equal("agent.evt~bot.status_changed", changed.Topic);
        Assert.Equal("active", changed.Payload.GetProperty("status").GetString());
        Assert.Equal("offline", changed.Payload.GetProperty("previous_status").GetString());
        Assert.Equal("connected", changed.Payload.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Publish_namespaces_depend_on_the_role_and_system_alerts_reach_everyone()
    {
        await using var hub = await TestHub.StartAsync(settings: EventTestKit.AdminSettings());
        var user = await hub.NewUserAsync();
        var admin = await hub.AdminTokenAsync();
        var agent = await hub.NewAgentAsync(user.AccessToken, "pub-agent");
        var (u, _) = await hub.EventsAsync(user.AccessToken);
        await using var us = u;
        var (a, _) = await hub.EventsAsync(await hub.AgentTokenAsync(agent));
        await using var ag = a;
        var (root, _) = await hub.EventsAsync(admin);
        await using var rs = root;
        await u.SubscribeAsync(new { events = new[] { ">" } });

        foreach (var topic in new[] { "agent.x.status_changed", "task.t.completed", "system.alert", "stream.s.chunk", "other.thing" })
        {
            Assert.Equal("FORBIDDEN", (await u.ErrorAsync("publish", new { topic, data = 1 }, "f-" + topic)).Code);
            Assert.Equal("FORBIDDEN", (await a.ErrorAsync("publish", new { topic, data = 1 }, "f-" + topic)).Code);
        }
        Assert.Equal(HttpStatusCode.Forbidden, (await hub.PublishRestAsync(user.AccessToken, "system.alert", new { })).StatusCode);

        // An agent publishes into its owner's tenant: the owner sees it, with the agent as source.
        await a.PublishAsync("app.progress", new { pct = 50 });
        var fromAgent = await u.NextEventAsync();
        Assert.Equal("pub-agent", fromAgent.SourceAgent);
        // An admin's system alert reaches every principal; an admin's custom event stays in the admin's tenant.
        await root.PublishAsync("custom.admin-only", new { });
        await root.PublishAsync("system.alert", new { level = "warning", message = "maintenance" }, "p-2");
        var alert = await u.NextEventAsync();
        Assert.Equal("system.alert", alert.Topic);
        Assert.Equal("maintenance", alert.Payload.GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.Accepted, (await hub.PublishRestAsync(user.AccessToken, "app.rest", new { ok = true })).StatusCode);
        Assert.Equal("app.rest", (await u.NextEventAsync()).Topic);
    }

    [Fact]
    public async Task Bad_patterns_oversized_publications_and_bad_positions_get_clear_errors()
    {
        await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string>
        {
            ["Kai:Events:MaxPublishBytes"] = "100",
            ["Kai:Events:MaxPatternsPerLink"] = "3",
        });
        var user = await hub.NewUserAsync();
        var (socket, _) = await hub.EventsAsync(user.AccessToken);
        await using var s = socket;

        var bad = await socket.ErrorAsync("subscribe", new { events = new[] { "task.>.x", "ok.*" } }, "b-1");
        Assert.Equal("VALIDATION_ERROR", bad.Code);
        Assert.Contains("task.>.x", bad.Details!.Value.GetProperty("events")[0].GetString(), StringComparison.Ordinal);
        Assert.Equal("VALIDATION_ERROR", (await socket.ErrorAsync("subscribe", new { events = Array.Empty<string>() }, "b-2")).Code);
        Assert.Equal("VALIDATION_ERROR", (await socket.ErrorAsync("subscribe", new { events = new[] { "a" }, filters = new { x = new { y = 1 } } }, "b-3")).Code);
        Assert.Equal("VALIDATION_ERROR", (await socket.ErrorAsync("subscribe", new { events = new[] { "a" }, since = "nonsense" }, "b-4")).Code);
        var ahead = await socket.ErrorAsync("subscribe", new { events = new[] { "a" }, since = new { epoch = (await hub.EventsAsync(user.AccessToken)).Welcome.Epoch, offset = 999 } }, "b-5");
        Assert.Contains("ahead", ahead.Message, StringComparison.Ordinal);
        await socket.SubscribeAsync(new { events = new[] { "a", "b", "c" } });
        Assert.Contains("at most 3", (await socket.ErrorAsync("subscribe", new { events = new[] { "d" } }, "b-6")).Message, StringComparison.Ordinal);

        var big = await socket.ErrorAsync("publish", new { topic = "custom.big", data = new string('x', 200) }, "b-7");
        Assert.Equal("PAYLOAD_TOO_LARGE", big.Code);
        Assert.Equal("VALIDATION_ERROR", (await socket.ErrorAsync("publish", new { topic = "custom.*", data = 1 }, "b-8")).Code);
        Assert.Equal("UNSUPPORTED_FRAME", (await socket.ErrorAsync("teleport", new { }, "b-9")).Code);
        // A publish without data (Data is then an absent JsonElement) and one with a lone surrogate in it.
        await socket.SendRawAsync("""{"type":"publish","id":"b-10","payload":{"topic":"custom.nodata"}}""");
        var nodata = await socket.ReceiveAsync();
        Assert.Equal("b-10", nodata.Id);
        Assert.True(nodata.Type == "ack", nodata.Payload.GetRawText());
        await socket.SendRawAsync("""{"type":"publish","id":"b-11","payload":{"topic":"custom.x","data":"\ud800"}}""");
        var lone = await socket.ReceiveAsync("error");
        Assert.Equal("b-11", lone.Id);
        Assert.Equal("VALIDATION_ERROR", lone.PayloadAs<Kai.Protocol.Frames.ErrorPayload>()!.Code);
        await socket.SendRawAsync("{oops");
        Assert.Equal("VALIDATION_ERROR", (await socket.ReceiveAsync("error")).PayloadAs<Kai.Protocol.Frames.ErrorPayload>()!.Code);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("not-a-jwt")]
    public async Task Missing_or_invalid_token_closes_with_4003(string? token)
    {
        await using var hub = await TestHub.StartAsync();
        await using var socket = await hub.ConnectAsync("ws", token);
        Assert.Equal(CloseCodes.AuthenticationFailed, await socket.ReceiveCloseAsync());
    }

    [Fact]
    public async Task A_slow_consumer_is_disconnected_with_4008_while_a_fast_one_keeps_receiving()
    {
        await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string> { ["Kai:Links:SendQueueBytes"] = "65536" });
        var user = await hub.NewUserAsync();
        var (slow, _) = await hub.EventsAsync(user.AccessToken);
        await using var sl = slow;
        var (fast, _) = await hub.EventsAsync(user.AccessToken);
        await using var fa = fast;
        await slow.SubscribeAsync(new { events = new[] { "custom.flood" } });
        await fast.SubscribeAsync(new { events = new[] { "custom.flood" } });

        var bus = hub.Service<Router>();
        var blob = new string('x', 30_000);
        var sent = 0;
        // The slow client never reads: once the socket buffers are full its hub-side queue passes the cap.
        while (bus.SlowConsumerDisconnects == 0)
        {
            Assert.True(sent < 20_000, "the slow consumer was never disconnected");
            var id = (await bus.PublishAsync(new SystemEvent("custom.flood", null, new { blob, n = sent }, user.UserProfile.UserId, Topic: "custom.flood"), KaiPrincipal.System)).Message.Id;
            Assert.Equal(id, (await fast.NextEventAsync()).Id);   // the fast one gets every event, in order
            sent++;
        }
        var after = await bus.PublishAsync(new SystemEvent("custom.flood", null, new { n = -1 }, user.UserProfile.UserId, Topic: "custom.flood"), KaiPrincipal.System);
        Assert.Equal(after.Message.Id, (await fast.NextEventAsync()).Id);
        Assert.Equal(CloseCodes.SlowConsumer, await slow.ReceiveCloseAsync(TimeSpan.FromSeconds(30)));
        Assert.True(bus.TopicDropped >= 1);
    }
}
