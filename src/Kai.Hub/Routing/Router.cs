using Kai.Hub.Auth;
using Kai.Protocol.Events;

namespace Kai.Hub.Routing;

/// <summary>One step of the route pipeline: the filters, then resolve and deliver.</summary>
internal delegate ValueTask<RouteResult> RouteStep(Envelope envelope, CancellationToken ct);

/// <summary>A cross-cutting concern written once for every edge and service (authorize, rate limit, trace, metrics, deadline).</summary>
internal interface IRouteFilter
{
    /// <summary>Runs the filter; calls <paramref name="next"/> to go on, or returns a result to stop the envelope here.</summary>
    ValueTask<RouteResult> InvokeAsync(Envelope envelope, RouteStep next, CancellationToken ct);
}

/// <summary>
/// The one router (docs/architecture.md): every edge converts its input into an <see cref="Envelope"/> and every service
/// hands its envelopes here. The pipeline is the filters (registered in order with <c>AddKaiRouting</c>), then address
/// resolution, then delivery to a target: local links, other delivery targets (hosted agents, webhooks), or another node
/// through the <see cref="IBackplane"/>.
/// </summary>
/// <remarks>
/// <para>Live delivery is at most once: an envelope for an agent with no live link anywhere is not kept. Durable kinds
/// (commands, task leases) are stored by their service before they are routed, and delivered again on reconnect.</para>
/// <para>The router owns request/response correlation (<see cref="RequestAsync"/>, <see cref="Complete"/>), the topic
/// subscription index and the order of topic delivery against subscribe-with-replay.</para>
/// </remarks>
internal sealed class Router
{
    private readonly ConnectionRegistry _links;
    private readonly AgentDirectory _directory;
    private readonly CapabilityResolver _capabilities;
    private readonly IReadOnlyList<IDeliveryTarget> _targets;
    private readonly IBackplane _backplane;
    private readonly ITopicLog _log;
    private readonly PendingRequests _pending;
    private readonly SubscriptionIndex _index = new();
    private readonly Lock _topicGate = new();
    private readonly RouteStep _pipeline;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, IReplyCodec> _replyCodecs;
    private long _topicDelivered;
    private long _topicDropped;
    private long _slowConsumerDisconnects;

    public Router(
        ConnectionRegistry links, AgentDirectory directory, CapabilityResolver capabilities, IEnumerable<IRouteFilter> filters,
        IEnumerable<IDeliveryTarget> targets, IBackplane backplane, ITopicLog log, PendingRequests pending, TimeProvider time,
        IEnumerable<IReplyCodec> replyCodecs)
    {
        _replyCodecs = replyCodecs.ToDictionary(c => c.Kind, StringComparer.Ordinal);
        _time = time;
        _links = links;
        _directory = directory;
        _capabilities = capabilities;
        _targets = [.. targets];
        _backplane = backplane;
        _log = log;
        _pending = pending;
        RouteStep step = DeliverAsync;
        foreach (var filter in filters.Reverse())
        {
            var next = step;
            step = (e, ct) => filter.InvokeAsync(e, next, ct);
        }
        _pipeline = step;
        _backplane.Receive = FromBackplaneAsync;
        _backplane.ReceiveReply = ReplyFromBackplaneAsync;
    }

    /// <summary>Routes one envelope through the pipeline.</summary>
    public ValueTask<RouteResult> RouteAsync(Envelope envelope, CancellationToken ct) => _pipeline(envelope, ct);

    // ---- request/response ----

    /// <summary>
    /// Routes a <see cref="Delivery.Request"/> envelope and waits for the reply that <see cref="Complete"/> hands over with the
    /// same correlation id, until the envelope's deadline. Returns the route result when nothing was delivered, else the reply.
    /// </summary>
    /// <exception cref="TimeoutException">The deadline passed without a reply (the waiter is removed).</exception>
    public async Task<(RouteResult Route, object? Reply)> RequestAsync(Envelope envelope, CancellationToken ct)
    {
        var id = envelope.CorrelationId ?? throw new ArgumentException("A request needs a correlation id.", nameof(envelope));
        var waiter = _pending.Register(id);
        try
        {
            var route = await RouteAsync(envelope, ct);
            if (!route.IsDelivered)
            {
                return (route, null);
            }
            return (route, await _pending.WaitAsync(id, waiter, envelope.Deadline, ct));
        }
        finally
        {
            _pending.Remove(id, waiter);
        }
    }

