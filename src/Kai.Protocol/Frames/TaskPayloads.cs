using System.Text.Json;

namespace Kai.Protocol.Frames;

/// <summary>
/// Payload of a <c>task</c> frame, hub to the agent's own link: one attempt of a durable task (seeds 000 and 004).
/// Delivery is at least once: the same task may arrive again as a later attempt (after a lease expiry, a timeout or a
/// hub restart), so handlers should be idempotent or check <see cref="TaskId"/>.
/// </summary>
/// <param name="TaskId">The task id; report on it with <c>task_update</c> frames.</param>
/// <param name="Type">The task type.</param>
/// <param name="InputData">The input object; for a workflow stage it includes <c>upstream: {stage_name: result}</c>.</param>
/// <param name="Attempt">1-based attempt number.</param>
/// <param name="MaxAttempts">Attempts the retry policy allows.</param>
/// <param name="FencingToken">Identifies this attempt; echo it in every <c>task_update</c>. Updates carrying an older token are rejected
/// with <c>CONFLICT</c>.</param>
/// <param name="LeaseExpiresAt">ISO 8601 UTC. Without a <c>task_update</c> (progress) before this time, the attempt is considered lost and the
/// task is redelivered. Each progress update renews the lease by the hub's lease duration (30 s by default).</param>
/// <param name="Deadline">ISO 8601 UTC: the attempt fails with <c>TASK_TIMEOUT</c> at this time (start + the task's timeout).</param>
/// <param name="Priority"><c>low</c>, <c>normal</c>, <c>high</c> or <c>urgent</c>.</param>
/// <param name="ParentWorkflowId">The workflow, for a stage.</param>
/// <param name="StageName">The stage name, for a stage.</param>
public sealed record TaskPayload(
    string TaskId, string Type, JsonElement InputData, int Attempt, int MaxAttempts, long FencingToken, DateTimeOffset LeaseExpiresAt,
    DateTimeOffset Deadline, string Priority, string? ParentWorkflowId = null, string? StageName = null);

/// <summary>
/// Payload of a <c>task_update</c> frame, agent to hub (seed 000 <c>taskUpdate</c>). With a frame <c>id</c>, the hub answers an
/// <c>ack</c> <c>{task_id, status, duplicate}</c>, or an <c>error</c>: <c>CONFLICT</c> for a superseded attempt (nothing changed),
/// <c>NOT_FOUND</c> for an unknown task, <c>VALIDATION_ERROR</c> for a malformed payload.
/// </summary>
/// <param name="TaskId">The task.</param>
/// <param name="Status"><c>in_progress</c> (progress; renews the lease), <c>completed</c> or <c>failed</c> (retried per the policy).</param>
/// <param name="Progress">Optional 0 to 100.</param>
/// <param name="Result">The result when completed.</param>
/// <param name="Error">The error text when failed, at most 4096 characters.</param>
/// <param name="Attempt">The attempt number of the <c>task</c> frame (alternative to <paramref name="FencingToken"/>).</param>
/// <param name="FencingToken">The fencing token of the <c>task</c> frame; recommended.</param>
/// <param name="OutputData">Optional partial output with progress (seed 004).</param>
public sealed record TaskUpdatePayload(
    string TaskId, string Status, int? Progress = null, JsonElement? Result = null, string? Error = null, int? Attempt = null,
    long? FencingToken = null, JsonElement? OutputData = null);

/// <summary>Payload of a <c>task_cancel</c> frame, hub to the agent working a task that was canceled: stop work; further updates are rejected.</summary>
/// <param name="TaskId">The task.</param>
/// <param name="FencingToken">The attempt that is canceled.</param>
/// <param name="Reason">Why, for example <c>canceled by user</c> or <c>workflow stopped</c>.</param>
public sealed record TaskCancelPayload(string TaskId, long FencingToken, string Reason);

/// <summary>Task statuses (seed 004; issue 3).</summary>
public static class TaskStatuses
{
    /// <summary>Waiting for dependencies or a start time (delay, schedule).</summary>
    public const string Pending = "pending";
    /// <summary>Ready; waiting for an eligible agent with free capacity, or for a retry backoff.</summary>
    public const string Queued = "queued";
    /// <summary>An attempt is leased to an agent.</summary>
    public const string InProgress = "in_progress";
    /// <summary>Terminal: done, with a result.</summary>
    public const string Completed = "completed";
    /// <summary>Terminal (dead letter): attempts exhausted, or a dependency failed. Re-drivable with <c>POST /api/v1/tasks/{id}/retry</c>.</summary>
    public const string Failed = "failed";
    /// <summary>Terminal: canceled by a user or by its workflow. Re-drivable.</summary>
    public const string Canceled = "canceled";
}

/// <summary>Event types of task and workflow events (seed 004 "WebSocket Event Types").</summary>
public static class TaskEventTypes
{
    /// <summary>A task was created.</summary>
    public const string TaskCreated = "task.created";
    /// <summary>An agent reported progress.</summary>
    public const string TaskProgress = "task.progress";
    /// <summary>A task completed.</summary>
    public const string TaskCompleted = "task.completed";
    /// <summary>A task failed for good (dead letter, dependency failed, or canceled).</summary>
    public const string TaskFailed = "task.failed";
    /// <summary>A workflow run started.</summary>
    public const string WorkflowStarted = "workflow.started";
    /// <summary>A workflow stage completed.</summary>
    public const string WorkflowStageCompleted = "workflow.stage_completed";
    /// <summary>Every stage of a run completed.</summary>
    public const string WorkflowCompleted = "workflow.completed";
    /// <summary>A run failed (or was canceled).</summary>
    public const string WorkflowFailed = "workflow.failed";
}
