using System.Net.Http.Json;
using Kai.Hub.Events;
using Kai.Hub.Housekeeping;
using Kai.Hub.Tests.Events;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Testing;

namespace Kai.Hub.Tests.Cluster;

/// <summary>
/// Event history on PostgreSQL (issue 14 §4): one epoch per database and one offset sequence, so an event id from one node
/// recovers on another and after a restart, and retention (swept by the housekeeping leader) gives the <c>gap</c> signal. Two
/// nodes run in this process on one schema; no backplane is needed for recovery (the history is the store's).
/// </summary>
public sealed class DurableEventHistoryTests
{
    private static Dictionary<string, string> Node(string connection, string id, Dictionary<string, string>? more = null)
    {
        var settings = EventTestKit.AdminSettings(new()
        {
            ["Kai:Store"] = "postgres",
            ["ConnectionStrings:Postgres"] = connection,
            ["Kai:NodeId"] = id,
        });
        foreach (var (k, v) in more ?? [])
        {
            settings[k] = v;
        }
        return settings;
    }

    private static async Task<EventPollResponse> PollAsync(TestHub hub, string token, string topics, string? since)
    {
        using var client = hub.Client(token);
        var query = $"api/v1/events?topics={topics}" + (since is null ? "" : "&since=" + Uri.EscapeDataString(since));
        return (await client.GetFromJsonAsync<EventPollResponse>(query, KaiJson.Options))!;
    }

    private static async Task<string> PublishAsync(TestHub hub, string token, string topic, int n)
    {
        var res = await hub.PublishRestAsync(token, topic, new { n });
        res.EnsureSuccessStatusCode();
        return (await res.Content.ReadFromJsonAsync<PublishAck>(KaiJson.Options))!.Id;
    }

