using System.Text.Json;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Edges;
using Kai.Hub.Routing;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Protocol.Frames;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Events;

/// <summary>
/// The general event link <c>/ws</c> (seed 004): any authenticated principal subscribes to topic patterns with filters and
/// recovery, and publishes where its role allows. A thin edge: the lifecycle is the <see cref="WebSocketEdgeHost"/>'s, frames
/// become calls on the router (subscribe, publish).
/// </summary>
internal sealed class EventLinkEdge(WebSocketEdgeHost host, Router router, EventLog log, IOptions<EventOptions> options, TimeProvider time) : IWebSocketEdge
{
    public ValueTask<LinkAdmission> AdmitAsync(HttpContext http, KaiPrincipal principal, CancellationToken ct) =>
        ValueTask.FromResult(new LinkAdmission(principal.Id, principal.OwnerId, LinkRole.Events, FramePermissions.EventLink));

    public ILinkSession CreateSession(HttpContext http, LinkConnection link, FrameDispatcher dispatcher) =>
        new EventLinkSession(link, host, router, log, options.Value, time);
}

internal static class EventLinkEndpoint
{
    public static IEndpointConventionBuilder MapEventLink(this IEndpointRouteBuilder app) =>
        app.Map("/ws", (HttpContext http, WebSocketEdgeHost host, EventLinkEdge edge) => host.RunAsync(http, edge)).WithTags("WebSocket").ExcludeFromDescription()
            .AllowAnonymous("authenticates itself after the upgrade (close 4003); frames are checked by FramePermissions");
}

/// <summary>Handles the frames of one <c>/ws</c> link; the shared <see cref="FrameDispatcher"/> applies the frame policy and answers.</summary>
internal sealed class EventLinkSession(LinkConnection link, WebSocketEdgeHost host, Router router, EventLog log, EventOptions options, TimeProvider time) : ILinkSession
{
    private readonly LinkTopics _topics = new(link, router, options, time);

    public Task OpenedAsync(CancellationToken ct)
    {
        var p = link.Principal;
        host.Welcome(link, new EventLinkWelcome(p.Id, p.Role, log.Epoch, log.Position.ToString(), host.MaxFrameBytes, options.MaxPatternsPerLink, options.MaxPublishBytes));
        return Task.CompletedTask;
    }

    public async Task<object?> HandleAsync(InboundFrame frame)
    {
        switch (frame.Type)
        {
            case FrameTypes.Subscribe:
                return _topics.Subscribe(frame);
            case FrameTypes.Unsubscribe:
                return _topics.Unsubscribe(frame);
            case FrameTypes.Publish:
                var e = EventRequests.Publication(link.Principal, FrameDispatcher.Required<PublishPayload>(frame), options.MaxPublishBytes);
                var published = await router.PublishAsync(e, link.Principal);
                return new PublishAck(published.Message.Id, published.Topic);
            case FrameTypes.Heartbeat:
                return null;
            default:
                throw new ApiException(ErrorCodes.UnsupportedFrame, $"Frame type '{frame.Type}' is not accepted on /ws.");
        }
    }

    public Task ClosedAsync(bool wasCurrent)
    {
        _topics.Close();
        return Task.CompletedTask;
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
            .Unicode(p.Data, "data")
            .ThrowIfInvalid();
        var size = p.Data.ValueKind == JsonValueKind.Undefined ? 4 : System.Text.Encoding.UTF8.GetByteCount(p.Data.GetRawText());
        if (size > maxBytes)
        {
            throw new ApiException(ErrorCodes.PayloadTooLarge, $"The event data is {size} bytes; at most {maxBytes} are allowed.",
                new Dictionary<string, int> { ["size"] = size, ["max_bytes"] = maxBytes });
        }
        var owner = Access.PublishScope(principal, p.Topic!);
        return new SystemEvent(p.Topic!, null, p.Data.ValueKind == JsonValueKind.Undefined ? null : p.Data.Clone(), owner,
            principal.IsAgent ? principal.Id : null, p.TargetAgent, p.CorrelationId, p.Topic);
    }
}