    /// <summary>Registers interest in a reply before the request is sent some other way (durable commands are routed by their service).</summary>
    public PendingRequests Pending => _pending;

    /// <summary>
    /// Hands a reply to whoever waits for <paramref name="correlationId"/>; false when nobody waits on this node. Then, in a cluster,
    /// the reply goes on through the backplane to the node that waits for it (when an <see cref="IReplyCodec"/> knows its type).
    /// </summary>
    public bool Complete(string correlationId, object reply)
    {
        if (_pending.Complete(correlationId, reply))
        {
            return true;
        }
        if (_backplane.HasPeers)
        {
            foreach (var codec in _replyCodecs.Values)
            {
                if (codec.TryEncode(reply, out var body))
                {
                    // Best effort, like the in-process waiter: the reply is already stored by its service, and a waiter that misses it
                    // reads the store at its deadline.
                    _ = _backplane.ReplyAsync(correlationId, codec.Kind, body, CancellationToken.None).AsTask()
                        .ContinueWith(t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
                    break;
                }
            }
        }
        return false;
    }

    private async ValueTask ReplyFromBackplaneAsync(string correlationId, string kind, byte[] body, CancellationToken ct)
    {
        if (_pending.IsWaiting(correlationId) && _replyCodecs.TryGetValue(kind, out var codec) && await codec.DecodeAsync(correlationId, body, ct) is { } reply)
        {
            _pending.Complete(correlationId, reply);
        }
    }

    // ---- groups ----

    /// <summary>
    /// Queues <paramref name="replay"/> on one link (an ack, then what it missed), then makes it a member of <paramref name="group"/>
    /// (a stream, a session), so it follows live from there. The caller holds the lock that orders the group's deliveries.
    /// </summary>
    public void Join(Address? group, LinkConnection link, IEnumerable<byte[]>? replay = null)
    {
        foreach (var frame in replay ?? [])
        {
            link.TrySend(frame);
        }
        if (group is { } g)
        {
            _links.Join(g, link);
        }
    }

    /// <summary>Makes every link of <paramref name="members"/> (say, an agent's observers) a member of <paramref name="group"/>.</summary>
    public void JoinAll(Address group, Address members)
    {
        foreach (var link in _links.Group(members).ToList())
        {
            _links.Join(group, link);
        }
    }

    /// <summary>Removes one link from a group.</summary>
    public void Leave(Address group, LinkConnection link) => _links.Leave(group, link);

    /// <summary>Removes every link from a group (the stream or session ended).</summary>
    public void Disband(Address group) => _links.Disband(group);

    // ---- topics ----

    /// <summary>
    /// Publishes an event: the sender's right to publish is checked by the authorize filter, the event log numbers and keeps it,
    /// and the subscription index delivers it to every matching subscriber on this node (and the backplane to other nodes).
    /// </summary>
    /// <exception cref="Errors.ApiException">FORBIDDEN when the sender may not publish there (the filter's answer).</exception>
    public async ValueTask<BusEvent> PublishAsync(SystemEvent draft, KaiPrincipal sender, CancellationToken ct = default)
    {
        var envelope = new Envelope(Kai.Protocol.Frames.FrameTypes.Event, Address.Topic(draft.Topic ?? Protocol.Topics.ForEvent(draft.EventType, draft.Subject)), [], sender)
        {
            Publication = draft,
            CorrelationId = draft.CorrelationId,
        };
        var result = await RouteAsync(envelope, ct);
        return result.Published ?? throw new Errors.ApiException(Protocol.ErrorCodes.Forbidden, $"The event was not published ({result.Status}).");
    }

    /// <summary>
    /// Adds subscriptions and, with <paramref name="since"/>, queues the ack, a gap notice if history does not reach back, and the
    /// missed events, all before any later live event (one gate orders publishes against this).
    /// </summary>
    public SubscribeAck Subscribe(EventSubscriber subscriber, IReadOnlyList<Subscription> added, EventPosition? since, int maxPatterns, Func<SubscribeAck, byte[]?> ack)
    {
        lock (_topicGate)
        {
            _log.CheckSince(since);
            if (!subscriber.TryAdd(added, maxPatterns))
            {
                throw new Errors.ApiException(Protocol.ErrorCodes.ValidationError, $"A link may hold at most {maxPatterns} patterns; unsubscribe some first.",
                    new Dictionary<string, string[]> { ["events"] = [$"at most {maxPatterns} patterns per link"] });
            }
            foreach (var s in added)
            {
                _index.Add(subscriber, s);
            }
            var recovery = since is null ? null : _log.Recover(subscriber.Principal, added, since, int.MaxValue);
            var result = new SubscribeAck(added.Select(a => a.Pattern).ToList(), _log.Epoch, _log.Position.ToString(), recovery is { Gap: null }, recovery?.Events.Count ?? 0);
            if (ack(result) is { } ackBytes)
            {
                subscriber.TrySendRaw(ackBytes);
            }
            if (recovery?.Gap is { } gap)
            {
                subscriber.TrySendGap(gap, _time.GetUtcNow());
            }
            foreach (var e in recovery?.Events ?? [])
            {
                Count(subscriber.TrySend(e));
            }
            return result;
        }
    }

    /// <summary>Removes patterns of a subscriber; returns those it had.</summary>
    public IReadOnlyList<string> Unsubscribe(EventSubscriber subscriber, IReadOnlyList<string> patterns)
    {
        lock (_topicGate)
        {
            var removed = subscriber.Remove(patterns);
            foreach (var p in removed)
            {
                _index.Remove(subscriber, p);
            }
            return removed;
        }
    }

    /// <summary>Forgets a subscriber (its connection ended).</summary>
    public void Unsubscribe(EventSubscriber subscriber)
    {
        lock (_topicGate)
        {
            _index.RemoveAll(subscriber);
        }
    }

    /// <summary>Reads what a principal may see after <paramref name="since"/> (long polling), in the same order as live delivery.</summary>
    public Recovery Read(KaiPrincipal principal, IReadOnlyList<Subscription> subscriptions, EventPosition since, int limit)
    {
        lock (_topicGate)
        {
            _log.CheckSince(since);
            return _log.Recover(principal, subscriptions, since, limit);
        }
    }

    /// <summary>The event subscribers of this node (for token expiry sweeps).</summary>
    public IReadOnlyList<EventSubscriber> TopicSubscribers
    {
        get
        {
            lock (_topicGate)
            {
                return [.. _index.Subscribers];
            }
        }
    }

    public int TopicSubscriberCount
    {
        get
        {
            lock (_topicGate)
            {
                return _index.SubscriberCount;
            }
        }
    }

    /// <summary>Events queued to subscribers since start.</summary>
    public long TopicDelivered => Interlocked.Read(ref _topicDelivered);

    /// <summary>Events a matching subscriber did not get (closing or overflowed).</summary>
    public long TopicDropped => Interlocked.Read(ref _topicDropped);

    /// <summary>Subscribers closed because their send queue overflowed (4008).</summary>
    public long SlowConsumerDisconnects => Interlocked.Read(ref _slowConsumerDisconnects);

    private void Count(SendResult result)
    {
        switch (result)
        {
            case SendResult.Sent:
                Interlocked.Increment(ref _topicDelivered);
                break;
            case SendResult.Overflow:
                Interlocked.Increment(ref _slowConsumerDisconnects);
                Interlocked.Increment(ref _topicDropped);
                break;
            default:
                Interlocked.Increment(ref _topicDropped);
                break;
        }
    }

    // ---- resolve and deliver (the end of the pipeline) ----

    private async ValueTask<RouteResult> DeliverAsync(Envelope e, CancellationToken ct)
    {
        switch (e.Target.Kind)
        {
            case AddressKind.Agent:
                return await ToAgentAsync(e.Target.Id, e, ct);

            case AddressKind.Kah:
                var agentId = await _directory.ResolveHandleAsync(e.Target.Id, ct);
                return agentId is null ? RouteResult.NotFound : await ToAgentAsync(agentId, e, ct);

            case AddressKind.Capability:
                return await ToCapabilityAsync(e, ct);

            case AddressKind.Observers:
            case AddressKind.User:
            case AddressKind.Session:
            case AddressKind.Stream:
                return await ToGroupAsync(e, ct);

            case AddressKind.Topic:
                return await ToTopicAsync(e, ct);

            case AddressKind.Node:
                if (e.Target.Id == _backplane.NodeId)
                {
                    return RouteResult.Delivered(0);
                }
                return await _backplane.SendAsync(e.Target.GroupKey, e, ct) > 0 ? RouteResult.Delivered(1) : RouteResult.Unavailable;

            default:
                return RouteResult.NotFound;
        }
    }

    private async ValueTask<RouteResult> ToAgentAsync(string agentId, Envelope e, CancellationToken ct)
    {
        e.OnAgentChosen?.Invoke(agentId);
        var link = _links.AgentLink(agentId);
        if (link is not null)
        {
            if (e.FromBackplane && e.Intent is null && !Access.MayReach(e.Sender, link.OwnerId))
            {
                // The sending node checked the sender against a tenant it may have cached (AgentDirectory.RemoteTenantTtl): the agent
                // was deleted and its id taken by another tenant since. This node holds the link and knows its owner. (Invocations
                // carry an intent: the sending node's invocation policy decided them, and grants may reach other tenants.)
                return RouteResult.NotFound;
            }
            return link.TrySend(e.Frame)
                ? RouteResult.Delivered(1, agentId) with { ConnectionId = link.ConnectionId }
                : RouteResult.Unavailable with { AgentId = agentId };
        }
        foreach (var target in _targets)
        {
            if (await target.TryDeliverAsync(agentId, e, ct) is { } delivered)
            {
                return delivered;
            }
        }
        if (!e.FromBackplane && _backplane.HasPeers && await _backplane.SendAsync(Address.Agent(agentId).GroupKey, e, ct) > 0)
        {
            return RouteResult.Delivered(1, agentId);
        }
        // Not connected anywhere: tell "unknown" from "offline" (the authorize filter already hid other tenants' agents).
        return await _directory.ExistsAsync(agentId, ct) ? RouteResult.Unavailable with { AgentId = agentId } : RouteResult.NotFound;
    }

    private async ValueTask<RouteResult> ToCapabilityAsync(Envelope e, CancellationToken ct)
    {
        var tenant = e.Target.Tenant ?? e.Sender.OwnerId;
        var exclude = e.Exclude is null ? new HashSet<string>(StringComparer.Ordinal) : new HashSet<string>(e.Exclude, StringComparer.Ordinal);
        var any = false;
        // Failover: a candidate whose delivery fails is excluded and the next healthy one is tried (seed 000 "failover to healthy instances").
        for (var attempt = 0; attempt < 8; attempt++)
        {
            var candidates = await _directory.CandidatesAsync(tenant, e.Target.Id, ct);
            any |= candidates.Count > 0;
            var chosen = _capabilities.Choose(tenant, e.Target.Id, candidates, exclude);
            if (chosen is null)
            {
                break;
            }
            var result = await ToAgentAsync(chosen.AgentId, e, ct);
            if (result.IsDelivered)
            {
                return result;
            }
            _capabilities.RecordFailure(chosen.AgentId);
            exclude.Add(chosen.AgentId);
        }
        return any ? RouteResult.Unavailable : RouteResult.NotFound;
    }

    private async ValueTask<RouteResult> ToGroupAsync(Envelope e, CancellationToken ct)
    {
        var sent = 0;
        foreach (var link in _links.Group(e.Target))
        {
            if (link.TrySend(e.Frame))
            {
                sent++;
            }
        }
        if (!e.FromBackplane && _backplane.HasPeers)
        {
            sent += await _backplane.SendAsync(e.Target.GroupKey, e, ct);
        }
        return sent > 0 ? RouteResult.Delivered(sent) : RouteResult.Unavailable;
    }

    private async ValueTask<RouteResult> ToTopicAsync(Envelope e, CancellationToken ct)
    {
        BusEvent published;
        FanOutCounts counts;
        lock (_topicGate)
        {
            published = e.Event ?? _log.Append(e.Publication ?? throw new ArgumentException("A topic envelope needs a publication.", nameof(e)));
            counts = _index.FanOut(published);
        }
        Interlocked.Add(ref _topicDelivered, counts.Sent);
        Interlocked.Add(ref _topicDropped, counts.Dropped + counts.Overflowed);
        Interlocked.Add(ref _slowConsumerDisconnects, counts.Overflowed);
        if (!e.FromBackplane && _backplane.HasPeers)
        {
            await _backplane.PublishAsync(e.WithEvent(published), ct);
        }
        return new RouteResult(counts.Sent > 0 ? RouteStatus.Delivered : RouteStatus.Unavailable, counts.Sent) { Published = published };
    }

    /// <summary>An envelope from another node: delivered to this node's links only (never sent back to the backplane).</summary>
    private async ValueTask FromBackplaneAsync(Envelope e, CancellationToken ct)
    {
        if (e.Target.Kind == AddressKind.Topic && e.Event is not null)
        {
            lock (_topicGate)
            {
                _log.Observe(e.Event);
                var counts = _index.FanOut(e.Event);
                Interlocked.Add(ref _topicDelivered, counts.Sent);
            }
            return;
        }
        await DeliverAsync(e, ct);
    }
}
