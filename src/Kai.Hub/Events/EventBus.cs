using System.Security.Cryptography;
using System.Text.Json;
using Kai.Hub.Errors;
using Kai.Hub.Messaging;
using Kai.Hub.Observability;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Protocol.Frames;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Events;

/// <summary>What a recovery from a position found.</summary>
internal sealed record Recovery(IReadOnlyList<BusEvent> Events, GapPayload? Gap, EventPosition Next);

/// <summary>
/// The event bus: every event gets the next offset of this epoch, is kept in a bounded per-topic history, and is
/// handed to the router's topic fan-out. Publish is the one call capabilities make:
/// <c>await events.PublishAsync(new SystemEvent("task.completed", taskType, payload, ownerId))</c>.
/// </summary>
/// <remarks>
/// <para>Offsets are global (one sequence for all topics), so one cursor resumes a subscription over many
/// patterns. History is in memory, so the epoch is new at every start and a <c>since</c> from another epoch is
/// a gap. Histories are per (tenant, topic), so one tenant's traffic never evicts another tenant's history.</para>
/// <para>Publish, recovery and (un)subscribe-with-replay run under one lock: offsets are assigned, appended and
/// fanned out in order, and a subscriber's replay is queued before any live event that follows it, with nothing
/// missed or doubled in between. Fan-out only enqueues (never blocks), so the lock is held for microseconds.</para>
/// </remarks>
internal sealed partial class EventBus(Router router, TopicSubscriptions subscribers, TimeProvider time, IOptions<EventOptions> options)
    : IHousekeeping
{
    private static readonly JsonElement NullJson = JsonDocument.Parse("null").RootElement.Clone();
    private readonly EventOptions _options = options.Value;
    private readonly object _gate = new();
    private readonly Dictionary<string, TopicHistory> _histories = new(StringComparer.Ordinal);
    // Highest offset dropped with a whole history (topic cap), per tenant ("" = tenant-less): a since before it may have lost events.
    private readonly Dictionary<string, long> _evicted = new(StringComparer.Ordinal);
    private TaskCompletionSource _published = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _offset;

    /// <summary>The epoch: random per start, 12 hex characters.</summary>
    public string Epoch { get; } = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));

    /// <summary>The position of the last event published (offset 0 before any).</summary>
    public EventPosition Position => new(Epoch, Interlocked.Read(ref _offset));

    /// <summary>Events published since start.</summary>
    public long Published => Interlocked.Read(ref _offset);

    public TopicSubscriptions Subscribers => subscribers;

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

    /// <summary>Publishes an event to its topic: history, then live fan-out to every subscriber that may see it.</summary>
    /// <returns>The event's position (its id is <c>position.ToString()</c>).</returns>
    public ValueTask<EventPosition> PublishAsync(SystemEvent e, CancellationToken ct = default) => ValueTask.FromResult(Publish(e).Position);

    internal BusEvent Publish(SystemEvent e)
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
        lock (_gate)
        {
            var offset = _offset + 1;
            var now = time.GetUtcNow();
            published = new BusEvent(Epoch, offset, e.OwnerId, new EventMessage(
                new EventPosition(Epoch, offset).ToString(), now, e.EventType, topic, e.SourceAgent, e.TargetAgent, e.CorrelationId, payload));
            Interlocked.Exchange(ref _offset, offset);
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
            router.FanOut(new Envelope(FrameTypes.Event, Address.Topic(topic), published.Frame, null) { Event = published });
            signal = _published;
            _published = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        signal.TrySetResult();
        return published;
    }

    /// <summary>
    /// Adds subscriptions to <paramref name="subscriber"/> and, with <paramref name="since"/>, queues the ack, a gap
    /// notice if history does not reach back, and the missed events, all before any later live event.
    /// </summary>
    /// <param name="subscriber">The connection.</param>
    /// <param name="added">The validated patterns and filters.</param>
    /// <param name="since">Where to recover from; null for live only.</param>
    /// <param name="ack">Encodes the ack for this connection (null: none is sent, for frames without an id).</param>
    public SubscribeAck Subscribe(EventSubscriber subscriber, IReadOnlyList<Subscription> added, EventPosition? since, Func<SubscribeAck, byte[]?> ack)
    {
        lock (_gate)
        {
            CheckSince(since);
            if (!subscriber.TryAdd(added, _options.MaxPatternsPerLink))
            {
                throw new ApiException(ErrorCodes.ValidationError, $"A link may hold at most {_options.MaxPatternsPerLink} patterns; unsubscribe some first.",
                    new Dictionary<string, string[]> { ["events"] = [$"at most {_options.MaxPatternsPerLink} patterns per link"] });
            }
            var recovery = since is null ? null : RecoverLocked(subscriber.Principal, added, since, int.MaxValue);
            var result = new SubscribeAck(added.Select(a => a.Pattern).ToList(), Epoch, Position.ToString(), recovery is { Gap: null }, recovery?.Events.Count ?? 0);
            if (ack(result) is { } ackBytes)
            {
                subscriber.TrySendRaw(ackBytes);
            }
            if (recovery?.Gap is { } gap)
            {
                subscriber.TrySendRaw(subscriber is SseSubscriber
                    ? BusEvent.SseBytes(FrameTypes.Gap, null, JsonSerializer.SerializeToUtf8Bytes(gap, KaiJsonContext.Default.GapPayload))
                    : Frame.Encode(FrameTypes.Gap, gap, timestamp: time.GetUtcNow()));
            }
            foreach (var e in recovery?.Events ?? [])
            {
                subscribers.Count(subscriber.TrySend(e));
            }
            return result;
        }
    }

    /// <summary>Reads what a principal may see after <paramref name="since"/>, oldest first, at most <paramref name="limit"/> (long polling).</summary>
    public Recovery Read(Auth.KaiPrincipal principal, IReadOnlyList<Subscription> subscriptions, EventPosition since, int limit)
    {
        lock (_gate)
        {
            CheckSince(since);
            return RecoverLocked(principal, subscriptions, since, limit);
        }
    }

    private void CheckSince(EventPosition? since)
    {
        if (since is not null && since.Epoch == Epoch && (since.Offset > _offset || since.Offset < 0))
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
            if (!EventAccess.CanSee(principal, history.OwnerId) || !subscriptions.Any(s => Topics.Matches(s.Pattern, history.Topic)))
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
            if (EventAccess.CanSee(principal, tenant.Length == 0 ? null : tenant))
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

    /// <summary>Trims histories by age, drops the least recently used ones past the topic cap, and closes subscribers whose token expired (4002).</summary>
    public Task SweepAsync(CancellationToken ct)
    {
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
        foreach (var s in subscribers.All)
        {
            if (s.Principal.ExpiresAt + TimeSpan.FromSeconds(30) < now)
            {
                s.Close(CloseCodes.SessionExpired, "access token expired; reconnect with a fresh token");
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
