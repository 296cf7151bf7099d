using System.Net.WebSockets;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Observability;
using Kai.Hub.Routing;
using Kai.Hub.Security;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Edges;

/// <summary>What an edge decided about a principal that opened its socket: the link to make, or a refusal with a close code.</summary>
/// <param name="AgentId">The agent the link is about (for <c>/ws</c>: the principal itself).</param>
/// <param name="OwnerId">The tenant of <paramref name="AgentId"/>.</param>
/// <param name="Role">Agent, observer or event link.</param>
/// <param name="FrameEdge">The row group of <see cref="FramePermissions"/> its frames are checked against.</param>
internal sealed record LinkAdmission(string AgentId, string OwnerId, LinkRole Role, string FrameEdge)
{
    public int RefuseCode { get; init; }

    public string? RefuseReason { get; init; }

    public static LinkAdmission Refuse(int code, string reason) => new("", "", LinkRole.Events, "") { RefuseCode = code, RefuseReason = reason };
}

/// <summary>The frame handling of one open link, supplied by its edge.</summary>
internal interface ILinkSession
{
    /// <summary>After the link is registered and its writer runs: the welcome, presence, pending deliveries.</summary>
    Task OpenedAsync(CancellationToken ct);

    /// <summary>One frame that passed the shared policy (rate, parse, permission); returns the ack payload, or <see cref="FrameDispatcher.Acked"/>.</summary>
    Task<object?> HandleAsync(InboundFrame frame);

    /// <summary>After the link left the registry and its writer ended; <paramref name="wasCurrent"/> is false for a replaced agent link.</summary>
    Task ClosedAsync(bool wasCurrent);
}

/// <summary>
/// A session whose messages are not hub frames (<c>/ws/rpc</c> carries AMRI envelopes and JSON-RPC): it gets each text message as it
/// is, instead of the <see cref="FrameDispatcher"/>'s frame policy. It must not hold on to the buffer after the call returns.
/// </summary>
internal interface IRawLinkSession : ILinkSession
{
    /// <summary>One text message (empty for a binary one).</summary>
    ValueTask HandleMessageAsync(ReadOnlyMemory<byte> utf8);
}

/// <summary>A WebSocket edge: its admission rule and its sessions. The lifecycle around them is <see cref="WebSocketEdgeHost"/>'s.</summary>
internal interface IWebSocketEdge
{
    /// <summary>Decides the link for an authenticated principal (or refuses it).</summary>
    ValueTask<LinkAdmission> AdmitAsync(HttpContext http, KaiPrincipal principal, CancellationToken ct);

    /// <summary>The session that handles the link's frames.</summary>
    ILinkSession CreateSession(HttpContext http, LinkConnection link, FrameDispatcher dispatcher);
}

