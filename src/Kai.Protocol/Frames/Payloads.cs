using System.Text.Json;

namespace Kai.Protocol.Frames;

/// <summary>Payload of an <c>error</c> frame.</summary>
/// <param name="Code">A stable code from <see cref="ErrorCodes"/>.</param>
/// <param name="Message">A human-readable explanation.</param>
/// <param name="Details">Optional machine-readable details (for example <c>{"agent_id": "..."}</c>).</param>
public sealed record ErrorPayload(string Code, string Message, JsonElement? Details = null);

/// <summary>Payload of the <c>welcome</c> frame the hub sends first on every link.</summary>
/// <param name="AgentId">The agent the link is about.</param>
/// <param name="Role"><c>agent</c> for the agent's own link, <c>observer</c> for its owner or an admin.</param>
/// <param name="HeartbeatInterval">Seconds between heartbeats the hub expects from an agent (30 by default); three missed intervals close the link with 4005.</param>
/// <param name="MaxFrameBytes">The largest frame the hub accepts, in bytes (1 MiB by default); larger ones close the link with 1009.</param>
public sealed record WelcomePayload(string AgentId, string Role, int HeartbeatInterval, int MaxFrameBytes);

/// <summary>Payload of a <c>heartbeat</c> frame (seed 000 <c>heartbeat</c>, with seed 004's heartbeat fields optional).</summary>
/// <param name="AgentId">The agent's id; optional, the link already knows it.</param>
/// <param name="ClientTimestamp">The agent's clock, ISO 8601; optional.</param>
/// <param name="Status">Optional self-reported status: <c>active</c>, <c>idle</c> or <c>error</c>.</param>
/// <param name="CurrentTasks">Optional number of tasks in progress.</param>
public sealed record HeartbeatPayload(string? AgentId = null, DateTimeOffset? ClientTimestamp = null, string? Status = null, int? CurrentTasks = null);

/// <summary>Payload of an <c>agent_message</c> frame sent by an agent (seed 000 <c>agentMessage</c>, sender side).</summary>
/// <param name="ToAgent">The target agent id. By default an agent may reach the agents of the same owner.</param>
/// <param name="MessageType">An application-defined type, for example <c>text.stats</c>; at most 128 characters.</param>
/// <param name="Content">Any JSON value.</param>
/// <param name="RequiresResponse">Whether the sender expects an <c>agent_message</c> back with the same <paramref name="CorrelationId"/>.</param>
/// <param name="CorrelationId">Optional id that ties a response to its request; at most 128 characters.</param>
public sealed record AgentMessageSend(string ToAgent, string MessageType, JsonElement Content, bool RequiresResponse = false, string? CorrelationId = null);

/// <summary>Payload of an <c>agent_message</c> frame delivered to an agent (seed 000 <c>agentMessage</c>).</summary>
/// <param name="FromAgent">The sending agent id, as authenticated by the hub.</param>
/// <param name="MessageType">As sent.</param>
/// <param name="Content">As sent.</param>
/// <param name="RequiresResponse">As sent.</param>
/// <param name="CorrelationId">As sent.</param>
public sealed record AgentMessageDelivery(string FromAgent, string MessageType, JsonElement Content, bool RequiresResponse, string? CorrelationId);

/// <summary>The <c>ack</c> payload for an <c>agent_message</c> with an <c>id</c>: the hub handed it to a live link of the target (seed 000).</summary>
/// <param name="Delivered">Always true in an ack (a message that could not be delivered gets an <c>error</c> frame instead).</param>
/// <param name="ToAgent">The target as sent (an agent id or a <c>kah:</c> handle).</param>
public sealed record AgentMessageAck(bool Delivered, string ToAgent);

/// <summary>
/// Payload of a <c>command</c> frame sent by the hub to the agent and to observers (seed 000 "Command Routing").
/// Delivery is at least once: after a reconnect, a command without a result may arrive again with the same id.
/// </summary>
/// <param name="CommandId">The hub-assigned id; the agent answers with a <c>command_result</c> carrying it.</param>
/// <param name="Command">The command name, for example <c>text.stats</c> or <c>restart</c>.</param>
/// <param name="Parameters">The parameters object.</param>
/// <param name="Priority"><c>low</c>, <c>normal</c>, <c>high</c> or <c>urgent</c>.</param>
/// <param name="Deadline">When the hub stops waiting for a result and fails the command with <c>TASK_TIMEOUT</c>, ISO 8601 UTC.</param>
/// <param name="CorrelationId">Optional caller correlation id.</param>
/// <param name="TraceParent">W3C trace context (<c>00-{trace_id}-{span_id}-{flags}</c>) of the hub's span that routed the command, so the
/// agent's work joins the caller's trace (seed 001 "telemetry injection"). Absent when the command was not made in a traced request.</param>
public sealed record CommandPayload(
    string CommandId, string Command, JsonElement Parameters, string Priority, DateTimeOffset Deadline, string? CorrelationId = null, string? TraceParent = null);

