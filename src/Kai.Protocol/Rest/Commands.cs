using System.Text.Json;

namespace Kai.Protocol.Rest;

/// <summary><c>POST /api/v1/agents/{agent_id}/command</c> body (seed 000 "Command Routing").</summary>
/// <param name="Command">The command name, 1 to 128 characters.</param>
/// <param name="Parameters">Optional parameters object.</param>
/// <param name="Priority">Optional <c>low</c>, <c>normal</c> (default), <c>high</c> or <c>urgent</c>; queued commands are delivered highest first.</param>
/// <param name="Timeout">Seconds the call waits for the result, 0 to 300; default 30. 0 returns at once. A timeout above 0 is also the command's
/// deadline (seed 004) unless <paramref name="Ttl"/> is given: a command still open then fails with <c>TASK_TIMEOUT</c>, and the waiting call
/// answers HTTP 408 with that code.</param>
/// <param name="Ttl">Seconds until the command's deadline, 1 to 86400; default <paramref name="Timeout"/> when above 0, else 3600. An undelivered
/// or unanswered command fails with <c>TASK_TIMEOUT</c> then. Send an <c>Idempotency-Key</c> header (1 to 128 characters) to make a retry
/// safe: the same key with the same body returns the command stored first (delivered once); with another body it is 409 <c>CONFLICT</c>.</param>
/// <param name="CorrelationId">Optional correlation id, at most 128 characters.</param>
public sealed record SendCommandRequest(string Command, JsonElement? Parameters = null, string? Priority = null, int? Timeout = null, int? Ttl = null, string? CorrelationId = null);

/// <summary><c>POST /api/v1/agents/{agent_id}/command</c> response (seed 000).</summary>
/// <param name="CommandId">The command id.</param>
/// <param name="Status"><c>queued</c> (agent offline), <c>executing</c> (delivered, no result within the wait), <c>completed</c> or <c>failed</c>.</param>
/// <param name="Result">The result when completed.</param>
/// <param name="Error">The error when failed.</param>
/// <param name="Deadline">The deadline.</param>
public sealed record CommandResponse(string CommandId, string Status, JsonElement? Result, string? Error, DateTimeOffset Deadline);

/// <summary><c>GET /api/v1/tasks/{task_id}/status</c> response (seed 000); commands are tracked as tasks.</summary>
/// <param name="TaskId">The id.</param>
/// <param name="Status">The status.</param>
/// <param name="Progress">0 to 100; 100 once terminal.</param>
/// <param name="Result">The result when completed.</param>
/// <param name="Error">The error when failed.</param>
/// <param name="CreatedAt">Creation time.</param>
/// <param name="UpdatedAt">Last change.</param>
/// <param name="AgentId">The agent it is addressed to (for a durable task: the agent working it, else the one it is pinned to; absent when neither).</param>
/// <param name="Command">The command name (for a durable task: its type).</param>
public sealed record TaskStatusResponse(string TaskId, string Status, int Progress, JsonElement? Result, string? Error, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string? AgentId, string Command);
