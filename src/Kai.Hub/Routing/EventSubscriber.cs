using System.Collections.Immutable;
using Kai.Hub.Auth;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Protocol.Frames;

namespace Kai.Hub.Routing;

internal enum SendResult
{
    Sent,
    /// <summary>Not sent: the connection is closing.</summary>
    Dropped,
    /// <summary>Not sent: the send queue overflowed and the connection is now being closed as a slow consumer.</summary>
    Overflow,
}

/// <summary>One pattern of a subscriber, with its optional filter.</summary>
internal sealed record Subscription(string Pattern, EventFilter? Filter);

/// <summary>
/// A connection that receives events: a <c>/ws</c> link or an SSE response. Its subscriptions are an immutable
/// snapshot replaced on (un)subscribe, so fan-out reads them without locks.
/// </summary>
internal abstract class EventSubscriber(KaiPrincipal principal)
{
    private ImmutableArray<Subscription> _subscriptions = [];

    public string Id { get; } = Guid.NewGuid().ToString("N");

    public KaiPrincipal Principal { get; } = principal;

    /// <summary>The sequence number of the last fan-out that reached it; used only under the router's topic gate (one delivery per event).</summary>
    internal long LastFanOut { get; set; }

    public ImmutableArray<Subscription> Subscriptions => ImmutableInterlocked.InterlockedCompareExchange(ref _subscriptions, default, default);

    public abstract bool IsClosing { get; }

    /// <summary>Whether any pattern matches the event's topic with its filter passing. An event is sent at most once per subscriber however many patterns match.</summary>
    public bool Wants(BusEvent e) => Wants(Subscriptions, e);

    public static bool Wants(ImmutableArray<Subscription> subscriptions, BusEvent e)
    {
        foreach (var s in subscriptions)
        {
            if (Topics.Matches(s.Pattern, e.Topic) && (s.Filter is null || s.Filter.Matches(e.Message.Payload)))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Adds or replaces patterns; returns false (changing nothing) if the total would pass <paramref name="max"/>.</summary>
    public bool TryAdd(IReadOnlyList<Subscription> added, int max)
    {
        var current = Subscriptions;
        var names = added.Select(a => a.Pattern).ToHashSet(StringComparer.Ordinal);
        var next = current.RemoveAll(s => names.Contains(s.Pattern)).AddRange(added);
        if (next.Length > max)
        {
            return false;
        }
        ImmutableInterlocked.InterlockedExchange(ref _subscriptions, next);
        return true;
    }

    public IReadOnlyList<string> Remove(IReadOnlyList<string> patterns)
    {
        var names = patterns.ToHashSet(StringComparer.Ordinal);
        var current = Subscriptions;
        var removed = current.Where(s => names.Contains(s.Pattern)).Select(s => s.Pattern).ToList();
        ImmutableInterlocked.InterlockedExchange(ref _subscriptions, current.RemoveAll(s => names.Contains(s.Pattern)));
        return removed;
    }

    /// <summary>Queues raw bytes (an event in this connection's form, or a control frame); never blocks.</summary>
    public abstract SendResult TrySendRaw(byte[] bytes);

    public abstract SendResult TrySend(BusEvent e);

    /// <summary>Queues the <c>gap</c> notice of a recovery that could not reach back (a frame; SSE overrides it with its own form).</summary>
    public virtual SendResult TrySendGap(GapPayload gap, DateTimeOffset now) => TrySendRaw(Frame.Encode(FrameTypes.Gap, gap, timestamp: now));

    /// <summary>Closes the connection with a close code (WebSocket) or ends the response (SSE).</summary>
    public abstract void Close(int code, string reason);
}

/// <summary>A <c>/ws</c> link as an event subscriber: events go out as the shared <c>event</c> frame bytes.</summary>
internal sealed class LinkSubscriber(LinkConnection link) : EventSubscriber(link.Principal)
{
    public LinkConnection Link { get; } = link;

    public override bool IsClosing => Link.IsClosing;

    public override SendResult TrySend(BusEvent e) => TrySendRaw(e.Frame);

    public override SendResult TrySendRaw(byte[] bytes)
    {
        if (Link.IsClosing)
        {
            return SendResult.Dropped;
        }
        if (Link.TrySend(bytes))
        {
            return SendResult.Sent;
        }
        return Link.CloseCode == CloseCodes.SlowConsumer ? SendResult.Overflow : SendResult.Dropped;
    }

    public override void Close(int code, string reason) => Link.RequestClose(code, reason);
}
