using System.Text.Json;
using Kai.Hub.Agents;
using Kai.Hub.Auth;
using Kai.Hub.Commands;
using Kai.Hub.Errors;
using Kai.Hub.Observability;
using Kai.Hub.Logs;
using Kai.Hub.Streams;
using Kai.Hub.Security;
using Kai.Hub.Storage;
using Kai.Hub.Tasks;
using Kai.Protocol;
using Kai.Protocol.Events;
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
        PromptStreams streams, AgentLogs logs, WebSocketGate gate, AuditLog audit, Files.ChunkedUploads uploads)
    {
        var links = options.Value.Links;
        var (accepted, principal) = await WebSocketEdge.AcceptAsync(http, tokens);
        using var socket = accepted;
        if (principal is null)
        {
            return;
        }
        var agent = agentId.Length <= 64 ? await store.GetAgentAsync(agentId, http.RequestAborted) : null;
        if (agent is null || !AgentAccess.CanSee(principal, agent))
        {
            // Unknown agent and someone else's agent look the same: no existence leak.
            await WebSocketEdge.CloseEarlyAsync(socket, CloseCodes.InvalidSession, "not permitted on this agent's link");
            return;
        }
        // The same ownership rule as REST: the agent itself holds the agent link; its owner or an admin observes.
        var role = principal.IsAgent ? LinkRole.Agent : LinkRole.Observer;

        using var slot = await WebSocketEdge.EnterAsync(socket, gate, principal);
        if (slot is null)
        {
            return;
        }

        var link = new LinkConnection(socket, agent.AgentId, agent.OwnerId, role, principal, links.SendQueueBytes, time, metrics);
        var dispatcher = new FrameDispatcher(link, role == LinkRole.Agent ? FramePermissions.AgentLink : FramePermissions.ObserverLink,
            gate.NewMessageLimiter(), metrics, audit, time, logger);
        var session = new LinkSession(link, dispatcher, commands, tasks, presence, router, store, time, streams, logs, uploads);
        registry.Add(link);
        var writer = link.RunWriterAsync();
        try
        {
            if (role == LinkRole.Agent)
            {
                // Before the welcome: a client that has read its welcome must find the agent active.
                await presence.LinkOpenedAsync(agent.AgentId, CancellationToken.None);
            }
            link.TrySend(Frame.Encode(FrameTypes.Welcome,
                new WelcomePayload(agent.AgentId, role == LinkRole.Agent ? "agent" : "observer", (int)links.HeartbeatInterval.TotalSeconds, links.MaxFrameBytes),
                timestamp: time.GetUtcNow()));
            if (role == LinkRole.Agent)
            {
                await commands.DeliverPendingAsync(agent.AgentId, CancellationToken.None);
                await tasks.DispatchAsync(CancellationToken.None);
            }
            else if (http.Request.Query["stream_id"].FirstOrDefault() is { } streamId)
            {
                session.AttachStream(streamId, int.TryParse(http.Request.Query["from_chunk_index"], out var from) ? from : 0);
            }
            await link.RunReaderAsync(links.MaxFrameBytes, session.HandleAsync);
        }
        finally
        {
            link.RequestClose(CloseCodes.Normal, "closing");
            var wasCurrent = registry.Remove(link);
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
}

/// <summary>Handles the frames of one link. Every client frame with an <c>id</c> gets an <c>ack</c> or an <c>error</c> with that id.</summary>
internal sealed class LinkSession(
    LinkConnection link, FrameDispatcher dispatcher, CommandService commands, TaskService tasks, AgentPresence presence, Router router, IHubStore store,
    TimeProvider time, PromptStreams streams, AgentLogs logs, Files.ChunkedUploads uploads)
{
    public ValueTask HandleAsync(ReadOnlyMemory<byte> utf8) =>
        dispatcher.HandleAsync(utf8, frame => link.Role == LinkRole.Agent ? AgentFrameAsync(frame) : ObserverFrameAsync(frame));

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
                var delivery = Frame.Encode(FrameTypes.AgentMessage,
                    new AgentMessageDelivery(link.AgentId, msg.MessageType, content, msg.RequiresResponse, msg.CorrelationId), timestamp: time.GetUtcNow());
                var status = await router.RouteAsync(new Envelope(FrameTypes.AgentMessage, Address.Agent(msg.ToAgent), delivery, link.Principal), CancellationToken.None);
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
                await logs.AppendAsync(link.AgentId, log, frame.Timestamp, CancellationToken.None);
                var relayed = Frame.Encode(FrameTypes.Log, log with { AgentId = link.AgentId, Timestamp = log.Timestamp ?? frame.Timestamp }, timestamp: time.GetUtcNow());
                await router.RouteAsync(new Envelope(FrameTypes.Log, Address.ObserversOf(link.AgentId), relayed, null), CancellationToken.None);
                return null;

            case FrameTypes.StatusUpdate:
                var report = Required<StatusReport>(frame);
                new Validation()
                    .Check(report.Status is AgentStatuses.Active or AgentStatuses.Idle or AgentStatuses.Error, "status", "must be active, idle or error")
                    .Length(report.Reason, "reason", 1, 256, required: false)
                    .ThrowIfInvalid();
                await presence.ReportAsync(link.AgentId, report.Status, report.Reason, CancellationToken.None);
                return null;

            case FrameTypes.StreamChunk:
                return streams.Chunk(link, Required<StreamChunkPayload>(frame));

            default:
                throw Unsupported(frame.Type, "heartbeat, agent_message, command_result, task_update, log, status_update, stream_chunk");
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
                    request.CorrelationId, willWait: false, CancellationToken.None);
                return new Dictionary<string, object?> { ["command_id"] = command.CommandId, ["status"] = command.Status };

            case FrameTypes.Heartbeat:
                return null;

            case FrameTypes.StreamControl:
                return streams.Control(link, Required<StreamControlPayload>(frame));

            case FrameTypes.StreamResume:
                var resume = Required<StreamResumePayload>(frame);
                streams.Attach(link, resume.StreamId, resume.FromChunkIndex, ack => frame.Id is null ? null : Frame.Encode(FrameTypes.Ack, ack, frame.Id, time.GetUtcNow()));
                return FrameDispatcher.Acked;

            case FrameTypes.Upload:
                return await uploads.HandleAsync(link.Principal, link.AgentId, Required<UploadChunkPayload>(frame), CancellationToken.None);

            default:
                throw Unsupported(frame.Type, "command, heartbeat, stream_control, stream_resume, upload");
        }
    }

    private static readonly JsonElement NullJson = JsonDocument.Parse("null").RootElement.Clone();

    /// <summary>Attaches an observer link opened with <c>?stream_id=</c> (the <c>websocket_url</c> of stream-prompt); failures become an <c>error</c> frame.</summary>
    public void AttachStream(string streamId, int fromChunkIndex)
    {
        try
        {
            streams.Attach(link, streamId, fromChunkIndex, _ => null);
        }
        catch (ApiException ex)
        {
            dispatcher.Error(null, ex.Code, ex.Message, ex.DetailsElement());
        }
    }

    private static T Required<T>(Frame frame) where T : class => FrameDispatcher.Required<T>(frame);

    private static ApiException Unsupported(string type, string allowed) =>
        new(ErrorCodes.UnsupportedFrame, $"Frame type '{type}' is not accepted on this link; accepted: {allowed}.");
}
