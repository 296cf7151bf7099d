using System.Text.Json;
using System.Text.Json.Serialization;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Observability;
using Kai.Hub.Routing;
using Kai.Hub.Security;
using Kai.Protocol;
using Kai.Protocol.Chat;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Edges;

/// <summary>
/// One message of the AgentConnect chat WebSocket (seed 003 "WebSocket Communication"):
/// <c>{type, content?, sender?, receiver?, timestamp, metadata?}</c>. Types are <c>text</c>, <c>response</c>, <c>ping</c>,
/// <c>error</c>, <c>info</c>, <c>system</c>, <c>stop</c> and <c>cooldown</c>.
/// </summary>
internal sealed record ChatFrame(
    string Type, string? Content, string? Sender, string? Receiver, DateTimeOffset Timestamp,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyDictionary<string, object?>? Metadata = null)
{
    /// <summary>The UTF-8 JSON of the frame (snake_case, nulls left out).</summary>
    public byte[] Encode() => JsonSerializer.SerializeToUtf8Bytes(this, KaiJson.Options);

    /// <summary>A seed 003 message error: <c>{type: "error", content, metadata{code, details}}</c>.</summary>
    public static ChatFrame ErrorFrame(string code, string message, object? details, DateTimeOffset now) =>
        new(ChatFrameTypes.Error, message, null, null, now, new Dictionary<string, object?> { ["code"] = code, ["details"] = details ?? new Dictionary<string, object?>() });
}

/// <summary>What the chat edge decided about a principal that opened <c>/api/chat/ws/{session_id}</c>.</summary>
/// <param name="SessionId">The session.</param>
/// <param name="OwnerId">The session's tenant.</param>
/// <param name="LinkAgentId">The agent id the link stands for (<c>human_{session}</c>).</param>
/// <param name="SessionDeadline">When the session times out (close 4002).</param>
internal sealed record ChatAdmission(string SessionId, string OwnerId, string LinkAgentId, DateTimeOffset SessionDeadline)
{
    public int RefuseCode { get; init; }

    public string? RefuseReason { get; init; }

    public static ChatAdmission Refuse(int code, string reason) => new("", "", "", DateTimeOffset.MinValue) { RefuseCode = code, RefuseReason = reason };
}

/// <summary>The link as the chat capability sees it: who, which session, and how to end it.</summary>
internal sealed class ChatLinkContext(LinkConnection link, ChatAdmission admission)
{
    public string SessionId => admission.SessionId;

    public string OwnerId => admission.OwnerId;

    public string LinkAgentId => admission.LinkAgentId;

    public KaiPrincipal Principal => link.Principal;

    public string ConnectionId => link.ConnectionId;

    /// <summary>Sends one frame to this link only (an answer to its own frame).</summary>
    public void Reply(ChatFrame frame) => link.TrySend(frame.Encode());

    /// <summary>Ends the link after what is queued (say, a system frame saying why) went out.</summary>
    public void Close(int code, string reason) => link.RequestCloseAfterFlush(code, reason);
}

/// <summary>The chat capability's side of the chat WebSocket: admission and the meaning of each client frame.</summary>
internal interface IChatSocketEdge
{
    /// <summary>Decides whether the principal may follow the session (4001 unknown, 4003 not theirs, 4002 ended).</summary>
    ValueTask<ChatAdmission> AdmitAsync(HttpContext http, KaiPrincipal principal, CancellationToken ct);

    /// <summary>After the link joined the session's group: what the client sees first (a system frame, the history).</summary>
    Task OpenedAsync(ChatLinkContext link, CancellationToken ct);

    /// <summary>One client frame other than <c>ping</c>, already parsed; an <see cref="ApiException"/> becomes an error frame.</summary>
    Task HandleAsync(ChatLinkContext link, string type, JsonElement frame, CancellationToken ct);

    /// <summary>The link ended.</summary>
    Task ClosedAsync(ChatLinkContext link);
}