/// <summary>Payload of a <c>command</c> frame sent by an observer (the owner or an admin) on an agent's link.</summary>
/// <param name="Command">The command name; 1 to 128 characters.</param>
/// <param name="Parameters">Optional parameters object.</param>
/// <param name="Priority">Optional: <c>low</c>, <c>normal</c> (default), <c>high</c> or <c>urgent</c>.</param>
/// <param name="Ttl">Optional seconds until the deadline; default 3600, at most 86400.</param>
/// <param name="CorrelationId">Optional correlation id, echoed in the command events.</param>
public sealed record CommandRequest(string Command, JsonElement? Parameters = null, string? Priority = null, int? Ttl = null, string? CorrelationId = null);

/// <summary>Payload of a <c>command_result</c> frame, sent by the agent and relayed to observers.</summary>
/// <param name="CommandId">The command being answered.</param>
/// <param name="Status"><c>completed</c> or <c>failed</c>.</param>
/// <param name="Result">Optional result value.</param>
/// <param name="Error">Optional error text when failed.</param>
public sealed record CommandResultPayload(string CommandId, string Status, JsonElement? Result = null, string? Error = null);

/// <summary>Payload of a <c>log</c> frame (seed 000 <c>logMessage</c>).</summary>
/// <param name="Level"><c>debug</c>, <c>info</c>, <c>warn</c> or <c>error</c>.</param>
/// <param name="Message">The log text.</param>
/// <param name="Component">Optional component name.</param>
/// <param name="Timestamp">Optional time of the entry; the frame time when absent.</param>
/// <param name="Context">Optional structured context.</param>
/// <param name="AgentId">Set by the hub on frames relayed to observers.</param>
public sealed record LogPayload(string Level, string Message, string? Component = null, DateTimeOffset? Timestamp = null, JsonElement? Context = null, string? AgentId = null);

/// <summary>Payload of a <c>status_update</c> frame an agent sends about itself.</summary>
/// <param name="Status"><c>active</c>, <c>idle</c> or <c>error</c>.</param>
/// <param name="Reason">Optional reason.</param>
public sealed record StatusReport(string Status, string? Reason = null);

/// <summary>Payload of a <c>status_update</c> frame sent to observers (seed 000 <c>statusUpdate</c>).</summary>
/// <param name="AgentId">The agent whose status changed.</param>
/// <param name="Status">The new status: <c>active</c>, <c>idle</c>, <c>offline</c> or <c>error</c>.</param>
/// <param name="PreviousStatus">The status before.</param>
/// <param name="Reason">Why it changed, for example <c>connected</c>, <c>disconnected</c> or <c>heartbeat_timeout</c>.</param>
/// <param name="Timestamp">When it changed, ISO 8601 UTC.</param>
public sealed record StatusUpdatePayload(string AgentId, string Status, string PreviousStatus, string? Reason, DateTimeOffset Timestamp);

/// <summary>The agent statuses (seed 000 <c>AgentStatus</c>).</summary>
public static class AgentStatuses
{
    /// <summary>Connected (or heartbeating) and working.</summary>
    public const string Active = "active";
    /// <summary>Connected (or heartbeating) and reported idle.</summary>
    public const string Idle = "idle";
    /// <summary>No live link and no heartbeat for three intervals.</summary>
    public const string Offline = "offline";
    /// <summary>The agent reported an error state.</summary>
    public const string Error = "error";
}

/// <summary>Command and priority vocabularies (seed 000 "Command Routing &amp; Task Management").</summary>
public static class CommandStatuses
{
    /// <summary>Stored; not yet written to the agent's link.</summary>
    public const string Queued = "queued";
    /// <summary>Written to the agent's link; no result yet.</summary>
    public const string Executing = "executing";
    /// <summary>The agent reported success.</summary>
    public const string Completed = "completed";
    /// <summary>The agent reported failure, or the deadline passed (<c>TASK_TIMEOUT</c>).</summary>
    public const string Failed = "failed";

    /// <summary>The priorities, lowest first: <c>low</c>, <c>normal</c>, <c>high</c>, <c>urgent</c>.</summary>
    public static IReadOnlyList<string> Priorities { get; } = ["low", "normal", "high", "urgent"];
}
