using Kai.Hub.Auth;
using Kai.Protocol.Events;

namespace Kai.Hub.Routing;

/// <summary>What a recovery from a position found.</summary>
internal sealed record Recovery(IReadOnlyList<BusEvent> Events, GapPayload? Gap, EventPosition Next);

/// <summary>
/// The event log the router delivers topics from (implemented by <c>Events/EventLog</c>): it numbers events, keeps the bounded
/// history, and answers recoveries. The router calls <see cref="Append"/> and <see cref="Recover"/> under its topic gate, so
/// numbering, fan-out and replay happen in one order.
/// </summary>
internal interface ITopicLog
{
    /// <summary>The epoch: random per start (in-memory history) or the database's (durable history); a position from another epoch is a gap.</summary>
    string Epoch { get; }

    /// <summary>The position of the last event appended.</summary>
    EventPosition Position { get; }

    /// <summary>Numbers the event and keeps it in history.</summary>
    BusEvent Append(SystemEvent e);

    /// <summary>What <paramref name="principal"/> may see after <paramref name="since"/> in <paramref name="subscriptions"/>, oldest first, at most <paramref name="limit"/>.</summary>
    Recovery Recover(KaiPrincipal principal, IReadOnlyList<Subscription> subscriptions, EventPosition since, int limit);

    /// <summary>Throws VALIDATION_ERROR for a position ahead of the log.</summary>
    void CheckSince(EventPosition? since);

    /// <summary>An event another node published, as it arrives from the backplane (a durable log moves its position and wakes long polls).</summary>
    void Observe(BusEvent e)
    {
    }
}
