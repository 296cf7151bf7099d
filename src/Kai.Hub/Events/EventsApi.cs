using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Routing;
using Kai.Protocol;
using Kai.Protocol.Events;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Events;

/// <summary>
/// The fallbacks of <c>/ws</c> (seed 000 "sse-starlette" and "HTTP polling") with the same patterns, filters,
/// authorization and history, plus a REST publish.
/// </summary>
internal static class EventsApi
{
    public static RouteGroupBuilder MapEventsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/events").WithTags("Events");
        api.MapGet("/stream", StreamAsync).WithName("streamEvents").WithSummary("Subscribe to events as server-sent events (resumes with Last-Event-ID)").WithErrors(400, 401, 403).AllowAnonymous("EventSource cannot send headers: validates the bearer header or ?token= itself");
        api.MapGet("/", PollAsync).WithName("pollEvents").WithSummary("Long-poll events after a cursor").RequirePermission(Permissions.EventSubscribe);
        api.MapPost("/", PublishAsync).WithName("publishEvent").WithSummary("Publish an event to a topic").RequirePermission(Permissions.EventPublish);
        return api;
    }

    /// <summary>
    /// Server-Sent Events. Resumes after <c>Last-Event-ID</c> (or <c>since</c>); a gap is sent as an SSE event named
    /// <c>gap</c>. Takes the token as a bearer header or <c>?token=</c> (EventSource cannot set headers).
    /// </summary>
    private static async Task StreamAsync(
        HttpContext http, Router router, TokenService tokens, IOptions<EventOptions> options, TimeProvider time,
        string? topics, string? filters, string? since, string? token)
    {
        var raw = BearerTokens.From(http) ?? token;
        var principal = (raw is null ? null : tokens.Validate(raw, out _)) is { } claims ? KaiPrincipal.From(claims) : null;
        if (principal is null)
        {
            throw new ApiException(ErrorCodes.AuthenticationFailed, "A valid bearer access token is required (header or ?token=).");
        }
        var o = options.Value;
        var subscriptions = EventRequests.Subscriptions(SplitTopics(topics), EventFilter.ParseQuery(filters), o.MaxPatternsPerLink, "topics");
        var lastEventId = http.Request.Headers["Last-Event-ID"].FirstOrDefault();
        var from = EventRequests.Since(string.IsNullOrEmpty(lastEventId) ? since : lastEventId);

        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        var subscriber = new SseSubscriber(principal, http.Response, o.SseQueueBytes);
        subscriber.TrySendRaw("retry: 2000\n\n"u8.ToArray());
        using var pinging = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        try
        {
            router.Subscribe(subscriber, subscriptions, from, o.MaxPatternsPerLink, _ => null);
            var pings = PingAsync(subscriber, time, pinging.Token);
            await subscriber.RunWriterAsync(http.RequestAborted);
            await pinging.CancelAsync();
            await pings;
        }
        finally
        {
            router.Unsubscribe(subscriber);
        }
    }

    private static async Task PingAsync(SseSubscriber subscriber, TimeProvider time, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(15), time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                subscriber.SendPing();
            }
        }
        catch (OperationCanceledException)
        {
            // The stream ended.
        }
    }

    /// <summary>Long polling: events after <c>since</c>, waiting up to <c>wait</c> seconds for the first one.</summary>
    private static async Task<Ok<EventPollResponse>> PollAsync(
        HttpContext http, Router router, EventLog log, IOptions<EventOptions> options, TimeProvider time,
        string? topics, string? filters, string? since, int? wait, int? limit, CancellationToken ct)
    {
        var o = options.Value;
        new Validation()
            .Check(wait is null || (wait >= 0 && wait <= o.MaxPollWaitSeconds), "wait", $"must be 0 to {o.MaxPollWaitSeconds} seconds")
            .Check(limit is null or (>= 1 and <= 1000), "limit", "must be 1 to 1000")
            .ThrowIfInvalid();
        var principal = http.Principal();
        var subscriptions = EventRequests.Subscriptions(SplitTopics(topics), EventFilter.ParseQuery(filters), o.MaxPatternsPerLink, "topics");
        var from = EventRequests.Since(since) ?? log.Position;
        var deadline = time.GetUtcNow() + TimeSpan.FromSeconds(wait ?? 0);
        while (true)
        {
            var next = log.NextPublish;
            var found = router.Read(principal, subscriptions, from, limit ?? 100);
            var left = deadline - time.GetUtcNow();
            if (found.Events.Count > 0 || found.Gap is not null || left <= TimeSpan.Zero)
            {
                return TypedResults.Ok(new EventPollResponse(found.Events.Select(e => e.Message).ToList(), found.Next.ToString(), found.Gap is not null, found.Gap));
            }
            // Nothing yet: move the cursor past what we looked at (events this principal may not see) and wait.
            from = found.Next;
            try
            {
                await next.WaitAsync(left, time, ct);
            }
            catch (TimeoutException)
            {
                // Deadline reached: one last read below returns whatever arrived.
            }
        }
    }

    private static async Task<Accepted<PublishAck>> PublishAsync(PublishPayload request, HttpContext http, Router router, IOptions<EventOptions> options, CancellationToken ct)
    {
        var principal = http.Principal();
        var e = EventRequests.Publication(principal, request, options.Value.MaxPublishBytes);
        var published = await router.PublishAsync(e, principal, ct);
        return TypedResults.Accepted((string?)null, new PublishAck(published.Message.Id, e.Topic!));
    }

    private static List<string>? SplitTopics(string? topics) =>
        topics?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
}
