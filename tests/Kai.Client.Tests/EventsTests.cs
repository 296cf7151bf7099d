using System.Text.Json;
using Kai.Hub.Events;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Client.Tests;

/// <summary>The event link through the SDK: subscribe, publish, filters, resume after a reconnect, gaps.</summary>
public sealed class EventsTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static async Task<HubClient> UserAsync(TestHub hub)
    {
        var user = new HubClient(hub.BaseAddress);
        var email = $"e{Guid.NewGuid():N}@example.com";
        await user.RegisterAsync(email, "events-password-1", "Events");
        await user.LoginAsync(email, "events-password-1");
        return user;
    }

    [Fact]
    public async Task Subscribe_publish_and_filter_on_one_link()
    {
        await using var hub = await TestHub.StartAsync();
        using var user = await UserAsync(hub);
        await using var link = await user.ConnectEventsAsync();
        Assert.Equal("user", link.Welcome.Role);

        var ack = await link.SubscribeAsync(["app.orders.*"], new { priority = new[] { "high", "critical" } });
        Assert.Equal(["app.orders.*"], ack.Subscribed);
        await link.PublishAsync("app.orders.created", new { priority = "low", n = 1 });
        var high = await link.PublishAsync("app.orders.created", new { priority = "high", n = 2 });
        await link.PublishAsync("app.other.created", new { priority = "high", n = 3 });
        var rest = await user.PublishEventAsync("app.orders.shipped", new { priority = "critical", n = 4 });

        var got = new List<EventOrGap>();
        using var cts = new CancellationTokenSource(Wait);
        await foreach (var item in link.ReadAllAsync(cts.Token))
        {
            got.Add(item);
            if (got.Count == 2)
            {
                break;
            }
        }
        Assert.Equal([high.Id, rest.Id], got.Select(g => g.Event!.Id));
        Assert.Equal([2, 4], got.Select(g => g.Event!.Payload.GetProperty("n").GetInt32()));
        Assert.Equal(rest.Id, link.LastEventId);

        Assert.Equal(["app.orders.*"], await link.UnsubscribeAsync(["app.orders.*", "never.subscribed"]));
        var bad = await Assert.ThrowsAsync<HubApiException>(() => link.SubscribeAsync(["task.>.x"]));
        Assert.Equal(ErrorCodes.ValidationError, bad.Code);
        var forbidden = await Assert.ThrowsAsync<HubApiException>(() => link.PublishAsync("task.x.completed", new { }));
        Assert.Equal(ErrorCodes.Forbidden, forbidden.Code);
    }

    [Fact]
    public async Task A_subscription_reconnects_and_resumes_after_the_last_event_it_yielded()
    {
        await using var hub = await TestHub.StartAsync();
        using var user = await UserAsync(hub);
        var subscription = user.SubscribeEvents(["app.>"], new EventSubscriptionOptions { ReconnectDelay = TimeSpan.FromMilliseconds(50) });
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var received = new List<int>();
        var subscribed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        subscription.Subscribed += _ => subscribed.TrySetResult();

        var reader = Task.Run(async () =>
        {
            await foreach (var item in subscription.ReadAllAsync(cts.Token))
            {
                Assert.False(item.IsGap);
                received.Add(item.Event!.Payload.GetProperty("n").GetInt32());
                if (received.Count == 1)
                {
                    // Drop the link from the hub's side, then publish while the client is away.
                    foreach (var s in hub.Service<Kai.Hub.Routing.Router>().TopicSubscribers)
                    {
                        s.Close(CloseCodes.GenericError, "test drop");
                    }
                    await user.PublishEventAsync("app.test", new { n = 2 });
                    await user.PublishEventAsync("app.test", new { n = 3 });
                }
                if (received.Count == 4)
                {
                    break;
                }
            }
        });
        await subscribed.Task.WaitAsync(Wait);
        await user.PublishEventAsync("app.test", new { n = 1 });
        await PollAsync(() => subscription.Connections >= 2, "a second connection");
        await user.PublishEventAsync("app.test", new { n = 4 });
        await reader.WaitAsync(Wait);

        Assert.Equal([1, 2, 3, 4], received);
        Assert.True(subscription.Connections >= 2);
    }

    [Fact]
    public async Task A_position_history_no_longer_covers_is_surfaced_as_a_gap()
    {
        await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string> { ["Kai:Events:HistorySize"] = "2" });
        using var user = await UserAsync(hub);
        var first = await user.PublishEventAsync("app.g", new { n = 1 });
        for (var n = 2; n <= 5; n++)
        {
            await user.PublishEventAsync("app.g", new { n });
        }

        var subscription = user.SubscribeEvents(["app.g"], new EventSubscriptionOptions { Since = first.Id });
        using var cts = new CancellationTokenSource(Wait);
        var items = new List<EventOrGap>();
        await foreach (var item in subscription.ReadAllAsync(cts.Token))
        {
            items.Add(item);
            if (items.Count == 3)
            {
                break;
            }
        }

        Assert.True(items[0].IsGap);
        Assert.Equal("history_trimmed", items[0].Gap!.Reason);
        Assert.Equal([4, 5], items.Skip(1).Select(i => i.Event!.Payload.GetProperty("n").GetInt32()));

        // A position from another run of the hub is a gap too.
        await using var link = await user.ConnectEventsAsync();
        var ack = await link.SubscribeAsync(["app.g"], since: "0123456789ab-3");
        Assert.False(ack.Recovered);
        await using var e = link.ReadAllAsync(cts.Token).GetAsyncEnumerator(cts.Token);
        Assert.True(await e.MoveNextAsync());
        Assert.Equal("epoch_changed", e.Current.Gap?.Reason);
    }

    [Fact]
    public async Task Task_events_reach_a_task_pattern_subscription()
    {
        await using var hub = await TestHub.StartAsync();
        using var user = await UserAsync(hub);
        await using var link = await user.ConnectEventsAsync();
        await link.SubscribeAsync(["task.*.created"]);
        var task = await user.CreateTaskAsync(new CreateTaskRequest(null, "demo.type", InputData: JsonDocument.Parse("{}").RootElement));

        using var cts = new CancellationTokenSource(Wait);
        await using var e = link.ReadAllAsync(cts.Token).GetAsyncEnumerator(cts.Token);
        Assert.True(await e.MoveNextAsync());
        Assert.Equal("task.created", e.Current.Event!.EventType);
        Assert.Equal("task.demo~type.created", e.Current.Event.Topic);
        Assert.Equal(task.TaskId, e.Current.Event.Payload.GetProperty("task_id").GetString());
    }

    internal static async Task PollAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("waited 10 s for " + what);
            }
            await Task.Delay(20);
        }
    }
}
