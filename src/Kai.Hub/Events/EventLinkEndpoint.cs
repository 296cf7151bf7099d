using System.Text.Json;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Messaging;
using Kai.Hub.Observability;
using Kai.Hub.Security;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Protocol.Frames;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Events;

/// <summary>
/// The general event link <c>/ws</c> (seed 004): any authenticated principal subscribes to topic patterns with
/// filters and recovery, and publishes where its role allows. A thin edge: frames become calls on the
/// <see cref="EventBus"/>; delivery is the router's topic fan-out.
/// </summary>
internal static partial class EventLinkEndpoint
{
    public static IEndpointConventionBuilder MapEventLink(this IEndpointRouteBuilder app) =>
        app.Map("/ws", HandleAsync).WithTags("WebSocket").ExcludeFromDescription()
            .AllowAnonymous("authenticates itself after the upgrade (close 4003); frames are checked by FramePermissions");

    private static async Task HandleAsync(
        HttpContext http, TokenService tokens, EventBus bus, ConnectionRegistry registry, HubMetrics metrics, IOptions<HubOptions> hub,
        IOptions<EventOptions> events, TimeProvider time, WebSocketGate gate, AuditLog audit, ILogger<EventBus> logger)
    {
        var (accepted, principal) = await WebSocketEdge.AcceptAsync(http, tokens);
        using var socket = accepted;
        if (principal is null)
        {
            return;
        }
        using var slot = await WebSocketEdge.EnterAsync(socket, gate, principal);
        if (slot is null)
        {
            return;
        }
        var links = hub.Value.Links;
        var link = new LinkConnection(socket, principal.Id, principal.OwnerId, LinkRole.Events, principal, links.SendQueueBytes, time, metrics);
        var subscriber = new LinkSubscriber(link);
        var dispatcher = new FrameDispatcher(link, FramePermissions.EventLink, gate.NewMessageLimiter(), metrics, audit, time, logger);
        var session = new EventLinkSession(subscriber, dispatcher, bus, events.Value, time);
        registry.Add(link);
        bus.Subscribers.Add(subscriber);
        var writer = link.RunWriterAsync();
        try
        {
            link.TrySend(Frame.Encode(FrameTypes.Welcome, new EventLinkWelcome(principal.Id, principal.Role, bus.Epoch, bus.Position.ToString(),
                links.MaxFrameBytes, events.Value.MaxPatternsPerLink, events.Value.MaxPublishBytes), timestamp: time.GetUtcNow()));
            await link.RunReaderAsync(links.MaxFrameBytes, session.HandleAsync);
        }
        finally
        {
            link.RequestClose(CloseCodes.Normal, "closing");
            bus.Subscribers.Remove(subscriber);
            registry.Remove(link);
            await writer;
        }
    }
}

/// <summary>Handles the frames of one <c>/ws</c> link; the shared <see cref="FrameDispatcher"/> applies the frame policy and answers.</summary>
internal sealed class EventLinkSession(LinkSubscriber subscriber, FrameDispatcher dispatcher, EventBus bus, EventOptions options, TimeProvider time)
{
    public ValueTask HandleAsync(ReadOnlyMemory<byte> utf8) => dispatcher.HandleAsync(utf8, frame => Task.FromResult(Handle(frame)));

    private object? Handle(Frame frame)
    {
        switch (frame.Type)
        {
            case FrameTypes.Subscribe:
                Subscribe(frame);
                return FrameDispatcher.Acked; // the bus queued the ack before any replayed event
            case FrameTypes.Unsubscribe:
                var un = FrameDispatcher.Required<UnsubscribePayload>(frame);
                new Validation().Check(un.Events is { Count: > 0 }, "events", "must list at least one pattern").ThrowIfInvalid();
                return new Dictionary<string, object?> { ["unsubscribed"] = subscriber.Remove(un.Events!) };
            case FrameTypes.Publish:
                return Publish(FrameDispatcher.Required<PublishPayload>(frame));
            case FrameTypes.Heartbeat:
                return null;
            default:
                throw new ApiException(ErrorCodes.UnsupportedFrame, $"Frame type '{frame.Type}' is not accepted on /ws.");
        }
    }

