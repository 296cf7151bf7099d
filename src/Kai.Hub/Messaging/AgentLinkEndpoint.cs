using System.Text.Json;
using Kai.Hub.Agents;
using Kai.Hub.Auth;
using Kai.Hub.Commands;
using Kai.Hub.Errors;
using Kai.Hub.Observability;
using Kai.Hub.Security;
using Kai.Hub.Storage;
using Kai.Hub.Tasks;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Messaging;

/// <summary>
/// The WebSocket edge <c>/ws/agents/{agent_id}</c> (seed 000): authenticates, decides the link's role, and turns
/// each frame into a call on the router or a capability service. It holds no routing logic of its own.
/// </summary>
internal static partial class AgentLinkEndpoint
{
    public static IEndpointConventionBuilder MapAgentLinks(this IEndpointRouteBuilder app) =>
        app.Map("/ws/agents/{agentId}", HandleAsync).WithTags("WebSocket").ExcludeFromDescription()
            .AllowAnonymous("authenticates itself after the upgrade (close 4003), so a browser client learns why; frames are checked by FramePermissions");

    private static async Task HandleAsync(
        HttpContext http, string agentId, TokenService tokens, IHubStore store, ConnectionRegistry registry, AgentPresence presence,
        CommandService commands, TaskService tasks, Router router, HubMetrics metrics, IOptions<HubOptions> options, TimeProvider time, ILogger<LinkSession> logger,
        WebSocketGate gate, AuditLog audit)
    {
        if (!http.WebSockets.IsWebSocketRequest)
        {
            throw new ApiException(ErrorCodes.ValidationError, "This path takes a WebSocket upgrade (GET with Upgrade: websocket).");
        }
        var links = options.Value.Links;
        var principalClaims = tokens.Validate(BearerAuthenticationHandler.TokenFrom(http), out _);
        using var socket = await http.WebSockets.AcceptWebSocketAsync();
        var principal = principalClaims is null ? null : KaiPrincipal.From(principalClaims);
        if (principal is null)
        {
            await CloseEarlyAsync(socket, CloseCodes.AuthenticationFailed, "authentication failed");
            return;
        }
        var agent = agentId.Length <= 64 ? await store.GetAgentAsync(agentId, http.RequestAborted) : null;
        LinkRole role;
        if (agent is not null && principal.IsAgent && principal.Id == agent.AgentId)
        {
            role = LinkRole.Agent;
        }
        else if (agent is not null && !principal.IsAgent && (principal.IsAdmin || principal.Id == agent.OwnerId))
        {
            role = LinkRole.Observer;
        }
        else
        {
            // Unknown agent and someone else's agent look the same: no existence leak.
            await CloseEarlyAsync(socket, CloseCodes.InvalidSession, "not permitted on this agent's link");
            return;
        }

        using var slot = gate.TryEnter(principal, out var refusedCode, out var refusedReason);
        if (slot is null)
        {
            await CloseEarlyAsync(socket, refusedCode, refusedReason);
            return;
        }

        var link = new LinkConnection(socket, agent.AgentId, agent.OwnerId, role, principal, links.SendQueueBytes, time, metrics);
        var session = new LinkSession(link, commands, tasks, presence, router, store, metrics, time, logger, gate.NewMessageLimiter(), audit);
        var kind = new KeyValuePair<string, object?>("kind", role == LinkRole.Agent ? "agent" : "observer");
        metrics.Connections.Add(1, kind);
        registry.Add(link);
        var writer = link.RunWriterAsync();
        try
        {
            if (role == LinkRole.Agent)
            {
                // Before the welcome: a client that has read its welcome must find the agent active.
                await presence.LinkOpenedAsync(agent.AgentId, CancellationToken.None);
            }
            link.TrySend(Frame.Create(FrameTypes.Welcome,
                new WelcomePayload(agent.AgentId, role == LinkRole.Agent ? "agent" : "observer", (int)links.HeartbeatInterval.TotalSeconds, links.MaxFrameBytes),
                timestamp: time.GetUtcNow()).ToUtf8());
            if (role == LinkRole.Agent)
            {
                await commands.DeliverPendingAsync(agent.AgentId, CancellationToken.None);
                await tasks.DispatchAsync(CancellationToken.None);
            }
            await link.RunReaderAsync(links.MaxFrameBytes, session.HandleAsync);
        }
        finally
        {
            link.RequestClose(CloseCodes.Normal, "closing");
            var wasCurrent = registry.Remove(link);
            metrics.Connections.Add(-1, kind);
            await writer;
            if (role == LinkRole.Agent && wasCurrent)
            {
                await presence.LinkClosedAsync(agent.AgentId, ReasonOf(link.CloseCode), CancellationToken.None);
            }
        }
    }

