using System.Text.Json;
using Kai.Hub.Agents;
using Kai.Hub.Auth;
using Kai.Hub.Commands;
using Kai.Hub.Errors;
using Kai.Hub.Edges;
using Kai.Hub.Events;
using Kai.Hub.Invocations;
using Kai.Hub.Routing;
using Kai.Hub.Logs;
using Kai.Hub.Streams;
using Kai.Hub.Storage;
using Kai.Hub.Tasks;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Protocol.Frames;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Messaging;

/// <summary>
/// The WebSocket edge <c>/ws/agents/{agent_id}</c> (seed 000): decides the link's role (the agent itself holds the agent link; its
/// owner or an admin observes) and turns each frame into a call on the router or a capability service. The lifecycle is the
/// <see cref="WebSocketEdgeHost"/>'s; this edge holds no routing logic of its own.
/// </summary>
internal sealed class AgentLinkEdge(AgentLinkServices services) : IWebSocketEdge
{
    public async ValueTask<LinkAdmission> AdmitAsync(HttpContext http, KaiPrincipal principal, CancellationToken ct)
    {
        var agentId = (string)http.GetRouteValue("agentId")!;
        var agent = agentId.Length <= 64 ? await services.Store.GetAgentAsync(agentId, ct) : null;
        if (agent is null || !Access.MayManageAgent(principal, agent))
        {
            // Unknown agent and someone else's agent look the same: no existence leak.
            return LinkAdmission.Refuse(CloseCodes.InvalidSession, "not permitted on this agent's link");
        }
        return principal.IsAgent
            ? new LinkAdmission(agent.AgentId, agent.OwnerId, LinkRole.Agent, FramePermissions.AgentLink)
            : new LinkAdmission(agent.AgentId, agent.OwnerId, LinkRole.Observer, FramePermissions.ObserverLink);
    }

    public ILinkSession CreateSession(HttpContext http, LinkConnection link, FrameDispatcher dispatcher) =>
        new LinkSession(link, dispatcher, services, http.Request.Query["stream_id"].FirstOrDefault(),
            int.TryParse(http.Request.Query["from_chunk_index"], out var from) ? from : 0);
}

/// <summary>What the agent link's sessions use, as one parameter object.</summary>
internal sealed record AgentLinkServices(
    WebSocketEdgeHost Host, IAgentStore Store, CommandService Commands, TaskService Tasks, AgentPresence Presence, Router Router,
    PromptStreams Streams, AgentLogs Logs, Files.ChunkedUploads Uploads, IOptions<EventOptions> Events, IOptions<HubOptions> Hub, TimeProvider Time,
    Rpc.RpcService Rpc, InvocationService Invocations, IOptions<KailOptions> Kail);

internal static class AgentLinkEndpoint
{
    public static IEndpointConventionBuilder MapAgentLinks(this IEndpointRouteBuilder app) =>
        app.Map("/ws/agents/{agentId}", (HttpContext http, WebSocketEdgeHost host, AgentLinkEdge edge) => host.RunAsync(http, edge))
            .WithTags("WebSocket").ExcludeFromDescription()
            .AllowAnonymous("authenticates itself after the upgrade (close 4003), so a browser client learns why; frames are checked by FramePermissions");
}

/// <summary>Handles the frames of one link. Every client frame with an <c>id</c> gets an <c>ack</c> or an <c>error</c> with that id.</summary>
internal sealed class LinkSession(LinkConnection link, FrameDispatcher dispatcher, AgentLinkServices services, string? streamId, int fromChunkIndex) : ILinkSession
{
    private readonly LinkTopics _topics = new(link, services.Router, services.Events.Value, services.Time);

    public async Task OpenedAsync(CancellationToken ct)
    {
        var links = services.Hub.Value.Links;
        var isAgent = link.Role == LinkRole.Agent;
        if (isAgent)
        {
            // Before the welcome: a client that has read its welcome must find the agent active.
            await services.Presence.LinkOpenedAsync(link.AgentId, ct);
        }
        services.Host.Welcome(link, new WelcomePayload(link.AgentId, isAgent ? "agent" : "observer", (int)links.HeartbeatInterval.TotalSeconds, links.MaxFrameBytes));
        if (isAgent)
        {
            await services.Commands.DeliverPendingAsync(link.AgentId, ct);
            await services.Tasks.DispatchAsync(ct);
        }
        else if (streamId is not null)
        {
            AttachStream(streamId, fromChunkIndex);
        }
    }

