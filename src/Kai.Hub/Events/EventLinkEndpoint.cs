using System.Text.Json;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Messaging;
using Kai.Hub.Observability;
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
        app.Map("/ws", HandleAsync).WithTags("WebSocket").ExcludeFromDescription();

    private static async Task HandleAsync(
        HttpContext http, TokenService tokens, EventBus bus, HubMetrics metrics, IOptions<HubOptions> hub, IOptions<EventOptions> events, TimeProvider time,
        ILogger<EventBus> logger)
    {
        if (!http.WebSockets.IsWebSocketRequest)
        {
            throw new ApiException(ErrorCodes.ValidationError, "This path takes a WebSocket upgrade (GET with Upgrade: websocket).");
        }
        var claims = tokens.Validate(BearerAuthenticationHandler.TokenFrom(http), out _);
        using var socket = await http.WebSockets.AcceptWebSocketAsync();
        var principal = claims is null ? null : KaiPrincipal.From(claims);
        if (principal is null)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await socket.CloseAsync((System.Net.WebSockets.WebSocketCloseStatus)CloseCodes.AuthenticationFailed, "authentication failed", timeout.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or System.Net.WebSockets.WebSocketException)
            {
                socket.Abort();
            }
            return;
        }
        var links = hub.Value.Links;
        var link = new LinkConnection(socket, principal.Id, principal.OwnerId, LinkRole.Events, principal, links.SendQueueBytes, time, metrics);
        var kind = new KeyValuePair<string, object?>("kind", "events");
        metrics.Connections.Add(1, kind);
        var subscriber = new LinkSubscriber(link);
        var session = new EventLinkSession(subscriber, bus, events.Value, time, logger);
        bus.Subscribers.Add(subscriber);
        var writer = link.RunWriterAsync();
        try
        {
            link.TrySend(Frame.Create(FrameTypes.Welcome, new EventLinkWelcome(principal.Id, principal.Role, bus.Epoch, bus.Position.ToString(),
                links.MaxFrameBytes, events.Value.MaxPatternsPerLink, events.Value.MaxPublishBytes), timestamp: time.GetUtcNow()).ToUtf8());
            await link.RunReaderAsync(links.MaxFrameBytes, session.HandleAsync);
        }
        finally
        {
            link.RequestClose(CloseCodes.Normal, "closing");
            bus.Subscribers.Remove(subscriber);
            metrics.Connections.Add(-1, kind);
            await writer;
        }
    }
}

/// <summary>Handles the frames of one <c>/ws</c> link; every frame with an <c>id</c> gets an <c>ack</c> or an <c>error</c>.</summary>
internal sealed partial class EventLinkSession(LinkSubscriber subscriber, EventBus bus, EventOptions options, TimeProvider time, ILogger logger)
{
    public ValueTask HandleAsync(ReadOnlyMemory<byte> utf8)
    {
        Frame frame;
        try
        {
            if (utf8.IsEmpty)
            {
                throw new JsonException("Binary frames are not supported; send UTF-8 JSON text.");
            }
            frame = Frame.Parse(utf8.Span);
        }
        catch (JsonException ex)
        {
            Error(null, ErrorCodes.ValidationError, $"Malformed frame: {ex.Message}");
            return ValueTask.CompletedTask;
        }
        if (frame.Id is { Length: > 128 })
        {
            Error(null, ErrorCodes.ValidationError, "A frame id must be at most 128 characters.");
            return ValueTask.CompletedTask;
        }
        try
        {
            object? ack;
            switch (frame.Type)
            {
                case FrameTypes.Subscribe:
                    Subscribe(frame);
                    return ValueTask.CompletedTask; // the bus queued the ack before any replayed event
                case FrameTypes.Unsubscribe:
                    var un = Required<UnsubscribePayload>(frame);
                    new Validation().Check(un.Events is { Count: > 0 }, "events", "must list at least one pattern").ThrowIfInvalid();
                    ack = new Dictionary<string, object?> { ["unsubscribed"] = subscriber.Remove(un.Events!) };
                    break;
                case FrameTypes.Publish:
                    ack = Publish(Required<PublishPayload>(frame));
                    break;
                case FrameTypes.Heartbeat:
                    ack = null;
                    break;
                default:
                    throw new ApiException(ErrorCodes.UnsupportedFrame, $"Frame type '{frame.Type}' is not accepted on /ws; accepted: subscribe, unsubscribe, publish, heartbeat.");
            }
            if (frame.Id is not null)
            {
                subscriber.TrySendRaw(Frame.Create(FrameTypes.Ack, ack ?? new Dictionary<string, object?>(), frame.Id, time.GetUtcNow()).ToUtf8());
            }
        }
        catch (ApiException ex)
        {
            Error(frame.Id, ex.Code, ex.Message, ex.DetailsElement());
        }
        catch (JsonException ex)
        {
            Error(frame.Id, ErrorCodes.ValidationError, $"The payload of '{frame.Type}' is malformed: {ex.Message}");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.FrameFailed(logger, ex, frame.Type, subscriber.Principal.Id);
            Error(frame.Id, ErrorCodes.InternalError, "The frame could not be processed.");
        }
        return ValueTask.CompletedTask;
    }

    private void Subscribe(Frame frame)
    {
        var request = Required<SubscribePayload>(frame);
        var subscriptions = EventRequests.Subscriptions(request.Events, EventFilter.Parse(request.Filters), options.MaxPatternsPerSubscribe, "events");
        var since = EventRequests.Since(request.Since);
        bus.Subscribe(subscriber, subscriptions, since,
            ack => frame.Id is null ? null : Frame.Create(FrameTypes.Ack, ack, frame.Id, time.GetUtcNow()).ToUtf8());
    }

    private PublishAck Publish(PublishPayload p)
    {
        var e = EventRequests.Publication(subscriber.Principal, p, options.MaxPublishBytes);
        var published = bus.Publish(e);
        return new PublishAck(published.Message.Id, published.Topic);
    }

    private static T Required<T>(Frame frame) where T : class =>
        frame.PayloadAs<T>() ?? throw new ApiException(ErrorCodes.ValidationError, $"A '{frame.Type}' frame needs a payload object.");

    private void Error(string? id, string code, string message, JsonElement? details = null) =>
        subscriber.TrySendRaw(Frame.Create(FrameTypes.Error, new ErrorPayload(code, message, details), id, time.GetUtcNow()).ToUtf8());

    private static partial class Log
    {
        [LoggerMessage(600, LogLevel.Error, "Frame {Type} on the event link of {PrincipalId} failed")]
        public static partial void FrameFailed(ILogger logger, Exception ex, string type, string principalId);
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
