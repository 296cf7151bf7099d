using System.Collections.Immutable;

namespace Kai.Hub.Events;

/// <summary>
/// The event subscribers of this node (<c>/ws</c> links and SSE streams), read by the router's topic fan-out.
/// A copy-on-write array: fan-out iterates a snapshot without locks; (un)registering is rare.
/// </summary>
internal sealed class TopicSubscriptions
{
    private readonly object _gate = new();
    private ImmutableArray<EventSubscriber> _all = [];
    private long _delivered;
    private long _dropped;
    private long _slowConsumerDisconnects;

    public ImmutableArray<EventSubscriber> All => _all;

    /// <summary>Events written to a subscriber's queue.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>Events a matching subscriber did not get (its connection was closing or overflowed).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Subscribers closed because their send queue overflowed (4008).</summary>
    public long SlowConsumerDisconnects => Interlocked.Read(ref _slowConsumerDisconnects);

    public void Add(EventSubscriber subscriber)
    {
        lock (_gate)
        {
            _all = _all.Add(subscriber);
        }
    }

    public void Remove(EventSubscriber subscriber)
    {
        lock (_gate)
        {
            _all = _all.Remove(subscriber);
        }
    }

    /// <summary>Sends one event to every subscriber that may see it and wants it. Never blocks: a full queue closes that subscriber only.</summary>
    /// <returns>How many subscribers got it.</returns>
    public int FanOut(BusEvent e)
    {
        var sent = 0;
        foreach (var s in _all)
        {
            if (!EventAccess.CanSee(s.Principal, e.OwnerId) || !s.Wants(e))
            {
                continue;
            }
            sent += Count(s.TrySend(e)) ? 1 : 0;
        }
        return sent;
    }

    /// <summary>Counts the outcome of one send; returns whether it was sent.</summary>
    public bool Count(SendResult result)
    {
        switch (result)
        {
            case SendResult.Sent:
                Interlocked.Increment(ref _delivered);
                return true;
            case SendResult.Overflow:
                Interlocked.Increment(ref _slowConsumerDisconnects);
                Interlocked.Increment(ref _dropped);
                return false;
            default:
                Interlocked.Increment(ref _dropped);
                return false;
        }
    }
}
