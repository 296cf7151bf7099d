using Kai.Hub.Auth;

namespace Kai.Hub.Routing;

/// <summary>How the router treats an envelope (docs/architecture.md, "Delivery semantics").</summary>
internal enum Delivery
{
    /// <summary>At most once to what is connected now; nothing is kept when the target is offline.</summary>
    Live,
    /// <summary>The owning service stored it before routing (commands, task leases); an offline target gets it on reconnect.</summary>
    Durable,
    /// <summary>A response is awaited (<see cref="Router.RequestAsync"/>), correlated by <see cref="Envelope.CorrelationId"/>, under the deadline.</summary>
    Request,
}

/// <summary>
/// The one internal envelope every edge converts its input into and every service hands to the <see cref="Router"/>.
/// <see cref="Frame"/> is the frame as it goes out, serialized once however many links receive it.
/// </summary>
internal sealed class Envelope
{
    public Envelope(string type, Address target, byte[] frame, KaiPrincipal sender)
    {
        Type = type;
        Target = target;
        Frame = frame;
        Sender = sender;
    }

    /// <summary>The frame type, for metrics, audit and logs.</summary>
    public string Type { get; }

    /// <summary>Where it goes.</summary>
    public Address Target { get; }

    /// <summary>The UTF-8 frame to write, encoded once.</summary>
    public byte[] Frame { get; }

    /// <summary>Who sent it; always set. Services acting on their own behalf send as <see cref="KaiPrincipal.System"/>.</summary>
    public KaiPrincipal Sender { get; }

    public Delivery Delivery { get; init; } = Delivery.Live;

    /// <summary>When delivery stops being useful (from a <c>timeout</c> or <c>ttl</c>); the router refuses an envelope past it.</summary>
    public DateTimeOffset? Deadline { get; init; }

    /// <summary>Ties a request to its response, and a message to its conversation.</summary>
    public string? CorrelationId { get; init; }

    /// <summary>The W3C <c>traceparent</c> of the span that sent it.</summary>
    public string? TraceParent { get; init; }

    /// <summary>For <see cref="AddressKind.Topic"/>: the event to publish; the event log numbers it on delivery.</summary>
    public SystemEvent? Publication { get; init; }

    /// <summary>For <see cref="AddressKind.Topic"/>: the numbered event (set once published, or when it arrives from another node).</summary>
    public BusEvent? Event { get; init; }

    /// <summary>For <see cref="AddressKind.Capability"/>: agents not to choose (those that already failed this envelope).</summary>
    public IReadOnlySet<string>? Exclude { get; init; }

    /// <summary>Set by the transport when the envelope arrived from another node (it is then delivered locally only).</summary>
    public bool FromBackplane { get; init; }

    /// <summary>For a KAIL <c>invocation</c>: the intent asked, which the authorize filter checks against the invocation policy (<see cref="Access.MayInvoke"/>).</summary>
    public string? Intent { get; init; }

    /// <summary>
    /// Told the agent the router is about to hand an agent-addressed envelope to, before its frame is written (a handle or a
    /// capability resolves in the router, so the sender cannot know it earlier). A request's service uses it to say who holds the
    /// work while it is in flight (files it references, issue 13) without a race against the agent acting on the frame. Called once
    /// per candidate tried; the last call is the agent that got it. Must be quick and must not throw.
    /// </summary>
    public Action<string>? OnAgentChosen { get; init; }

    /// <summary>The same envelope for another address (a handle resolved to an agent, a retry).</summary>
    public Envelope With(Address target) => new(Type, target, Frame, Sender)
    {
        Delivery = Delivery, Deadline = Deadline, CorrelationId = CorrelationId, TraceParent = TraceParent, Publication = Publication, Event = Event,
        Exclude = Exclude, FromBackplane = FromBackplane, Intent = Intent, OnAgentChosen = OnAgentChosen,
    };

    /// <summary>The published form of a topic envelope, as it goes to other nodes.</summary>
    public Envelope WithEvent(BusEvent published) => new(Type, Target, published.Frame, Sender)
    {
        Delivery = Delivery, Deadline = Deadline, CorrelationId = CorrelationId, TraceParent = TraceParent, Event = published,
    };
}

/// <summary>What became of an envelope.</summary>
internal enum RouteStatus
{
    Delivered,
    /// <summary>No such target, or one the sender may not reach (the two look the same to the sender).</summary>
    NotFound,
    /// <summary>The target exists and may be reached, but nothing can take it now (no live link, link closing, all candidates full or unhealthy).</summary>
    Unavailable,
    /// <summary>The sender routed more than its budget (<see cref="RouteResult.RetryAfter"/> says when to try again).</summary>
    RateLimited,
    /// <summary>The envelope's deadline had passed.</summary>
    Expired,
    /// <summary>The sender may see the target but the policy refuses this use of it (a KAIL intent not granted).</summary>
    Forbidden,
}

/// <summary>The outcome of one route: the status, how many links got it, and for agent-like targets which agent.</summary>
internal readonly record struct RouteResult(RouteStatus Status, int Receivers = 0, string? AgentId = null, TimeSpan? RetryAfter = null)
{
    /// <summary>For an agent delivered on a live link of this node: that link's connection id (a lease answered tokenless must come back on it).</summary>
    public string? ConnectionId { get; init; }

    /// <summary>For a topic envelope: the event as numbered by the event log.</summary>
    public BusEvent? Published { get; init; }

    public static readonly RouteResult NotFound = new(RouteStatus.NotFound);
    public static readonly RouteResult Unavailable = new(RouteStatus.Unavailable);
    public static readonly RouteResult Expired = new(RouteStatus.Expired);

    public bool IsDelivered => Status == RouteStatus.Delivered;

    public static RouteResult Delivered(int receivers, string? agentId = null) => new(RouteStatus.Delivered, receivers, agentId);
}