    [SkippableFact]
    public async Task An_event_id_from_one_node_recovers_on_another_and_after_a_restart_of_both()
    {
        TestPostgres.Require();
        var schema = "kai_h_" + Guid.NewGuid().ToString("N")[..20];
        var connection = await TestPostgres.CreateSchemaAsync(schema);
        var dir = TestHub.NewDataDirectory();
        try
        {
            string epoch, first, third, token;
            await using (var nodeA = await TestHub.StartAsync(dataDirectory: dir, keepData: true, settings: Node(connection, "hist-a")))
            await using (var nodeB = await TestHub.StartAsync(dataDirectory: dir, keepData: true, settings: Node(connection, "hist-b")))
            {
                token = (await nodeA.NewUserAsync()).AccessToken;
                Assert.True(nodeA.Service<EventLog>().Durable);
                first = await PublishAsync(nodeA, token, "custom.hist.a", 1);
                await PublishAsync(nodeA, token, "custom.hist.a", 2);
                third = await PublishAsync(nodeB, token, "custom.hist.b", 3);
                Assert.True(EventPosition.TryParse(first, out var p1));
                Assert.True(EventPosition.TryParse(third, out var p3));
                epoch = p1!.Epoch;
                // Both nodes number from the one sequence of the one epoch.
                Assert.Equal(epoch, p3!.Epoch);
                Assert.True(p3.Offset > p1.Offset);

                // A client that saw the first event on A and reconnects to B gets the two it missed, from both nodes, in order.
                var onB = await PollAsync(nodeB, token, "custom.hist.*", first);
                Assert.False(onB.Gap);
                Assert.Equal([2, 3], onB.Events.Select(e => e.Payload.GetProperty("n").GetInt32()));
                Assert.Equal(third, onB.NextCursor);
                // Node A, which published only 1 and 2, reads 3 from the shared history too.
                Assert.Equal([3], (await PollAsync(nodeA, token, "custom.hist.*", onB.Events[0].Id)).Events.Select(e => e.Payload.GetProperty("n").GetInt32()));
            }

            // Both nodes restarted: same epoch, same positions; new events continue the sequence.
            await using var again = await TestHub.StartAsync(dataDirectory: dir, keepData: true, settings: Node(connection, "hist-a"));
            Assert.Equal(epoch, again.Service<EventLog>().Epoch);
            var fourth = await PublishAsync(again, token, "custom.hist.a", 4);
            var after = await PollAsync(again, token, "custom.hist.*", first);
            Assert.False(after.Gap);
            Assert.Equal([2, 3, 4], after.Events.Select(e => e.Payload.GetProperty("n").GetInt32()));
            Assert.Equal(fourth, after.NextCursor);
            // A position ahead of the cluster's is refused, as on one node.
            Assert.True(EventPosition.TryParse(fourth, out var p4));
            using var client = again.Client(token);
            var ahead = await client.GetAsync($"api/v1/events?topics=custom.hist.*&since={epoch}-{p4!.Offset + 1000}");
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, ahead.StatusCode);
        }
        finally
        {
            await TestPostgres.DropSchemaAsync(schema);
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    [SkippableFact]
    public async Task The_leaders_sweep_bounds_history_per_topic_and_a_since_before_it_gets_the_gap_signal()
    {
        TestPostgres.Require();
        var schema = "kai_h_" + Guid.NewGuid().ToString("N")[..20];
        var connection = await TestPostgres.CreateSchemaAsync(schema);
        var dir = TestHub.NewDataDirectory();
        try
        {
            await using var hub = await TestHub.StartAsync(dataDirectory: dir, settings: Node(connection, "hist-sweep", new()
            {
                // Only the sweep this test runs: the periodic one (default every 5 s) would race the "before" check.
                ["Kai:Events:HistorySize"] = "2", ["Kai:Links:SweepInterval"] = "00:10:00",
            }));
            var token = (await hub.NewUserAsync()).AccessToken;
            var ids = new List<string>();
            for (var n = 1; n <= 5; n++)
            {
                ids.Add(await PublishAsync(hub, token, "custom.sweep.busy", n));
            }
            var quiet = await PublishAsync(hub, token, "custom.sweep.quiet", 6);
            // Before the sweep everything is still there.
            Assert.Equal(5, (await PollAsync(hub, token, "custom.sweep.busy", ids[0].Split('-')[0] + "-0")).Events.Count);

            await hub.Service<HubSweeper>().SweepOnceAsync(CancellationToken.None);

            // The busy topic keeps its last 2; a since before what was dropped is a gap, followed by what remains.
            var trimmed = await PollAsync(hub, token, "custom.sweep.busy", ids[0]);
            Assert.True(trimmed.Gap);
            Assert.Equal("history_trimmed", trimmed.GapInfo!.Reason);
            Assert.Equal(ids[3], trimmed.GapInfo.FirstAvailable);
            Assert.Equal([4, 5], trimmed.Events.Select(e => e.Payload.GetProperty("n").GetInt32()));
            // A since after the trimmed ones is no gap; the quiet topic lost nothing, so the busy one's trim is no gap for it.
            Assert.False((await PollAsync(hub, token, "custom.sweep.busy", ids[2])).Gap);
            var other = await PollAsync(hub, token, "custom.sweep.quiet", ids[0]);
            Assert.False(other.Gap);
            Assert.Equal(quiet, Assert.Single(other.Events).Id);
        }
        finally
        {
            await TestPostgres.DropSchemaAsync(schema);
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    [SkippableFact]
    public async Task Concurrent_publishes_get_one_order_that_live_subscribers_and_recovery_both_see_once()
    {
        TestPostgres.Require();
        var schema = "kai_h_" + Guid.NewGuid().ToString("N")[..20];
        var connection = await TestPostgres.CreateSchemaAsync(schema);
        try
        {
            await using var hub = await TestHub.StartAsync(settings: Node(connection, "hist-burst", new()
            {
                ["Kai:Security:RateLimits:Authenticated"] = "100000", ["Kai:Routing:MaxPerSecondPerSender"] = "0",
            }));
            var token = (await hub.NewUserAsync()).AccessToken;
            var (live, _) = await hub.EventsAsync(token);
            await using var __ = live;
            await live.SubscribeAsync(new { events = new[] { "custom.burst.>" } });
            var first = await PublishAsync(hub, token, "custom.burst.t", 0);
            Assert.Equal(0, (await live.NextEventAsync()).Payload.GetProperty("n").GetInt32());

            // 150 publishes at once, each a round trip to the database, and meanwhile a second subscriber joins with since = the
            // first event: it must get every later event exactly once, replayed or live.
            const int count = 150;
            var burst = Enumerable.Range(1, count).Select(n => PublishAsync(hub, token, n % 2 == 0 ? "custom.burst.even" : "custom.burst.odd", n)).ToList();
            var (joining, _) = await hub.EventsAsync(token);
            await using var ___ = joining;
            await joining.SubscribeAsync(new { events = new[] { "custom.burst.>" }, since = first });
            var ids = await Task.WhenAll(burst);
            Assert.Equal(count, ids.Distinct().Count());

            async Task<List<EventMessage>> ReadAsync(TestSocket socket)
            {
                var got = new List<EventMessage>();
                while (got.Count < count)
                {
                    got.Add(await socket.NextEventAsync());
                }
                return got;
            }
            var seenLive = await ReadAsync(live);
            var seenJoining = await ReadAsync(joining);
            var offsets = seenLive.Select(e => EventPosition.TryParse(e.Id, out var p) ? p!.Offset : -1).ToList();
            Assert.Equal(offsets.Order(), offsets); // delivered in offset order
            Assert.Equal(count, offsets.Distinct().Count());
            Assert.Equal(Enumerable.Range(1, count), seenLive.Select(e => e.Payload.GetProperty("n").GetInt32()).Order());
            Assert.Equal(ids.Order(StringComparer.Ordinal), seenLive.Select(e => e.Id).Order(StringComparer.Ordinal)); // each publisher got its own event's id
            Assert.Equal(seenLive.Select(e => e.Id), seenJoining.Select(e => e.Id)); // replayed then live: same events, same order, none twice

            // Recovery from the first event reads the same order from the store.
            using var client = hub.Client(token);
            var poll = (await client.GetFromJsonAsync<EventPollResponse>($"api/v1/events?topics=custom.burst.>&limit=1000&since={Uri.EscapeDataString(first)}", KaiJson.Options))!;
            Assert.Equal(seenLive.Select(e => e.Id), poll.Events.Select(e => e.Id));
        }
        finally
        {
            await TestPostgres.DropSchemaAsync(schema);
        }
    }
}