    private static string ReasonOf(int code) => code switch
    {
        CloseCodes.HeartbeatTimeout => "heartbeat_timeout",
        CloseCodes.SlowConsumer => "slow_consumer",
        CloseCodes.SessionExpired => "session_expired",
        CloseCodes.MessageTooBig => "frame_too_large",
        _ => "disconnected",
    };

    private static async Task CloseEarlyAsync(System.Net.WebSockets.WebSocket socket, int code, string reason)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await socket.CloseAsync((System.Net.WebSockets.WebSocketCloseStatus)code, reason, timeout.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or System.Net.WebSockets.WebSocketException)
        {
            socket.Abort();
        }
    }
}

/// <summary>Handles the frames of one link. Every client frame with an <c>id</c> gets an <c>ack</c> or an <c>error</c> with that id.</summary>
internal sealed partial class LinkSession(
    LinkConnection link, CommandService commands, TaskService tasks, AgentPresence presence, Router router, IHubStore store, HubMetrics metrics,
    TimeProvider time, ILogger<LinkSession> logger, WindowLimiter messageLimit, AuditLog audit)
{
    private string Edge => link.Role == LinkRole.Agent ? FramePermissions.AgentLink : FramePermissions.ObserverLink;

    public async ValueTask HandleAsync(ReadOnlyMemory<byte> utf8)
    {
        if (link.IsClosing)
        {
            return;
        }
        if (!messageLimit.TryTake(out var retry))
        {
            // Over the per-link frame rate: say why, then close 4004 (seed 003's rate-limit close code).
            Send(Frame.Create(FrameTypes.Error, new ErrorPayload(ErrorCodes.RateLimitExceeded,
                $"More than {messageLimit.Limit} frames per minute on this link.",
                ApiException.ToDetails(new Dictionary<string, int> { ["retry_after"] = Math.Max(1, (int)Math.Ceiling(retry.TotalSeconds)) })), null, time.GetUtcNow()));
            link.RequestCloseAfterFlush(CloseCodes.RateLimited, "frame rate limit exceeded");
            return;
        }
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
            return;
        }
        metrics.FramesIn.Add(1, new KeyValuePair<string, object?>("type", KnownTypes.Contains(frame.Type) ? frame.Type : "other"));
        if (frame.Id is { Length: > 128 })
        {
            Error(null, ErrorCodes.ValidationError, "A frame id must be at most 128 characters.");
            return;
        }
        try
        {
            try
            {
                FramePermissions.Demand(Edge, frame.Type, link.Principal);
            }
            catch (ApiException ex) when (ex.Code == ErrorCodes.Forbidden)
            {
                await audit.WriteAsync(link.Principal.Id, link.Principal.Role, AuditActions.PermissionDenied, $"frame {frame.Type} on {link.AgentId}", AuditOutcomes.Denied, null,
                    new { edge = Edge });
                throw;
            }
            var ack = link.Role == LinkRole.Agent ? await AgentFrameAsync(frame) : await ObserverFrameAsync(frame);
            if (frame.Id is not null)
            {
                Send(Frame.Create(FrameTypes.Ack, ack ?? new Dictionary<string, object?>(), frame.Id, time.GetUtcNow()));
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
            Log.FrameFailed(logger, ex, frame.Type, link.AgentId);
            Error(frame.Id, ErrorCodes.InternalError, "The frame could not be processed.");
        }
    }

    private async Task<object?> AgentFrameAsync(Frame frame)
    {
        switch (frame.Type)
        {
            case FrameTypes.Heartbeat:
                var hb = frame.PayloadAs<HeartbeatPayload>() ?? new HeartbeatPayload();
                new Validation()
                    .Check(hb.Status is null or AgentStatuses.Active or AgentStatuses.Idle or AgentStatuses.Error, "status", "must be active, idle or error")
                    .Check(hb.CurrentTasks is null or >= 0, "current_tasks", "must be 0 or more")
                    .ThrowIfInvalid();
                await presence.HeartbeatAsync(link.AgentId, hb.Status, hb.CurrentTasks, null, viaLink: true, CancellationToken.None);
                return null;

            case FrameTypes.AgentMessage:
                var msg = Required<AgentMessageSend>(frame);
                new Validation()
                    .Length(msg.ToAgent, "to_agent", 1, 64)
                    .Length(msg.MessageType, "message_type", 1, 128)
                    .Length(msg.CorrelationId, "correlation_id", 1, 128, required: false)
                    .ThrowIfInvalid();
                var content = msg.Content.ValueKind == JsonValueKind.Undefined ? NullJson : msg.Content;
                var delivery = Frame.Create(FrameTypes.AgentMessage,
                    new AgentMessageDelivery(link.AgentId, msg.MessageType, content, msg.RequiresResponse, msg.CorrelationId), timestamp: time.GetUtcNow());
                var status = await router.RouteAsync(new Envelope(FrameTypes.AgentMessage, Address.Agent(msg.ToAgent), delivery.ToUtf8(), link.Principal), CancellationToken.None);
                return status switch
                {
                    RouteStatus.Delivered => new Dictionary<string, object?> { ["delivered"] = true, ["to_agent"] = msg.ToAgent },
                    RouteStatus.Unavailable => throw new ApiException(ErrorCodes.AgentUnavailable, $"Agent '{msg.ToAgent}' has no live link; live messages are not stored.",
                        new Dictionary<string, string> { ["agent_id"] = msg.ToAgent }),
                    _ => throw ApiException.AgentNotFound(msg.ToAgent),
                };

            case FrameTypes.CommandResult:
                var result = Required<CommandResultPayload>(frame);
                var recorded = await commands.CompleteAsync(link.AgentId, result, CancellationToken.None);
                return new Dictionary<string, object?> { ["command_id"] = result.CommandId, ["duplicate"] = !recorded };

            case FrameTypes.TaskUpdate:
                var update = Required<TaskUpdatePayload>(frame);
                var (task, duplicate) = await tasks.ReportAsync(link.AgentId, link.OwnerId, update, CancellationToken.None);
                return new Dictionary<string, object?> { ["task_id"] = task.TaskId, ["status"] = task.Status, ["duplicate"] = duplicate };

            case FrameTypes.Log:
                var log = Required<LogPayload>(frame);
                new Validation()
                    .Check(log.Level is "debug" or "info" or "warn" or "error", "level", "must be debug, info, warn or error")
                    .Length(log.Message, "message", 0, 64 * 1024)
                    .Length(log.Component, "component", 1, 128, required: false)
                    .ThrowIfInvalid();
                var relayed = Frame.Create(FrameTypes.Log, log with { AgentId = link.AgentId, Timestamp = log.Timestamp ?? frame.Timestamp }, timestamp: time.GetUtcNow());
                await router.RouteAsync(new Envelope(FrameTypes.Log, Address.ObserversOf(link.AgentId), relayed.ToUtf8(), null), CancellationToken.None);
                return null;

            case FrameTypes.StatusUpdate:
                var report = Required<StatusReport>(frame);
                new Validation()
                    .Check(report.Status is AgentStatuses.Active or AgentStatuses.Idle or AgentStatuses.Error, "status", "must be active, idle or error")
                    .Length(report.Reason, "reason", 1, 256, required: false)
                    .ThrowIfInvalid();
                await presence.ReportAsync(link.AgentId, report.Status, report.Reason, CancellationToken.None);
                return null;

            default:
                throw Unsupported(frame.Type, "heartbeat, agent_message, command_result, task_update, log, status_update");
        }
    }

    private async Task<object?> ObserverFrameAsync(Frame frame)
    {
        switch (frame.Type)
        {
            case FrameTypes.Command:
                var request = Required<CommandRequest>(frame);
                // The agent may have been deleted since the link opened.
                var agent = await store.GetAgentAsync(link.AgentId, CancellationToken.None) ?? throw ApiException.AgentNotFound(link.AgentId);
                var command = await commands.CreateAsync(link.Principal, agent, request.Command, request.Parameters, request.Priority, request.Ttl,
                    request.CorrelationId, null, willWait: false, CancellationToken.None);
                return new Dictionary<string, object?> { ["command_id"] = command.CommandId, ["status"] = command.Status };

            case FrameTypes.Heartbeat:
                return null;

            default:
                throw Unsupported(frame.Type, "command, heartbeat");
        }
    }

    // Frame types are client-chosen strings: only known ones become metric labels, so cardinality stays bounded.
    private static readonly HashSet<string> KnownTypes =
        [FrameTypes.Heartbeat, FrameTypes.AgentMessage, FrameTypes.CommandResult, FrameTypes.Log, FrameTypes.StatusUpdate, FrameTypes.Command];

    private static readonly JsonElement NullJson = JsonDocument.Parse("null").RootElement.Clone();

    private static T Required<T>(Frame frame) where T : class =>
        frame.PayloadAs<T>() ?? throw new ApiException(ErrorCodes.ValidationError, $"A '{frame.Type}' frame needs a payload object.");

    private static ApiException Unsupported(string type, string allowed) =>
        new(ErrorCodes.UnsupportedFrame, $"Frame type '{type}' is not accepted on this link; accepted: {allowed}.");

    private void Error(string? id, string code, string message, JsonElement? details = null) =>
        Send(Frame.Create(FrameTypes.Error, new ErrorPayload(code, message, details), id, time.GetUtcNow()));

    private void Send(Frame frame)
    {
        if (link.TrySend(frame.ToUtf8()))
        {
            metrics.FramesOut.Add(1, new KeyValuePair<string, object?>("type", frame.Type));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(200, LogLevel.Error, "Frame {Type} on the link of {AgentId} failed")]
        public static partial void FrameFailed(ILogger logger, Exception ex, string type, string agentId);
    }
}