    private void Subscribe(Frame frame)
    {
        var request = FrameDispatcher.Required<SubscribePayload>(frame);
        var subscriptions = EventRequests.Subscriptions(request.Events ?? request.Topics, EventFilter.Parse(request.Filters), options.MaxPatternsPerSubscribe, "events");
        var since = EventRequests.Since(request.Since);
        bus.Subscribe(subscriber, subscriptions, since,
            ack => frame.Id is null ? null : Frame.Encode(FrameTypes.Ack, ack, frame.Id, time.GetUtcNow()));
    }

    private PublishAck Publish(PublishPayload p)
    {
        var e = EventRequests.Publication(subscriber.Principal, p, options.MaxPublishBytes);
        var published = bus.Publish(e);
        return new PublishAck(published.Message.Id, published.Topic);
    }
}

/// <summary>Validation shared by the three transports (<c>/ws</c>, SSE, long polling) and REST publish.</summary>
internal static class EventRequests
{
    public static IReadOnlyList<Subscription> Subscriptions(IReadOnlyList<string>? patterns, EventFilter? filter, int max, string field)
    {
        var v = new Validation().Check(patterns is { Count: > 0 }, field, "must list at least one topic pattern");
        v.Check(patterns is null || patterns.Count <= max, field, $"must list at most {max} patterns");
        foreach (var p in patterns ?? [])
        {
            v.Check(Topics.IsValidPattern(p, out var error), field, $"'{p}': {error}");
        }
        v.ThrowIfInvalid();
        return patterns!.Distinct(StringComparer.Ordinal).Select(p => new Subscription(p, filter)).ToList();
    }

    public static EventPosition? Since(JsonElement? since)
    {
        if (since is not { } s || s.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            return null;
        }
        if (s.ValueKind == JsonValueKind.String)
        {
            return Since(s.GetString());
        }
        if (s.ValueKind == JsonValueKind.Object && s.TryGetProperty("epoch", out var epoch) && epoch.ValueKind == JsonValueKind.String
            && s.TryGetProperty("offset", out var offset) && offset.TryGetInt64(out var o)
            && EventPosition.TryParse($"{epoch.GetString()}-{o}", out var position))
        {
            return position;
        }
        throw BadSince();
    }

    public static EventPosition? Since(string? since)
    {
        if (string.IsNullOrEmpty(since))
        {
            return null;
        }
        return EventPosition.TryParse(since, out var position) ? position : throw BadSince();
    }

    private static ApiException BadSince() => new(ErrorCodes.ValidationError, "The request is invalid: since.",
        new Dictionary<string, string[]> { ["since"] = ["must be an event id \"{epoch}-{offset}\" or {\"epoch\": \"…\", \"offset\": n}"] });

    public static SystemEvent Publication(KaiPrincipal principal, PublishPayload p, int maxBytes)
    {
        var v = new Validation();
        v.Check(Topics.IsValidTopic(p.Topic, out var error), "topic", error ?? "");
        v.Length(p.CorrelationId, "correlation_id", 1, 128, required: false)
            .Length(p.TargetAgent, "target_agent", 1, 64, required: false)
            .ThrowIfInvalid();
        var size = p.Data.ValueKind == JsonValueKind.Undefined ? 4 : System.Text.Encoding.UTF8.GetByteCount(p.Data.GetRawText());
        if (size > maxBytes)
        {
            throw new ApiException(ErrorCodes.PayloadTooLarge, $"The event data is {size} bytes; at most {maxBytes} are allowed.",
                new Dictionary<string, int> { ["size"] = size, ["max_bytes"] = maxBytes });
        }
        var owner = EventAccess.PublishScope(principal, p.Topic!);
        return new SystemEvent(p.Topic!, null, p.Data.ValueKind == JsonValueKind.Undefined ? null : p.Data.Clone(), owner,
            principal.IsAgent ? principal.Id : null, p.TargetAgent, p.CorrelationId, p.Topic);
    }
}
