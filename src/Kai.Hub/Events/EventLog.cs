using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text.Json;
using Kai.Hub.Housekeeping;
using Kai.Hub.Errors;
using Kai.Hub.Auth;
using Kai.Hub.Routing;
using Kai.Hub.Observability;
using Kai.Protocol;
using Kai.Protocol.Events;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Events;

/// <summary>
/// The event log (<see cref="ITopicLog"/>): every event gets the next offset of this epoch and is kept in a bounded per-topic
/// history, for recovery (<c>since</c>, <c>Last-Event-ID</c>) and long polling. Delivery is the router's: capabilities publish
/// with <c>router.PublishAsync(new SystemEvent(...), sender)</c>, and the router appends here and fans out through its
/// subscription index, under its topic gate.
/// </summary>
/// <remarks>
/// <para>Offsets are global (one sequence for all topics), so one cursor resumes a subscription over many patterns. On the
/// embedded store history is in memory, so the epoch is new at every start and a <c>since</c> from another epoch is a gap.
/// Histories are per (tenant, topic), so one tenant's traffic never evicts another tenant's history.</para>
/// <para>With a durable history (<see cref="IEventHistory"/>: the PostgreSQL store) the epoch is the database's and offsets come
/// from its sequence, so positions survive restarts and mean the same on every node: a client that reconnects to another node
/// with its last event id recovers from the shared history. Retention is then the housekeeping leader's
/// (<see cref="PostgresEventHistory.SweepAsync"/>).</para>
/// </remarks>
internal sealed partial class EventLog(TimeProvider time, IOptionsMonitor<EventOptions> options, IEventHistory? durable = null) : ITopicLog, IHousekeeping
{
    private const int DurablePage = 1000;
    private readonly string _memoryEpoch = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
    private long _count;
    private int _positionLoaded;

    private static readonly JsonElement NullJson = JsonDocument.Parse("null").RootElement.Clone();
    // Read on each use: these settings may change at run time (/api/v1/config).
    private EventOptions _options => options.CurrentValue;
    private readonly object _gate = new();
    private readonly Dictionary<string, TopicHistory> _histories = new(StringComparer.Ordinal);
    // Highest offset dropped with a whole history (topic cap), per tenant ("" = tenant-less): a since before it may have lost events.
    private readonly Dictionary<string, long> _evicted = new(StringComparer.Ordinal);
    private TaskCompletionSource _published = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _offset;

    /// <summary>The epoch, 12 hex characters: random per start (in memory), or the database's (durable history).</summary>
    public string Epoch => durable?.Epoch ?? _memoryEpoch;

    /// <summary>Whether history is the shared durable one (PostgreSQL) rather than this process's memory.</summary>
    public bool Durable => durable is not null;

    /// <summary>
    /// The position of the last event published (offset 0 before any). With a durable history it starts at the cluster's
    /// position (read once), then follows this node's publishes, the events it receives from other nodes and every recovery.
    /// </summary>
    public EventPosition Position
    {
        get
        {
            if (durable is not null && Volatile.Read(ref _positionLoaded) == 0)
            {
                Advance(durable.LastOffset());
                Volatile.Write(ref _positionLoaded, 1);
            }
            return new(Epoch, Interlocked.Read(ref _offset));
        }
    }

    /// <summary>Events published by this node since start.</summary>
    public long Published => Interlocked.Read(ref _count);

    /// <summary>Completes at the next publish; take it before reading, then wait, so no publish is missed.</summary>
    public Task NextPublish
    {
        get
        {
            lock (_gate)
            {
                return _published.Task;
            }
        }
    }

