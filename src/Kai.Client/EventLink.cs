using System.Runtime.CompilerServices;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Protocol.Frames;

namespace Kai.Client;

/// <summary>
/// One item of an event stream: an <see cref="EventMessage"/>, or a <see cref="GapPayload"/> that says events were lost
/// (docs/protocol.md, "Event ids, history and recovery"). Exactly one of the two is set.
/// </summary>
/// <param name="Event">The event, or <see langword="null"/> for a gap.</param>
/// <param name="Gap">The gap, or <see langword="null"/> for an event.</param>
public sealed record EventOrGap(EventMessage? Event, GapPayload? Gap)
{
    /// <summary>Whether this item is a gap: history could not cover the requested position; re-read whatever state you derive from events.</summary>
    public bool IsGap => Gap is not null;
}

/// <summary>
/// The event link <c>/ws</c> (issue 4; seeds 000 and 004): subscribe to topic patterns with filters and recovery, unsubscribe,
/// publish, and read <c>event</c> and <c>gap</c> frames in order. One link, no reconnects; <see cref="EventSubscription"/>
/// reconnects and resumes for you. Create it with <see cref="HubClient.ConnectEventsAsync"/>.
/// </summary>
public sealed class EventLink : IAsyncDisposable
{
    private readonly HubLink _link;
    private string? _lastEventId;

    internal EventLink(HubLink link)
    {
        _link = link;
        Welcome = link.WelcomeAs<EventLinkWelcome>();
    }

    /// <summary>The <c>welcome</c> frame: principal, role, the hub's epoch and position, and the link's limits.</summary>
    public EventLinkWelcome Welcome { get; }

    /// <summary>The id (<c>"{epoch}-{offset}"</c>) of the last event read through <see cref="ReadAllAsync"/>, or null; use it as <c>since</c> after a reconnect.</summary>
    public string? LastEventId => Volatile.Read(ref _lastEventId);

    /// <summary>Completes when the link closes, by either side.</summary>
    public Task Completion => _link.Completion;

    /// <summary>The close code once closed (for example 4008 slow consumer, 4002 token expired, 1001 hub shutting down), else null.</summary>
    public int? CloseCode => _link.CloseCode;

    /// <summary>The close reason once closed.</summary>
    public string? CloseReason => _link.CloseReason;

    /// <summary>
    /// Sends <c>subscribe {events, filters?, since?}</c> and waits for its ack. After the ack come, in order: a <c>gap</c> if history
    /// does not reach back to <paramref name="since"/>, the <c>replayed</c> events, then live ones (all through <see cref="ReadAllAsync"/>).
    /// </summary>
    /// <param name="patterns">1 to 32 patterns: dot-separated segments, <c>*</c> one segment, a trailing <c>&gt;</c> one or more (e.g. <c>task.*.completed</c>).</param>
    /// <param name="filters">Optional payload filters (seed 004): an object (or anything serializing to one) of field → value or array of allowed values.</param>
    /// <param name="since">Optional event id to recover from: events after it are replayed.</param>
    /// <param name="ct">Cancellation.</param>
    /// <returns>The ack: patterns subscribed, epoch, position, whether everything was recovered, and how many events are replayed.</returns>
    /// <exception cref="HubApiException"><c>VALIDATION_ERROR</c> for a bad pattern, filter or position (details name the field).</exception>
    public async Task<SubscribeAck> SubscribeAsync(IReadOnlyList<string> patterns, object? filters = null, string? since = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(patterns);
        var payload = new SubscribePayload(
            patterns,
            filters is null ? null : filters as JsonElement? ?? JsonSerializer.SerializeToElement(filters, KaiJson.Options),
            since is null ? null : JsonSerializer.SerializeToElement(since, KaiJson.Options));
        var ack = await _link.RequestAsync(FrameTypes.Subscribe, payload, ct: ct);
        return ack.PayloadAs<SubscribeAck>()!;
    }

    /// <summary>Sends <c>unsubscribe {events}</c>.</summary>
    /// <param name="patterns">The patterns, exactly as subscribed; unknown ones are ignored.</param>
    /// <param name="ct">Cancellation.</param>
    /// <returns>The patterns that were subscribed and now are not.</returns>
    public async Task<IReadOnlyList<string>> UnsubscribeAsync(IReadOnlyList<string> patterns, CancellationToken ct = default)
    {
        var ack = await _link.RequestAsync(FrameTypes.Unsubscribe, new UnsubscribePayload(patterns), ct: ct);
        return ack.Payload.TryGetProperty("unsubscribed", out var list) ? list.Deserialize<List<string>>(KaiJson.Options) ?? [] : [];
    }

    /// <summary>Sends <c>publish {topic, data, correlation_id?, target_agent?}</c> and waits for the ack.</summary>
    /// <param name="topic">A concrete topic the role may publish to: <c>app.…</c> or <c>custom.…</c> (admins also <c>system.…</c>).</param>
    /// <param name="data">The event payload: any JSON-serializable value, at most 64 KiB of JSON by default.</param>
    /// <param name="correlationId">Optional correlation id (at most 128 characters).</param>
    /// <param name="targetAgent">Optional agent the event is meant for (informational).</param>
    /// <param name="ct">Cancellation.</param>
    /// <returns>The new event's id and topic.</returns>
    /// <exception cref="HubApiException"><c>FORBIDDEN</c> for a namespace the role may not publish to, <c>PAYLOAD_TOO_LARGE</c>, <c>VALIDATION_ERROR</c>.</exception>
    public async Task<PublishAck> PublishAsync(string topic, object? data, string? correlationId = null, string? targetAgent = null, CancellationToken ct = default)
    {
        var payload = new PublishPayload(topic, data as JsonElement? ?? JsonSerializer.SerializeToElement(data, KaiJson.Options), correlationId, targetAgent);
        var ack = await _link.RequestAsync(FrameTypes.Publish, payload, ct: ct);
        return ack.PayloadAs<PublishAck>()!;
    }

    /// <summary>
    /// The <c>event</c> and <c>gap</c> frames, in the order the hub sent them, until the link closes (then the sequence ends; see
    /// <see cref="CloseCode"/>). Each event read updates <see cref="LastEventId"/>. Other frames (<c>error</c> without an id) are skipped.
    /// </summary>
    /// <param name="ct">Cancellation.</param>
    /// <returns>The items.</returns>
    public async IAsyncEnumerable<EventOrGap> ReadAllAsync([EnumeratorCancellation] CancellationToken ct = default)
    {
        await foreach (var frame in _link.ReadAllAsync(ct))
        {
            if (frame.Type == FrameTypes.Event && frame.PayloadAs<EventMessage>() is { } e)
            {
                Volatile.Write(ref _lastEventId, e.Id);
                yield return new EventOrGap(e, null);
            }
            else if (frame.Type == FrameTypes.Gap && frame.PayloadAs<GapPayload>() is { } gap)
            {
                yield return new EventOrGap(null, gap);
            }
        }
    }

    /// <summary>Closes the link normally (1000).</summary>
    public Task CloseAsync() => _link.CloseAsync();

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _link.DisposeAsync();
}