/// <summary>The chat WebSocket's timing and size limits (seed 003 "Keep Alive", "Rate Limiting").</summary>
/// <param name="PingInterval">The server's <c>ping</c> frame period (30 s).</param>
/// <param name="InactivityTimeout">No client frame for this long closes the link with 4002 (30 s; <paramref name="InactivityGrace"/> is added).</param>
/// <param name="InactivityGrace">Slack for a client whose own 30 s heartbeat lands just after the timeout (5 s).</param>
/// <param name="MessagesPerMinute">Client frames per minute; one more closes with 4004 (60).</param>
/// <param name="MaxMessageBytes">The largest client frame answered normally; larger gets an error frame (16 KiB).</param>
internal sealed record ChatLinkLimits(TimeSpan PingInterval, TimeSpan InactivityTimeout, TimeSpan InactivityGrace, int MessagesPerMinute, int MaxMessageBytes);

/// <summary>
/// The lifecycle of the AgentConnect chat WebSocket <c>/api/chat/ws/{session_id}</c>: the upgrade, the token (<c>?token=</c> or
/// bearer; close 4003), the edge's admission, a connection slot, the link joined to the session's group
/// (<see cref="Address.Session"/>, so everything routed to the session reaches it), the server's <c>ping</c> on accept and every
/// interval, the inactivity and session timeouts (4002), the message budget (4004), and error frames for frames that are not
/// JSON, too large or unknown, which leave the link open.
/// </summary>
internal sealed class ChatSocketHost(
    Router router, WebSocketGate gate, HubMetrics metrics, TimeProvider time, IOptions<HubOptions> options)
{
    private readonly LinkOptions _links = options.Value.Links;

    /// <summary>Runs one chat WebSocket request to its end.</summary>
    /// <exception cref="ApiException">The request is not a WebSocket upgrade.</exception>
    public async Task RunAsync(HttpContext http, IChatSocketEdge edge, ChatLinkLimits limits)
    {
        if (!http.WebSockets.IsWebSocketRequest)
        {
            throw new ApiException(ErrorCodes.ValidationError, "This path takes a WebSocket upgrade (GET with Upgrade: websocket).");
        }
        var principal = WebSocketEdgeHost.PrincipalOf(http);
        using var socket = await http.WebSockets.AcceptWebSocketAsync();
        if (principal is null)
        {
            await WebSocketEdgeHost.CloseEarlyAsync(http, socket, CloseCodes.AuthenticationFailed, "authentication failed");
            return;
        }
        var admission = await edge.AdmitAsync(http, principal, http.RequestAborted);
        if (admission.RefuseCode != 0)
        {
            await WebSocketEdgeHost.CloseEarlyAsync(http, socket, admission.RefuseCode, admission.RefuseReason ?? "refused");
            return;
        }
        using var slot = gate.TryEnter(principal, out var code, out var reason);
        if (slot is null)
        {
            await WebSocketEdgeHost.CloseEarlyAsync(http, socket, code, reason);
            return;
        }
        var link = new LinkConnection(socket, admission.LinkAgentId, admission.OwnerId, LinkRole.Observer, principal, _links.SendQueueBytes, time, metrics);
        var context = new ChatLinkContext(link, admission);
        var group = Address.Session(admission.SessionId, admission.OwnerId);
        var budget = new WindowLimiter(limits.MessagesPerMinute, TimeSpan.FromMinutes(1), time);
        using var stop = new CancellationTokenSource();
        var writer = link.RunWriterAsync();
        Task? clock = null;
        try
        {
            var accepted = time.GetUtcNow();
            link.TrySend(new ChatFrame(ChatFrameTypes.Ping, null, null, null, accepted).Encode());
            router.Join(group, link);
            await edge.OpenedAsync(context, CancellationToken.None);
            clock = Task.Run(() => ClockAsync(link, admission, limits, accepted + limits.PingInterval, stop.Token));
            await link.RunReaderAsync(_links.MaxFrameBytes, bytes => OnFrameAsync(context, link, edge, limits, budget, bytes));
        }
        finally
        {
            router.Leave(group, link);
            link.RequestClose(CloseCodes.Normal, "closing");
            await stop.CancelAsync();
            if (clock is not null)
            {
                await clock;
            }
            await writer;
            await edge.ClosedAsync(context);
            await LingeringClose.FinishAsync(http, socket);
        }
    }

    private async ValueTask OnFrameAsync(ChatLinkContext context, LinkConnection link, IChatSocketEdge edge, ChatLinkLimits limits, WindowLimiter budget, ReadOnlyMemory<byte> bytes)
    {
        if (link.IsClosing)
        {
            return;
        }
        var now = time.GetUtcNow();
        using (var lease = budget.AttemptAcquire())
        {
            if (!lease.IsAcquired)
            {
                link.TrySend(ChatFrame.ErrorFrame(ErrorCodes.RateLimitExceeded, $"More than {limits.MessagesPerMinute} messages a minute; the connection is closed.", null, now).Encode());
                link.RequestCloseAfterFlush(CloseCodes.RateLimited, "rate limited");
                return;
            }
        }
        if (bytes.Length == 0)
        {
            link.TrySend(ChatFrame.ErrorFrame(ErrorCodes.ValidationError, "Send text frames holding a JSON object {type, content, timestamp}.", new { reason = "binary_or_empty" }, now).Encode());
            return;
        }
        if (bytes.Length > limits.MaxMessageBytes)
        {
            link.TrySend(ChatFrame.ErrorFrame(ErrorCodes.PayloadTooLarge, $"A message may be at most {limits.MaxMessageBytes} bytes; this one was {bytes.Length}.",
                new { max_bytes = limits.MaxMessageBytes, bytes = bytes.Length }, now).Encode());
            return;
        }
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes);
        }
        catch (JsonException e)
        {
            link.TrySend(ChatFrame.ErrorFrame(ErrorCodes.ValidationError, "The message is not JSON: " + e.Message, new { reason = "invalid_json" }, now).Encode());
            return;
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (!IJson.IsValidUnicode(root))
            {
                // A lone surrogate escape parses, then throws from GetString deep in the session's handling (RFC 7493 §2.1).
                link.TrySend(ChatFrame.ErrorFrame(ErrorCodes.ValidationError, "The message must be valid Unicode text (a lone surrogate such as \\ud800 is not).",
                    new { reason = "invalid_unicode" }, now).Encode());
                return;
            }
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out var t) || t.ValueKind != JsonValueKind.String)
            {
                link.TrySend(ChatFrame.ErrorFrame(ErrorCodes.ValidationError, "A message is a JSON object with a string 'type' (text, ping, stop).", new { reason = "missing_type" }, now).Encode());
                return;
            }
            var type = t.GetString()!;
            if (type == ChatFrameTypes.Ping)
            {
                // Accepted silently: the read itself counted as activity.
                return;
            }
            try
            {
                await edge.HandleAsync(context, type, root, CancellationToken.None);
            }
            catch (ApiException e)
            {
                link.TrySend(ChatFrame.ErrorFrame(e.Code, e.Message, e.DetailsElement(), time.GetUtcNow()).Encode());
            }
        }
    }

    /// <summary>Pings every interval, and closes the link with 4002 at the inactivity or session timeout.</summary>
    /// <remarks>Every deadline is computed from fixed instants (accept, last inbound frame), so a clock moved before this loop first waits is still honoured.</remarks>
    private async Task ClockAsync(LinkConnection link, ChatAdmission admission, ChatLinkLimits limits, DateTimeOffset nextPing, CancellationToken ct)
    {
        try
        {
            while (!link.IsClosing)
            {
                var now = time.GetUtcNow();
                var idleAt = link.LastInbound + limits.InactivityTimeout + limits.InactivityGrace;
                if (now >= admission.SessionDeadline)
                {
                    link.TrySend(new ChatFrame(ChatFrameTypes.System, "Session expired.", null, null, now, new Dictionary<string, object?> { ["reason"] = "session_timeout" }).Encode());
                    link.RequestCloseAfterFlush(CloseCodes.SessionExpired, "session expired");
                    return;
                }
                if (now >= idleAt)
                {
                    link.TrySend(new ChatFrame(ChatFrameTypes.System, "Closed after inactivity.", null, null, now, new Dictionary<string, object?> { ["reason"] = "inactivity_timeout" }).Encode());
                    link.RequestCloseAfterFlush(CloseCodes.SessionExpired, "inactivity timeout");
                    return;
                }
                if (now >= nextPing)
                {
                    link.TrySend(new ChatFrame(ChatFrameTypes.Ping, null, null, null, now).Encode());
                    while (nextPing <= now)
                    {
                        nextPing += limits.PingInterval;
                    }
                }
                var next = new[] { nextPing, idleAt, admission.SessionDeadline }.Min();
                await Task.Delay(next - now > TimeSpan.Zero ? next - now : TimeSpan.FromMilliseconds(1), time, ct);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