/// <summary>
/// The WebSocket lifecycle, written once for every edge (<c>/ws/agents/{id}</c>, <c>/ws</c>, and the edges to come): the upgrade,
/// the token (close 4003), the edge's admission, a connection slot under the per-user and per-node caps (4004, 1013), the link
/// with its bounded send queue and writer loop, the shared frame policy (<see cref="FrameDispatcher"/>), registration with the
/// router's local links, and the cleanup.
/// </summary>
internal sealed class WebSocketEdgeHost(
    ConnectionRegistry registry, WebSocketGate gate, HubMetrics metrics, AuditLog audit, TimeProvider time,
    IOptions<HubOptions> options, ILogger<WebSocketEdgeHost> logger)
{
    private readonly LinkOptions _links = options.Value.Links;

    /// <summary>The largest frame a link takes (1009 above it).</summary>
    public int MaxFrameBytes => _links.MaxFrameBytes;

    /// <summary>Runs one WebSocket request of <paramref name="edge"/> to its end.</summary>
    /// <exception cref="ApiException">The request is not a WebSocket upgrade (400).</exception>
    public async Task RunAsync(HttpContext http, IWebSocketEdge edge)
    {
        if (!http.WebSockets.IsWebSocketRequest)
        {
            throw new ApiException(ErrorCodes.ValidationError, "This path takes a WebSocket upgrade (GET with Upgrade: websocket).");
        }
        // The token is checked after the upgrade so that a browser client, which cannot read a refused upgrade's status,
        // learns why from the close code.
        var principal = PrincipalOf(http);
        using var socket = await http.WebSockets.AcceptWebSocketAsync();
        if (principal is null)
        {
            await CloseEarlyAsync(http, socket, CloseCodes.AuthenticationFailed, "authentication failed");
            return;
        }
        var admission = await edge.AdmitAsync(http, principal, http.RequestAborted);
        if (admission.RefuseCode != 0)
        {
            await CloseEarlyAsync(http, socket, admission.RefuseCode, admission.RefuseReason ?? "refused");
            return;
        }
        using var slot = gate.TryEnter(principal, out var code, out var reason);
        if (slot is null)
        {
            await CloseEarlyAsync(http, socket, code, reason);
            return;
        }
        var link = new LinkConnection(socket, admission.AgentId, admission.OwnerId, admission.Role, principal, _links.SendQueueBytes, time, metrics);
        var dispatcher = new FrameDispatcher(link, admission.FrameEdge, gate.NewMessageLimiter(), metrics, audit, time, logger);
        var session = edge.CreateSession(http, link, dispatcher);
        registry.Add(link);
        var writer = link.RunWriterAsync();
        var wasCurrent = false;
        try
        {
            await session.OpenedAsync(CancellationToken.None);
            // One delegate per link, not one per frame (a method group converts to a new delegate each time).
            Func<InboundFrame, Task<object?>> handle = session.HandleAsync;
            await link.RunReaderAsync(_links.MaxFrameBytes,
                session is IRawLinkSession raw ? raw.HandleMessageAsync : bytes => dispatcher.HandleAsync(bytes, handle));
        }
        finally
        {
            link.RequestClose(CloseCodes.Normal, "closing");
            wasCurrent = registry.Remove(link);
            await writer;
            await session.ClosedAsync(wasCurrent);
            await LingeringClose.FinishAsync(http, socket);
        }
    }

    /// <summary>
    /// The principal of a WebSocket request, from the bearer scheme that <c>UseAuthentication</c> already ran on it (the JwtBearer
    /// handler is <see cref="TokenService"/>'s, with its parameters: <c>Authorization: Bearer</c> or <c>?token=</c>, every pinned check
    /// and the revocation list), or null when the token is missing or refused. Reading it instead of validating the token again
    /// halves the token cost of a connect; the scheme keeps only a slim principal for WebSocket requests
    /// (<see cref="KaiPrincipal.Slim"/>), since the request lives as long as its link.
    /// </summary>
    public static KaiPrincipal? PrincipalOf(HttpContext http) =>
        http.User.Identity?.IsAuthenticated == true ? KaiPrincipal.From(http.User) : null;

    /// <summary>
    /// Queues an edge's direct answer to a message its own link sent (the reply of a raw-message edge such as <c>/ws/rpc</c>, like an
    /// ack); false when the link is closing or over its queue cap. Anything addressed to others goes through the router.
    /// </summary>
    public static bool Reply(LinkConnection link, byte[] utf8) => link.TrySend(utf8);

    /// <summary>Queues the edge's welcome frame on a link (the first frame a client reads).</summary>
    public void Welcome<T>(LinkConnection link, T payload) => link.TrySend(Frame.Encode(FrameTypes.Welcome, payload, timestamp: time.GetUtcNow()));

    /// <summary>
    /// Refuses a link right after the upgrade: the close frame with <paramref name="code"/>, the peer's answer awaited (5 s at most),
    /// then the transport released through <see cref="LingeringClose"/>. A peer that is still sending when the refusal arrives, and
    /// sends a frame the framework rejects (invalid UTF-8) before its close, fails the handshake; the link then lingers, draining what
    /// the peer sends, so the close frame is not destroyed by a TCP reset (the drops of the fuzz bench, docs/security.md).
    /// </summary>
    public static async Task CloseEarlyAsync(HttpContext http, WebSocket socket, int code, string reason)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await socket.CloseAsync((WebSocketCloseStatus)code, reason, timeout.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
            socket.Abort();
        }
        await LingeringClose.FinishAsync(http, socket);
    }
}
