using System.Diagnostics;
using Kai.Hub.Auth;
using Kai.Hub.Observability;
using Kai.Hub.Storage;

namespace Kai.Hub.Messaging;

internal enum AddressKind
{
    /// <summary>An agent's own live link.</summary>
    Agent,
    /// <summary>Every observer link of an agent (its owner's and admins' links).</summary>
    Observers,
    /// <summary>Every event subscriber whose patterns match the topic and who may see the event (<see cref="Events.EventBus"/>).</summary>
    Topic,
}

/// <summary>Where an envelope goes.</summary>
internal readonly record struct Address(AddressKind Kind, string Id)
{
    public static Address Agent(string agentId) => new(AddressKind.Agent, agentId);

    public static Address ObserversOf(string agentId) => new(AddressKind.Observers, agentId);

    public static Address Topic(string topic) => new(AddressKind.Topic, topic);
}

/// <summary>
/// The internal envelope every edge converts its input into. <see cref="Frame"/> is the frame as it goes out,
/// serialized once however many links receive it.
/// </summary>
/// <param name="Type">The frame type, for metrics and logs.</param>
/// <param name="Target">Where it goes.</param>
/// <param name="Frame">The UTF-8 frame to write.</param>
/// <param name="Sender">Who sent it; null for the hub itself (already authorized by the caller).</param>
internal sealed record Envelope(string Type, Address Target, byte[] Frame, KaiPrincipal? Sender)
{
    /// <summary>For <see cref="AddressKind.Topic"/>: the published event (its tenant decides who may see it).</summary>
    public Events.BusEvent? Event { get; init; }
}

internal enum RouteStatus
{
    Delivered,
    /// <summary>No such target, or one the sender may not reach (the two look the same to the sender).</summary>
    NotFound,
    /// <summary>The target exists and may be reached, but has no live link (or its link is closing).</summary>
    Unavailable,
}

/// <summary>
/// The one router: resolves an envelope's address to the edges that deliver it, and checks that the sender may
/// reach the target. Live delivery is at most once: an envelope to an agent without a live link is not kept
/// (durable kinds, such as commands, are stored by their service before they are routed).
/// </summary>
internal sealed class Router(
    ConnectionRegistry links, IHubStore store, HubMetrics metrics, Events.TopicSubscriptions topics, IEnumerable<IAgentDeliveryHook> deliveryHooks)
{
    // TEMPORARY BRIDGE for hosted agents (see IAgentDeliveryHook); at most one is registered.
    private readonly IAgentDeliveryHook? _hosted = deliveryHooks.FirstOrDefault();

    public async ValueTask<RouteStatus> RouteAsync(Envelope envelope, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        var status = await DeliverAsync(envelope, ct);
        metrics.RoutingDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, new KeyValuePair<string, object?>("kind", KindName(envelope.Target.Kind)));
        return status;
    }

    private static string KindName(AddressKind kind) => kind switch
    {
        AddressKind.Agent => "agent",
        AddressKind.Observers => "observers",
        AddressKind.Topic => "topic",
        _ => "other",
    };

    private void Sent(Envelope envelope) => metrics.FramesOut.Add(1, new KeyValuePair<string, object?>("type", envelope.Type));

    private async ValueTask<RouteStatus> DeliverAsync(Envelope envelope, CancellationToken ct)
    {
        switch (envelope.Target.Kind)
        {
            case AddressKind.Agent:
                var link = links.AgentLink(envelope.Target.Id);
                if (link is not null)
                {
                    if (!MayReach(envelope.Sender, link.OwnerId))
                    {
                        return RouteStatus.NotFound;
                    }
                    if (!link.TrySend(envelope.Frame))
                    {
                        return RouteStatus.Unavailable;
                    }
                    Sent(envelope);
                    return RouteStatus.Delivered;
                }
                // TEMPORARY BRIDGE: a hosted agent (run by the hub itself) takes the frame its link would have received.
                if (_hosted?.RunningOwner(envelope.Target.Id) is { } hostedOwner)
                {
                    if (!MayReach(envelope.Sender, hostedOwner))
                    {
                        return RouteStatus.NotFound;
                    }
                    if (!_hosted.TryDeliver(envelope.Target.Id, envelope.Frame))
                    {
                        return RouteStatus.Unavailable;
                    }
                    Sent(envelope);
                    return RouteStatus.Delivered;
                }
                // Slow path, only when the target is not connected here: tell "unknown" from "offline".
                var agent = await store.GetAgentAsync(envelope.Target.Id, ct);
                return agent is null || !MayReach(envelope.Sender, agent.OwnerId) ? RouteStatus.NotFound : RouteStatus.Unavailable;

            case AddressKind.Observers:
                var delivered = 0;
                foreach (var observer in links.Observers(envelope.Target.Id))
                {
                    if (observer.TrySend(envelope.Frame))
                    {
                        delivered++;
                    }
                }
                if (delivered > 0)
                {
                    metrics.FramesOut.Add(delivered, new KeyValuePair<string, object?>("type", envelope.Type));
                }
                return delivered > 0 ? RouteStatus.Delivered : RouteStatus.Unavailable;

            case AddressKind.Topic:
                return topics.FanOut(envelope.Event!) > 0 ? RouteStatus.Delivered : RouteStatus.Unavailable;

            default:
                return RouteStatus.NotFound;
        }
    }

    /// <summary>
    /// Topic fan-out, synchronous because the event bus calls it under its ordering lock: the event's frame (serialized
    /// once) is queued on every subscriber that matches and may see it; a full queue closes that subscriber (4008).
    /// </summary>
    public RouteStatus FanOut(Envelope envelope)
    {
        if (envelope.Event is null)
        {
            return RouteStatus.NotFound;
        }
        var started = Stopwatch.GetTimestamp();
        var sent = topics.FanOut(envelope.Event);
        metrics.RoutingDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, new KeyValuePair<string, object?>("kind", "topic"));
        if (sent > 0)
        {
            metrics.FramesOut.Add(sent, new KeyValuePair<string, object?>("type", envelope.Type));
        }
        return sent > 0 ? RouteStatus.Delivered : RouteStatus.Unavailable;
    }

    /// <summary>By default a principal reaches the agents of its own owner; an admin reaches all.</summary>
    public static bool MayReach(KaiPrincipal? sender, string targetOwnerId) =>
        sender is null || sender.IsAdmin || sender.OwnerId == targetOwnerId;
}
