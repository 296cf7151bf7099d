using System.Net;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Kai.Hub.Auth;
using Kai.Hub.Cluster;
using Kai.Hub.Routing;
using Kai.Protocol.Events;
using Kai.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Kai.Hub.Tests.Cluster;

/// <summary>
/// The RabbitMQ backplane (issue 14 §3) against a real broker: group deliveries to the node bound to a key, topic fan-out to
/// every other node, request/reply by reply-to and correlation id under a deadline, and recovery after the broker goes away.
/// </summary>
[Collection("RabbitMQ")]
public sealed class RabbitMqBackplaneTests
{
    private static readonly KaiPrincipal Alice = new("usr_alice", "user", "ses_1", "usr_alice", DateTimeOffset.UtcNow.AddHours(1));

    /// <summary>A node: its backplane and what reached it.</summary>
    private sealed class Node : IAsyncDisposable
    {
        public Node(string id)
        {
            Backplane = new RabbitMqBackplane(id + "-" + Guid.NewGuid().ToString("N")[..6], RabbitMqServer.Uri, TimeSpan.FromSeconds(5),
                TimeProvider.System, NullLogger<RabbitMqBackplane>.Instance);
            Backplane.Receive = (e, _) => { Received.Writer.TryWrite(e); return default; };
            Backplane.ReceiveReply = (id, kind, body, _) => { Replies.Writer.TryWrite((id, kind, body)); return default; };
        }

        public RabbitMqBackplane Backplane { get; }

        public Channel<Envelope> Received { get; } = Channel.CreateUnbounded<Envelope>();

        public Channel<(string Id, string Kind, byte[] Body)> Replies { get; } = Channel.CreateUnbounded<(string, string, byte[])>();

        public static async Task<Node> StartAsync(string id)
        {
            var node = new Node(id);
            await node.Backplane.StartAsync(CancellationToken.None);
            return node;
        }

        public async Task BindAsync(string key)
        {
            Backplane.Bind(key);
            await Backplane.BindingsAppliedAsync();
        }

        public async Task<Envelope> NextAsync()
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            return await Received.Reader.ReadAsync(cts.Token);
        }

