using System.Globalization;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Events;

namespace Kai.Client;

public sealed partial class HubClient
{
    /// <summary>
    /// Opens the event link <c>/ws</c> (any signed-in principal; docs/protocol.md "The event link"). Subscribe on it with
    /// <see cref="EventLink.SubscribeAsync"/>; for a subscription that reconnects and resumes by itself use <see cref="SubscribeEvents"/>.
    /// </summary>
    /// <exception cref="HubLinkClosedException">The hub refused the link (4003: missing or invalid token).</exception>
    public async Task<EventLink> ConnectEventsAsync(CancellationToken ct = default) => new(await ConnectLinkAsync("ws", ct));

    /// <summary>
    /// A subscription to <paramref name="patterns"/> that reconnects with backoff and resumes from the last event id
    /// (<see cref="EventSubscription"/>). Nothing connects until its <see cref="EventSubscription.ReadAllAsync"/> is enumerated.
    /// </summary>
    /// <param name="patterns">1 to 32 topic patterns, e.g. <c>task.*.completed</c>, <c>agent.&gt;</c>.</param>
    /// <param name="options">Filters, start position and backoff.</param>
    /// <returns>The subscription.</returns>
    public EventSubscription SubscribeEvents(IReadOnlyList<string> patterns, EventSubscriptionOptions? options = null) => new(this, patterns, options);

    /// <summary><c>POST /api/v1/events</c>: publishes an event over REST (202). Same rules as the <c>publish</c> frame.</summary>
    /// <param name="topic">A concrete topic: <c>app.…</c> or <c>custom.…</c> (admins also <c>system.…</c>).</param>
    /// <param name="data">The payload, any JSON-serializable value (at most 64 KiB of JSON by default).</param>
    /// <param name="correlationId">Optional correlation id.</param>
    /// <param name="ct">Cancellation.</param>
    /// <returns>The event id and topic.</returns>
    /// <exception cref="HubApiException"><c>FORBIDDEN</c> (403) for a namespace the role may not publish to; <c>VALIDATION_ERROR</c>.</exception>
    public Task<PublishAck> PublishEventAsync(string topic, object? data, string? correlationId = null, CancellationToken ct = default) =>
        SendAsync<PublishAck>(HttpMethod.Post, "api/v1/events",
            new PublishPayload(topic, data as JsonElement? ?? JsonSerializer.SerializeToElement(data, KaiJson.Options), correlationId), ct);

    /// <summary>
    /// <c>GET /api/v1/agents/{id}/logs</c> (seed 000): stored <c>log</c> entries of an agent, newest first.
    /// </summary>
    /// <param name="agentId">The agent.</param>
    /// <param name="level">Minimum severity: <c>debug</c> &lt; <c>info</c> &lt; <c>warn</c> &lt; <c>error</c>.</param>
    /// <param name="since">Only entries at or after this time.</param>
    /// <param name="limit">Page size, 1 to 1000 (hub default 100).</param>
    /// <param name="cursor">A <see cref="LogsResponse.NextCursor"/> from the previous page.</param>
    /// <param name="ct">Cancellation.</param>
    /// <returns><c>{logs, total, next_cursor}</c>; <c>total</c> counts every entry matching level and since.</returns>
    /// <exception cref="HubApiException"><c>AGENT_NOT_FOUND</c> (404) for an unknown agent or another user's; <c>VALIDATION_ERROR</c> for a bad level or limit.</exception>
    public Task<LogsResponse> GetAgentLogsAsync(
        string agentId, string? level = null, DateTimeOffset? since = null, int? limit = null, string? cursor = null, CancellationToken ct = default) =>
        SendAsync<LogsResponse>(HttpMethod.Get, $"api/v1/agents/{Uri.EscapeDataString(agentId)}/logs" + Query(
            ("level", level),
            ("since", since?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture)),
            ("limit", Str(limit)),
            ("cursor", cursor)), null, ct);

    /// <summary>
    /// Starts a prompt stream (<c>POST /api/v1/agents/{id}/stream-prompt</c>, seed 000) and attaches an observer link to it from
    /// chunk 0, so no chunk sent before the attach is lost. Read the chunks with <see cref="PromptStream.ReadAllAsync"/>; control
    /// it with <see cref="PromptStream.PauseAsync"/>, <see cref="PromptStream.ResumeAsync"/>, <see cref="PromptStream.CancelAsync"/>.
    /// </summary>
    /// <param name="agentId">The agent to prompt; it needs a live link with a stream handler (<see cref="AgentHost.OnStream"/>).</param>
    /// <param name="prompt">The prompt, 1 to 100,000 characters.</param>
    /// <param name="context">Optional object passed to the agent as is.</param>
    /// <param name="streamId">Optional stream id (1 to 64 of <c>A-Z a-z 0-9 _ -</c>); generated when null.</param>
    /// <param name="ct">Cancellation.</param>
    /// <returns>The stream, attached.</returns>
    /// <exception cref="HubApiException"><c>AGENT_UNAVAILABLE</c> (503) without a live link, <c>AGENT_NOT_FOUND</c> (404), <c>CONFLICT</c> (409) for a stream id in use.</exception>
    public async Task<PromptStream> StartStreamAsync(string agentId, string prompt, object? context = null, string? streamId = null, CancellationToken ct = default)
    {
        var body = new StreamPromptRequest(prompt, streamId, context is null ? null : context as JsonElement? ?? JsonSerializer.SerializeToElement(context, KaiJson.Options));
        var started = await SendAsync<StreamPromptResponse>(HttpMethod.Post, $"api/v1/agents/{Uri.EscapeDataString(agentId)}/stream-prompt", body, ct);
        var link = await ConnectLinkAsync(
            $"ws/agents/{Uri.EscapeDataString(agentId)}?stream_id={Uri.EscapeDataString(started.StreamId)}", ct);
        return new PromptStream(this, agentId, started, link);
    }
}