    /// <summary>Numbers an event and keeps it in its (tenant, topic) history. The router calls it under its topic gate.</summary>
    public BusEvent Append(SystemEvent e)
    {
        var topic = e.Topic ?? Topics.ForEvent(e.EventType, e.Subject);
        var payload = e.Payload switch
        {
            null => NullJson,
            JsonElement j => j.ValueKind == JsonValueKind.Undefined ? NullJson : j,
            _ => JsonSerializer.SerializeToElement(e.Payload, KaiJson.Options),
        };
        BusEvent published;
        TaskCompletionSource signal;
        if (durable is not null)
        {
            var at = time.GetUtcNow();
            var stored = new EventMessage("", at, e.EventType, topic, e.SourceAgent, e.TargetAgent, e.CorrelationId, payload);
            var offset = durable.Append(e.OwnerId, topic, stored);
            var epoch = Epoch;
            published = new BusEvent(epoch, offset, e.OwnerId, stored with { Id = new EventPosition(epoch, offset).ToString() });
            Interlocked.Increment(ref _count);
            Advance(offset);
            return published;
        }
        lock (_gate)
        {
            var offset = _offset + 1;
            var now = time.GetUtcNow();
            published = new BusEvent(Epoch, offset, e.OwnerId, new EventMessage(
                new EventPosition(Epoch, offset).ToString(), now, e.EventType, topic, e.SourceAgent, e.TargetAgent, e.CorrelationId, payload));
            Interlocked.Exchange(ref _offset, offset);
            Interlocked.Increment(ref _count);
            if (_options.HistorySize > 0)
            {
                var key = Key(e.OwnerId, topic);
                if (!_histories.TryGetValue(key, out var history))
                {
                    _histories[key] = history = new TopicHistory(e.OwnerId, topic);
                }
                history.Append(published, _options.HistorySize, now - _options.HistoryTtl);
            }
            else
            {
                // No history at all: every event is immediately "trimmed", so any since before it is a gap.
                _evicted[e.OwnerId ?? ""] = offset;
            }
            signal = _published;
            _published = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        signal.TrySetResult();
        return published;
    }

    /// <summary>
    /// An event another node published (durable history only): moves this node's position past it and wakes long polls, which
    /// then read it from the shared history.
    /// </summary>
    public void Observe(BusEvent e)
    {
        if (durable is not null && e.Position.Epoch == Epoch)
        {
            Advance(e.Offset);
        }
    }

    private void Advance(long offset)
    {
        TaskCompletionSource signal;
        lock (_gate)
        {
            if (offset > _offset)
            {
                Interlocked.Exchange(ref _offset, offset);
            }
            signal = _published;
            _published = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        signal.TrySetResult();
    }

    /// <summary>What a principal may see after <paramref name="since"/>, oldest first, at most <paramref name="limit"/>.</summary>
    public Recovery Recover(Auth.KaiPrincipal principal, IReadOnlyList<Subscription> subscriptions, EventPosition since, int limit)
    {
        if (durable is not null)
        {
            return RecoverDurable(durable, principal, subscriptions, since, limit);
        }
        lock (_gate)
        {
            return RecoverLocked(principal, subscriptions, since, limit);
        }
    }

    public void CheckSince(EventPosition? since)
    {
        if (durable is not null && since is not null && since.Epoch == Epoch && since.Offset > Interlocked.Read(ref _offset))
        {
            // Another node may have published past what this node has seen: ask the shared history.
            Advance(durable.LastOffset());
        }
        var position = Interlocked.Read(ref _offset);
        if (since is not null && since.Epoch == Epoch && (since.Offset > position || since.Offset < 0))
        {
            throw new ApiException(ErrorCodes.ValidationError, $"'since' ({since}) is ahead of the hub's position ({Position}).",
                new Dictionary<string, string[]> { ["since"] = [$"must be at most {Position}"] });
        }
    }

    private Recovery RecoverLocked(Auth.KaiPrincipal principal, IReadOnlyList<Subscription> subscriptions, EventPosition since, int limit)
    {
        var epochChanged = since.Epoch != Epoch;
        var after = epochChanged ? 0 : since.Offset;
        var expiredBefore = time.GetUtcNow() - _options.HistoryTtl;
        long trimmed = 0;
        long? first = null;
        var events = new List<BusEvent>();
        foreach (var history in _histories.Values)
        {
            if (!Access.CanSeeEvent(principal, history.OwnerId) || !subscriptions.Any(s => Topics.Matches(s.Pattern, history.Topic)))
            {
                continue;
            }
            history.TrimOlderThan(expiredBefore);
            trimmed = Math.Max(trimmed, history.TrimmedThrough);
            foreach (var e in history.Events)
            {
                first = first is null ? e.Offset : Math.Min(first.Value, e.Offset);
                if (e.Offset > after && EventSubscriber.Wants([.. subscriptions], e))
                {
                    events.Add(e);
                }
            }
        }
        foreach (var (tenant, offset) in _evicted)
        {
            if (Access.CanSeeEvent(principal, tenant.Length == 0 ? null : tenant))
            {
                trimmed = Math.Max(trimmed, offset);
            }
        }
        events.Sort((a, b) => a.Offset.CompareTo(b.Offset));
        GapPayload? gap = null;
        if (epochChanged || trimmed > after)
        {
            gap = new GapPayload(since.ToString(), Epoch, first is null ? null : new EventPosition(Epoch, first.Value).ToString(), Position.ToString(),
                epochChanged ? "epoch_changed" : "history_trimmed", subscriptions.Select(s => s.Pattern).ToList());
        }
        if (events.Count > limit)
        {
            events.RemoveRange(limit, events.Count - limit);
            return new Recovery(events, gap, events[^1].Position);
        }
        return new Recovery(events, gap, Position);
    }

    private Recovery RecoverDurable(IEventHistory history, Auth.KaiPrincipal principal, IReadOnlyList<Subscription> subscriptions, EventPosition since, int limit)
    {
        var epoch = Epoch;
        var epochChanged = since.Epoch != epoch;
        var after = epochChanged ? 0 : since.Offset;
        var expiredBefore = time.GetUtcNow() - _options.HistoryTtl;
        ImmutableArray<Subscription> wanted = [.. subscriptions];
        long trimmed = 0;
        long? first = null;
        var events = new List<BusEvent>();
        var cursor = after;
        var firstPage = true;
        long last;
        while (true)
        {
            var page = history.Read(cursor, DurablePage);
            last = page.Last;
            if (firstPage)
            {
                foreach (var (owner, topic, through) in page.Trims)
                {
                    if (Access.CanSeeEvent(principal, owner) && (topic.Length == 0 || subscriptions.Any(s => Topics.Matches(s.Pattern, topic))))
                    {
                        trimmed = Math.Max(trimmed, through);
                    }
                }
                firstPage = false;
            }
            foreach (var stored in page.Events)
            {
                cursor = stored.Offset;
                if (!Access.CanSeeEvent(principal, stored.OwnerId) || !subscriptions.Any(s => Topics.Matches(s.Pattern, stored.Topic)))
                {
                    continue;
                }
                if (stored.Published < expiredBefore)
                {
                    // Past its age and not yet swept: as good as trimmed.
                    trimmed = Math.Max(trimmed, stored.Offset);
                    continue;
                }
                first ??= stored.Offset;
                var e = new BusEvent(epoch, stored.Offset, stored.OwnerId, stored.Message);
                if (EventSubscriber.Wants(wanted, e))
                {
                    events.Add(e);
                }
            }
            if (!page.More || events.Count > limit)
            {
                break;
            }
        }
        Advance(last);
        var position = new EventPosition(epoch, Math.Max(last, Interlocked.Read(ref _offset)));
        GapPayload? gap = null;
        if (epochChanged || trimmed > after)
        {
            gap = new GapPayload(since.ToString(), epoch, first is null ? null : new EventPosition(epoch, first.Value).ToString(), position.ToString(),
                epochChanged ? "epoch_changed" : "history_trimmed", subscriptions.Select(s => s.Pattern).ToList());
        }
        if (events.Count > limit)
        {
            events.RemoveRange(limit, events.Count - limit);
            return new Recovery(events, gap, events[^1].Position);
        }
        return new Recovery(events, gap, position);
    }

    /// <summary>Trims histories by age and drops the least recently used ones past the topic cap (in memory; a durable history is swept by the leader).</summary>
    public Task SweepAsync(CancellationToken ct)
    {
        if (durable is not null)
        {
            return Task.CompletedTask;
        }
        var now = time.GetUtcNow();
        lock (_gate)
        {
            foreach (var history in _histories.Values)
            {
                history.TrimOlderThan(now - _options.HistoryTtl);
            }
            if (_histories.Count > _options.MaxTopics)
            {
                foreach (var (key, history) in _histories.OrderBy(kv => kv.Value.LastPublished).Take(_histories.Count - _options.MaxTopics).ToList())
                {
                    _histories.Remove(key);
                    var tenant = history.OwnerId ?? "";
                    _evicted[tenant] = Math.Max(_evicted.GetValueOrDefault(tenant), history.LastOffset);
                }
            }
        }
        return Task.CompletedTask;
    }

    private static string Key(string? ownerId, string topic) => (ownerId ?? "") + "\n" + topic;

    private sealed class TopicHistory(string? ownerId, string topic)
    {
        private readonly Queue<BusEvent> _events = new();

        public string? OwnerId { get; } = ownerId;

        public string Topic { get; } = topic;

        /// <summary>The highest offset that left this history: a since before it may have missed events.</summary>
        public long TrimmedThrough { get; private set; }

        public long LastOffset { get; private set; }

        public DateTimeOffset LastPublished { get; private set; }

        public IEnumerable<BusEvent> Events => _events;

        public void Append(BusEvent e, int maxCount, DateTimeOffset expiredBefore)
        {
            _events.Enqueue(e);
            LastOffset = e.Offset;
            LastPublished = e.Timestamp;
            while (_events.Count > maxCount)
            {
                TrimmedThrough = _events.Dequeue().Offset;
            }
            TrimOlderThan(expiredBefore);
        }

        public void TrimOlderThan(DateTimeOffset cutoff)
        {
            while (_events.TryPeek(out var oldest) && oldest.Timestamp < cutoff)
            {
                TrimmedThrough = _events.Dequeue().Offset;
            }
        }
    }
}