    public async Task ClosedAsync(bool wasCurrent)
    {
        _topics.Close();
        if (link.Role == LinkRole.Agent && wasCurrent)
        {
            await services.Presence.LinkClosedAsync(link.AgentId, ReasonOf(link.CloseCode), CancellationToken.None);
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

    public Task<object?> HandleAsync(InboundFrame frame) => frame.Type switch
    {
        FrameTypes.Subscribe => Task.FromResult<object?>(_topics.Subscribe(frame)),
        FrameTypes.Unsubscribe => Task.FromResult<object?>(_topics.Unsubscribe(frame)),
        // Straight to its handler: one task per message instead of two.
        FrameTypes.AgentMessage when link.Role == LinkRole.Agent => AgentMessageAsync(frame),
        _ => link.Role == LinkRole.Agent ? AgentFrameAsync(frame) : ObserverFrameAsync(frame),
    };

    private async Task<object?> AgentFrameAsync(InboundFrame frame)
    {
        switch (frame.Type)
        {
            case FrameTypes.Heartbeat:
                var hb = frame.PayloadAs<HeartbeatPayload>() ?? new HeartbeatPayload();
                new Validation()
                    .Check(hb.Status is null or AgentStatuses.Active or AgentStatuses.Idle or AgentStatuses.Error, "status", "must be active, idle or error")
                    .Check(hb.CurrentTasks is null or >= 0, "current_tasks", "must be 0 or more")
                    .ThrowIfInvalid();
                await services.Presence.HeartbeatAsync(link.AgentId, hb.Status, hb.CurrentTasks, null, viaLink: true, CancellationToken.None);
                return null;

            case FrameTypes.CommandResult:
                var result = Required<CommandResultPayload>(frame);
                var recorded = await services.Commands.CompleteAsync(link.AgentId, result, CancellationToken.None);
                return new Dictionary<string, object?> { ["command_id"] = result.CommandId, ["duplicate"] = !recorded };

            case FrameTypes.TaskUpdate:
                var update = Required<TaskUpdatePayload>(frame);
                var (task, duplicate) = await services.Tasks.ReportAsync(link.AgentId, link.OwnerId, Tasks.LeaseLedger.LinkChannel(link.ConnectionId), update, CancellationToken.None);
                return new Dictionary<string, object?> { ["task_id"] = task.TaskId, ["status"] = task.Status, ["duplicate"] = duplicate };

            case FrameTypes.Log:
                var log = Required<LogPayload>(frame);
                new Validation()
                    .Check(log.Level is "debug" or "info" or "warn" or "error", "level", "must be debug, info, warn or error")
                    .Length(log.Message, "message", 0, 64 * 1024)
                    .Length(log.Component, "component", 1, 128, required: false)
                    .ThrowIfInvalid();
                await services.Logs.AppendAsync(link.AgentId, log, frame.Timestamp, CancellationToken.None);
                var relayed = Frame.Encode(FrameTypes.Log, log with { AgentId = link.AgentId, Timestamp = log.Timestamp ?? frame.Timestamp }, timestamp: services.Time.GetUtcNow());
                await services.Router.RouteAsync(new Envelope(FrameTypes.Log, Address.ObserversOf(link.AgentId), relayed, link.Principal), CancellationToken.None);
                return null;

            case FrameTypes.StatusUpdate:
                var report = Required<StatusReport>(frame);
                new Validation()
                    .Check(report.Status is AgentStatuses.Active or AgentStatuses.Idle or AgentStatuses.Error, "status", "must be active, idle or error")
                    .Length(report.Reason, "reason", 1, 256, required: false)
                    .ThrowIfInvalid();
                await services.Presence.ReportAsync(link.AgentId, report.Status, report.Reason, CancellationToken.None);
                return null;

            case FrameTypes.StreamChunk:
                var chunk = Required<StreamChunkPayload>(frame);
                return services.Invocations.TryChunk(link.AgentId, chunk) ?? services.Streams.Chunk(link, chunk);

            case FrameTypes.Invocation:
                // An agent invokes another (seed 002 agent-to-agent): accepted now, the result comes later as an invocation_result frame.
                var kail = services.Kail.Value;
                if (!kail.Enabled || !kail.Transport.Contains("local_ipc"))
                {
                    throw Unsupported(frame.Type, "heartbeat, agent_message, command_result, task_update, log, status_update, stream_chunk (KAIL local_ipc is disabled)");
                }
                var run = await services.Invocations.StartAsync(link.Principal, frame.Payload, link.AgentId, CancellationToken.None);
                return new Dictionary<string, object?> { ["id"] = run.Id, ["status"] = Kai.Protocol.Kail.InvocationStatuses.Running };

            case FrameTypes.InvocationResult:
                var answer = Required<Kai.Protocol.Kail.InvocationResultPayload>(frame);
                return new Dictionary<string, object?> { ["id"] = answer.Id, ["accepted"] = services.Invocations.Complete(link.AgentId, answer) };

            case FrameTypes.RpcResponse:
                // The answer to an rpc_request (seed 001 §5): the router's waiter gets it; a late or foreign one is not accepted.
                var response = Required<Kai.Protocol.Rpc.RpcResponse>(frame);
                new Validation().Length(response.Id, "id", 1, 128).ThrowIfInvalid();
                return new Dictionary<string, object?> { ["id"] = response.Id, ["accepted"] = services.Rpc.Accept(link.Principal, response) };

            default:
                throw Unsupported(frame.Type, "heartbeat, agent_message, command_result, task_update, log, status_update, stream_chunk, rpc_response, invocation, invocation_result");
        }
    }

    /// <summary>
    /// An agent's <c>agent_message</c>, the hub's busiest frame: the payload is read once and the delivery written once, with
    /// <c>content</c> copied as sent (<see cref="AgentMessageCodec"/>), then handed to the router. The ack is built only when the frame
    /// asked for one.
    /// </summary>
    private async Task<object?> AgentMessageAsync(InboundFrame frame)
    {
        if (frame.PayloadIsNull)
        {
            throw FrameDispatcher.PayloadMissing(frame);
        }
        var payload = frame.PayloadUtf8;
        var msg = AgentMessageCodec.Read(payload.Span);
        var toHandle = IsHandle(msg.ToAgent);
        new Validation()
            .Length(msg.ToAgent, "to_agent", 1, toHandle ? 200 : 64)
            .Length(msg.MessageType, "message_type", 1, 128)
            .Length(msg.CorrelationId, "correlation_id", 1, 128, required: false)
            .ThrowIfInvalid();
        var to = msg.ToAgent!;
        var delivery = AgentMessageCodec.WriteDelivery(link.AgentId, msg, payload.Span, services.Time.GetUtcNow());
        var routed = await services.Router.RouteAsync(new Envelope(FrameTypes.AgentMessage, toHandle ? Address.Kah(to) : Address.Agent(to), delivery, link.Principal)
        {
            CorrelationId = msg.CorrelationId,
        }, CancellationToken.None);
        return routed.Status switch
        {
            RouteStatus.Delivered => frame.Id is null ? null : new AgentMessageAck(true, to),
            RouteStatus.RateLimited => throw new ApiException(ErrorCodes.RateLimitExceeded, "This principal routes more than its budget; slow down.",
                new Dictionary<string, int> { ["retry_after"] = (int)Math.Ceiling(routed.RetryAfter?.TotalSeconds ?? 1) }),
            RouteStatus.Unavailable => throw new ApiException(ErrorCodes.AgentUnavailable, $"Agent '{to}' has no live link; live messages are not stored.",
                new Dictionary<string, string> { ["agent_id"] = to }),
            _ => throw ApiException.AgentNotFound(to),
        };
    }

    private async Task<object?> ObserverFrameAsync(InboundFrame frame)
    {
        switch (frame.Type)
        {
            case FrameTypes.Command:
                var request = Required<CommandRequest>(frame);
                // The agent may have been deleted since the link opened.
                var agent = await services.Store.GetAgentAsync(link.AgentId, CancellationToken.None) ?? throw ApiException.AgentNotFound(link.AgentId);
                var command = await services.Commands.CreateAsync(link.Principal, agent, request.Command, request.Parameters, request.Priority, request.Ttl,
                    request.CorrelationId, willWait: false, CancellationToken.None);
                return new Dictionary<string, object?> { ["command_id"] = command.CommandId, ["status"] = command.Status };

            case FrameTypes.Heartbeat:
                return null;

            case FrameTypes.StreamControl:
                return services.Streams.Control(link, Required<StreamControlPayload>(frame));

            case FrameTypes.StreamResume:
                var resume = Required<StreamResumePayload>(frame);
                services.Streams.Attach(link, resume.StreamId, resume.FromChunkIndex, ack => frame.Id is null ? null : Frame.Encode(FrameTypes.Ack, ack, frame.Id, services.Time.GetUtcNow()));
                return FrameDispatcher.Acked;

            case FrameTypes.Upload:
                return await services.Uploads.HandleAsync(link.Principal, link.AgentId, Required<UploadChunkPayload>(frame), CancellationToken.None);

            default:
                throw Unsupported(frame.Type, "command, heartbeat, stream_control, stream_resume, upload");
        }
    }

    /// <summary>Attaches an observer link opened with <c>?stream_id=</c> (the <c>websocket_url</c> of stream-prompt); failures become an <c>error</c> frame.</summary>
    public void AttachStream(string streamId, int fromChunkIndex)
    {
        try
        {
            services.Streams.Attach(link, streamId, fromChunkIndex, _ => null);
        }
        catch (ApiException ex)
        {
            dispatcher.Error(null, ex.Code, ex.Message, ex.DetailsElement());
        }
    }

    /// <summary>Whether an agent_message names its target by Kind Agent Handle (<c>kah:…</c>, resolved by the router).</summary>
    private static bool IsHandle(string? to) => to is not null && to.StartsWith(Kai.Protocol.Kail.KailTypes.HandlePrefix, StringComparison.Ordinal);

    private static T Required<T>(InboundFrame frame) where T : class => FrameDispatcher.Required<T>(frame);

    private static ApiException Unsupported(string type, string allowed) =>
        new(ErrorCodes.UnsupportedFrame, $"Frame type '{type}' is not accepted on this link; accepted: {allowed}.");
}