        public ValueTask DisposeAsync() => Backplane.DisposeAsync();
    }

    private static Envelope Message(string agentId, string text, Delivery delivery = Delivery.Live, string? correlationId = null, DateTimeOffset? deadline = null) =>
        new("agent_message", Address.Agent(agentId), Encoding.UTF8.GetBytes(text), Alice)
        {
            Delivery = delivery, CorrelationId = correlationId, Deadline = deadline, TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        };

    [SkippableFact]
    public async Task A_send_reaches_only_the_node_bound_to_the_key_with_the_envelope_intact_and_an_unbound_key_reaches_none()
    {
        RabbitMqServer.Require();
        await using var a = await Node.StartAsync("a");
        await using var b = await Node.StartAsync("b");
        await using var c = await Node.StartAsync("c");
        var agent = "agt_" + Guid.NewGuid().ToString("N")[..8];
        await b.BindAsync(Address.Agent(agent).GroupKey);

        var deadline = DateTimeOffset.UtcNow.AddMinutes(1);
        Assert.Equal(1, await a.Backplane.SendAsync(Address.Agent(agent).GroupKey, Message(agent, "{\"hello\":1}", Delivery.Durable, "cmd_1", deadline), CancellationToken.None));
        var got = await b.NextAsync();
        Assert.Equal(("agent_message", Address.Agent(agent), "{\"hello\":1}"), (got.Type, got.Target, Encoding.UTF8.GetString(got.Frame)));
        Assert.Equal((Delivery.Durable, "cmd_1", true), (got.Delivery, got.CorrelationId, got.FromBackplane));
        Assert.Equal(Alice with { ExpiresAt = DateTimeOffset.FromUnixTimeMilliseconds(Alice.ExpiresAt.ToUnixTimeMilliseconds()) }, got.Sender);
        Assert.Equal(deadline.ToUnixTimeMilliseconds(), got.Deadline!.Value.ToUnixTimeMilliseconds());
        Assert.StartsWith("00-0af7651916cd43dd", got.TraceParent);

        // Nobody holds this agent: the broker returns the mandatory message, so the router can answer Unavailable.
        Assert.Equal(0, await a.Backplane.SendAsync("agent.nobody-" + agent, Message("nobody", "x"), CancellationToken.None));
        // A past deadline is not sent at all.
        Assert.Equal(0, await a.Backplane.SendAsync(Address.Agent(agent).GroupKey, Message(agent, "late", deadline: DateTimeOffset.UtcNow.AddSeconds(-1)), CancellationToken.None));

        // Unbound: no node takes it any more. The system principal crosses as itself.
        b.Backplane.Unbind(Address.Agent(agent).GroupKey);
        await b.Backplane.BindingsAppliedAsync();
        Assert.Equal(0, await a.Backplane.SendAsync(Address.Agent(agent).GroupKey, Message(agent, "gone"), CancellationToken.None));
        await c.BindAsync(Address.ObserversOf(agent).GroupKey);
        var system = new Envelope("status_update", Address.ObserversOf(agent), "{}"u8.ToArray(), KaiPrincipal.System);
        Assert.Equal(1, await a.Backplane.SendAsync(Address.ObserversOf(agent).GroupKey, system, CancellationToken.None));
        Assert.Same(KaiPrincipal.System, (await c.NextAsync()).Sender);
        Assert.False(b.Received.Reader.TryRead(out var stray), $"b got {stray?.Type} after it unbound");
    }

    [SkippableFact]
    public async Task A_topic_event_fans_out_to_every_other_node_with_its_position()
    {
        RabbitMqServer.Require();
        await using var a = await Node.StartAsync("a");
        await using var b = await Node.StartAsync("b");
        await using var c = await Node.StartAsync("c");
        var message = new EventMessage("ep1:42", DateTimeOffset.UtcNow, "custom", "custom.orders.created", "agt_x", null, "corr-1",
            JsonDocument.Parse("""{"order":7}""").RootElement);
        var published = new BusEvent("ep1", 42, "usr_alice", message);
        var envelope = new Envelope("event", Address.Topic(message.Topic), [], Alice) { CorrelationId = "corr-1" }.WithEvent(published);

        await a.Backplane.PublishAsync(envelope, CancellationToken.None);
        foreach (var node in new[] { b, c })
        {
            var got = await node.NextAsync();
            Assert.Equal(AddressKind.Topic, got.Target.Kind);
            Assert.Equal(("custom.orders.created", 42L, "usr_alice", "ep1"), (got.Event!.Topic, got.Event.Offset, got.Event.OwnerId, got.Event.Position.Epoch));
            Assert.Equal(7, got.Event.Message.Payload.GetProperty("order").GetInt32());
            Assert.Equal(published.Frame, got.Frame);
        }
        // The publisher does not hear its own event back (its subscribers were served locally).
        await b.Backplane.PublishAsync(envelope, CancellationToken.None);
        Assert.Equal(42L, (await a.NextAsync()).Event!.Offset);
        Assert.Equal(42L, (await c.NextAsync()).Event!.Offset);
        Assert.False(b.Received.Reader.TryRead(out _));
    }

    [SkippableFact]
    public async Task A_request_is_answered_to_the_requesting_node_by_reply_to_and_a_silent_one_times_out_at_its_deadline()
    {
        RabbitMqServer.Require();
        await using var a = await Node.StartAsync("a");
        await using var b = await Node.StartAsync("b");
        await using var c = await Node.StartAsync("c");
        var agent = "agt_" + Guid.NewGuid().ToString("N")[..8];
        await b.BindAsync(Address.Agent(agent).GroupKey);
        var pending = new PendingRequests(TimeProvider.System);

        var waiter = pending.Register("req-1");
        var deadline = DateTimeOffset.UtcNow.AddMinutes(1);
        Assert.Equal(1, await a.Backplane.SendAsync(Address.Agent(agent).GroupKey, Message(agent, "ping", Delivery.Request, "req-1", deadline), CancellationToken.None));
        var request = await b.NextAsync();
        // b answers the request: the reply goes to a (its reply-to), not to every node.
        Assert.True(await b.Backplane.ReplyAsync(request.CorrelationId!, "text", Encoding.UTF8.GetBytes("pong:" + Encoding.UTF8.GetString(request.Frame)), CancellationToken.None));
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            var (id, kind, body) = await a.Replies.Reader.ReadAsync(cts.Token);
            Assert.Equal(("req-1", "text"), (id, kind));
            pending.Complete(id, Encoding.UTF8.GetString(body));
        }
        Assert.Equal("pong:ping", await pending.WaitAsync("req-1", waiter, deadline, CancellationToken.None));

        // A reply whose request did not come through this node (a command redelivered on reconnect) goes to every other node.
        Assert.True(await b.Backplane.ReplyAsync("req-unknown", "text", "x"u8.ToArray(), CancellationToken.None));
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            Assert.Equal("req-unknown", (await a.Replies.Reader.ReadAsync(cts.Token)).Id);
            Assert.Equal("req-unknown", (await c.Replies.Reader.ReadAsync(cts.Token)).Id);
        }
        Assert.False(c.Replies.Reader.TryRead(out var extra), $"c got the targeted reply {extra.Id} too");

        // Nobody answers: the waiter fails at the deadline on the hub's clock.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var slow = new PendingRequests(clock);
        var silent = slow.Register("req-2");
        Assert.Equal(1, await a.Backplane.SendAsync(Address.Agent(agent).GroupKey, Message(agent, "ping", Delivery.Request, "req-2", clock.GetUtcNow().AddSeconds(30)), CancellationToken.None));
        Assert.Equal("req-2", (await b.NextAsync()).CorrelationId);
        var wait = slow.WaitAsync("req-2", silent, clock.GetUtcNow().AddSeconds(5), CancellationToken.None);
        clock.Advance(TimeSpan.FromSeconds(6));
        await Assert.ThrowsAsync<TimeoutException>(() => wait);
    }

    [SkippableFact]
    public async Task When_the_broker_goes_away_sends_fail_and_ready_says_why_and_after_it_returns_bindings_made_meanwhile_work()
    {
        RabbitMqServer.Require();
        Skip.If(RabbitMqServer.Ctl is null && !ExternalServers.InCi, "rabbitmqctl is not installed");
        await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string>
        {
            ["Kai:Backplane"] = "rabbitmq", ["ConnectionStrings:RabbitMQ"] = RabbitMqServer.Uri, ["Kai:NodeId"] = "ready-" + Guid.NewGuid().ToString("N")[..6],
        });
        Assert.Equal("Healthy", await hub.Http.GetStringAsync("ready"));
        await using var a = await Node.StartAsync("a");
        await using var b = await Node.StartAsync("b");
        var agent = "agt_" + Guid.NewGuid().ToString("N")[..8];
        await b.BindAsync(Address.Agent(agent).GroupKey);
        Assert.Equal(1, await a.Backplane.SendAsync(Address.Agent(agent).GroupKey, Message(agent, "before"), CancellationToken.None));
        Assert.Equal("before", Encoding.UTF8.GetString((await b.NextAsync()).Frame));

        await RabbitMqServer.CtlAsync("stop_app");
        try
        {
            await RabbitMqServer.UntilAsync(() => a.Backplane.Problem is not null && b.Backplane.Problem is not null, "both nodes notice the broker is gone");
            Assert.Contains("RabbitMQ", a.Backplane.Problem);
            Assert.Equal(0, await a.Backplane.SendAsync(Address.Agent(agent).GroupKey, Message(agent, "during"), CancellationToken.None));
            var ready = await hub.Http.GetAsync("ready");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            Assert.Contains("backplane: RabbitMQ", await ready.Content.ReadAsStringAsync());
            // A link that arrives on b while the broker is away: its binding is applied when the broker is back.
            b.Backplane.Bind(Address.Agent(agent + "-late").GroupKey);
        }
        finally
        {
            await RabbitMqServer.CtlAsync("start_app");
        }
        await RabbitMqServer.UntilAsync(() => a.Backplane.Problem is null && b.Backplane.Problem is null, "both nodes reconnect");
        await b.Backplane.BindingsAppliedAsync();
        Assert.True(a.Backplane.Outages >= 1);
        Assert.Equal(1, await a.Backplane.SendAsync(Address.Agent(agent).GroupKey, Message(agent, "after"), CancellationToken.None));
        Assert.Equal("after", Encoding.UTF8.GetString((await b.NextAsync()).Frame));
        Assert.Equal(1, await a.Backplane.SendAsync(Address.Agent(agent + "-late").GroupKey, Message(agent + "-late", "late"), CancellationToken.None));
        Assert.Equal("late", Encoding.UTF8.GetString((await b.NextAsync()).Frame));
        await RabbitMqServer.UntilAsync(() => hub.Service<IBackplane>().Problem is null, "the hub reconnects");
        Assert.Equal("Healthy", await hub.Http.GetStringAsync("ready"));
    }
}
