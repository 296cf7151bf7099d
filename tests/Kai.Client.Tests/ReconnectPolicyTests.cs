using Kai.Hub.Events;
using Kai.Protocol;
using Kai.Testing;

namespace Kai.Client.Tests;

/// <summary>How an event subscription treats the hub's close codes: 4002 new token and reconnect at once, 4004/1013 back off, 4001 terminal.</summary>
public sealed class ReconnectPolicyTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static async Task<HubClient> UserAsync(TestHub hub)
    {
        var user = new HubClient(hub.BaseAddress);
        var email = $"r{Guid.NewGuid():N}@example.com";
        await user.RegisterAsync(email, "reconnect-password-1", "Reconnect");
        await user.LoginAsync(email, "reconnect-password-1");
        return user;
    }

    private static void CloseAll(TestHub hub, int code)
    {
        foreach (var s in hub.Service<Kai.Hub.Routing.Router>().TopicSubscribers)
        {
            s.Close(code, "test");
        }
    }

    [Fact]
    public async Task Close_4002_refreshes_the_token_and_reconnects_at_once_while_4004_and_1013_back_off()
    {
        await using var hub = await TestHub.StartAsync();
        using var user = await UserAsync(hub);
        // A backoff this long would fail the test: only the 4002 path may reconnect without waiting.
        var subscription = user.SubscribeEvents(["app.>"], new EventSubscriptionOptions { ReconnectDelay = TimeSpan.FromMinutes(10), MaxReconnectDelay = TimeSpan.FromMinutes(10) });
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var reconnects = new List<(string Reason, TimeSpan Delay)>();
        subscription.Reconnecting += (reason, delay) => { lock (reconnects) { reconnects.Add((reason, delay)); } };
        var reader = Task.Run(async () =>
        {
            await foreach (var _ in subscription.ReadAllAsync(cts.Token))
            {
            }
        });
        await EventsTests.PollAsync(() => subscription.Connections == 1, "the first connection");
        var before = user.AccessToken;

        CloseAll(hub, CloseCodes.SessionExpired);
        await EventsTests.PollAsync(() => subscription.Connections == 2, "an immediate reconnect after 4002");
        Assert.NotEqual(before, user.AccessToken);
        lock (reconnects)
        {
            Assert.Equal(TimeSpan.Zero, Assert.Single(reconnects).Delay);
        }

        await EventsTests.PollAsync(() => hub.Service<Kai.Hub.Routing.Router>().TopicSubscribers.Any(), "the hub to hold the new subscription");
        CloseAll(hub, CloseCodes.RateLimited);
        await EventsTests.PollAsync(() => { lock (reconnects) { return reconnects.Count == 2; } }, "a backoff after 4004");
        lock (reconnects)
        {
            Assert.Contains("4004", reconnects[1].Reason, StringComparison.Ordinal);
            Assert.True(reconnects[1].Delay >= TimeSpan.FromMinutes(1), $"4004 should back off, got {reconnects[1].Delay}");
        }
        Assert.Equal(2, subscription.Connections);
        Assert.False(reader.IsCompleted);
        await cts.CancelAsync();
        await reader.WaitAsync(Wait);
    }

    [Fact]
    public async Task Close_4001_ends_the_subscription()
    {
        await using var hub = await TestHub.StartAsync();
        using var user = await UserAsync(hub);
        var subscription = user.SubscribeEvents(["app.>"], new EventSubscriptionOptions { ReconnectDelay = TimeSpan.FromMilliseconds(10) });
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var reader = Task.Run(async () =>
        {
            await foreach (var _ in subscription.ReadAllAsync(cts.Token))
            {
            }
        });
        await EventsTests.PollAsync(() => subscription.Connections == 1, "the first connection");
        CloseAll(hub, CloseCodes.InvalidSession);
        var closed = await Assert.ThrowsAsync<HubLinkClosedException>(() => reader.WaitAsync(Wait));
        Assert.Equal(CloseCodes.InvalidSession, closed.Code);
        Assert.Equal(1, subscription.Connections);
    }
}
