using Kai.Hub.Housekeeping;
using Microsoft.Extensions.Time.Testing;
using Kai.Hub.Observability;
using Kai.Protocol.Events;
using Kai.Testing;

namespace Kai.Hub.Tests.Events;

public sealed class EventRecoveryTests
{
    [Fact]
    public async Task Since_replays_what_was_missed_in_order_before_live_events()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        var (publisher, _) = await hub.EventsAsync(user.AccessToken);
        await using var p = publisher;
        var first = await publisher.PublishAsync("custom.r.1", new { n = 1 }, "p-1");
        var second = await publisher.PublishAsync("custom.r.2", new { n = 2 }, "p-2");
        await publisher.PublishAsync("app.other", new { n = 0 }, "p-x");
        var third = await publisher.PublishAsync("custom.r.3", new { n = 3 }, "p-3");

        var (reader, _) = await hub.EventsAsync(user.AccessToken);
        await using var r = reader;
        var ack = await reader.SubscribeAsync(new { events = new[] { "custom.r.*" }, since = first.Id });
        Assert.True(ack.Recovered);
        Assert.Equal(2, ack.Replayed);
        Assert.Equal(second.Id, (await reader.NextEventAsync()).Id);
        Assert.Equal(third.Id, (await reader.NextEventAsync()).Id);
        var live = await publisher.PublishAsync("custom.r.4", new { n = 4 }, "p-4");
        Assert.Equal(live.Id, (await reader.NextEventAsync()).Id);

        // The object form of since works too, and nothing is missed means nothing is replayed.
        Assert.True(EventPosition.TryParse(live.Id, out var pos));
        var (again, _) = await hub.EventsAsync(user.AccessToken);
        await using var ag = again;
        var none = await again.SubscribeAsync(new { events = new[] { "custom.>" }, since = new { epoch = pos!.Epoch, offset = pos.Offset } });
        Assert.True(none.Recovered);
        Assert.Equal(0, none.Replayed);
    }

    [Fact]
    public async Task A_gap_is_signalled_when_history_was_trimmed_by_count_or_age_or_the_epoch_changed()
    {
        var clock = TestClock.Create();
        await using var hub = await TestHub.StartAsync(clock, settings: new Dictionary<string, string>
        {
            ["Kai:Events:HistorySize"] = "2",
            ["Kai:Events:HistoryTtl"] = "00:01:00",
        });
        var user = await hub.NewUserAsync();
        var (publisher, _) = await hub.EventsAsync(user.AccessToken);
        await using var p = publisher;
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((await publisher.PublishAsync("custom.g", new { i }, $"p-{i}")).Id);
        }

        // By count: only the last two remain.
        var (reader, _) = await hub.EventsAsync(user.AccessToken);
        await using var r = reader;
        var ack = await reader.SubscribeAsync(new { events = new[] { "custom.g" }, since = ids[0] });
        Assert.False(ack.Recovered);
        Assert.Equal(2, ack.Replayed);
        var gap = (await reader.ReceiveAsync()).PayloadAs<GapPayload>()!;
        Assert.Equal("history_trimmed", gap.Reason);
        Assert.Equal(ids[0], gap.Requested);
        Assert.Equal(ids[3], gap.FirstAvailable);
        Assert.Equal(["custom.g"], gap.Events);
        Assert.Equal(ids[3], (await reader.NextEventAsync()).Id);
        Assert.Equal(ids[4], (await reader.NextEventAsync()).Id);

        // Within history: no gap.
        var (ok, _) = await hub.EventsAsync(user.AccessToken);
        await using var o = ok;
        Assert.True((await ok.SubscribeAsync(new { events = new[] { "custom.g" }, since = ids[3] })).Recovered);

        // By age: after the TTL and a sweep nothing is left, and the same since is a gap.
        clock.Advance(TimeSpan.FromMinutes(2));
        await hub.Service<HubSweeper>().SweepOnceAsync(CancellationToken.None);
        var (late, _) = await hub.EventsAsync(user.AccessToken);
        await using var l = late;
        var lateAck = await late.SubscribeAsync(new { events = new[] { "custom.g" }, since = ids[3] });
        Assert.False(lateAck.Recovered);
        Assert.Equal(0, lateAck.Replayed);
        var aged = (await late.ReceiveAsync()).PayloadAs<GapPayload>()!;
        Assert.Equal("history_trimmed", aged.Reason);
        Assert.Null(aged.FirstAvailable);

        // Another epoch (a restarted hub): a gap, then everything still retained in this epoch.
        var (old, _) = await hub.EventsAsync(user.AccessToken);
        await using var od = old;
        await publisher.PublishAsync("custom.g", new { i = 5 }, "p-5");
        var oldAck = await old.SubscribeAsync(new { events = new[] { "custom.g" }, since = "000000000000-3" });
        Assert.False(oldAck.Recovered);
        Assert.Equal("epoch_changed", (await old.ReceiveAsync()).PayloadAs<GapPayload>()!.Reason);
        Assert.Equal("custom.g", (await old.NextEventAsync()).Topic);
    }
}
