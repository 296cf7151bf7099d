namespace Kai.Hub.Storage;

/// <summary>A durable task row. Times are UTC; JSON columns are raw text.</summary>
public sealed record TaskRecord(
    string TaskId,
    string OwnerId,
    string CreatedBy,
    string Type,
    string Priority,
    string Status,
    string? AssignedAgent,
    string? CurrentAgent,
    string? ParentWorkflowId,
    string? StageName,
    string InputJson,
    IReadOnlyList<string> Dependencies,
    int TimeoutSeconds,
    int MaxAttempts,
    string Backoff,
    int Attempts,
    long FencingToken,
    int Progress,
    string? OutputJson,
    string? ResultJson,
    string? Error,
    string? ErrorCode,
    string? IdempotencyKey,
    string? ScheduleId,
    DateTimeOffset RunAt,
    DateTimeOffset? LeaseExpiresAt,
    DateTimeOffset? Deadline,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    public bool IsTerminal => Status is "completed" or "failed" or "canceled";
}

/// <summary>How a task insert went.</summary>
/// <param name="Task">The new task, or the existing one for a repeated id or idempotency key of the same owner; null when <paramref name="IdTaken"/>.</param>
/// <param name="Created">True when inserted now.</param>
/// <param name="MissingDependencies">Dependencies that do not exist for this owner (nothing was inserted).</param>
/// <param name="IdTaken">The id belongs to another owner (nothing was inserted).</param>
public sealed record TaskCreateResult(TaskRecord? Task, bool Created, IReadOnlyList<string> MissingDependencies, bool IdTaken);

public sealed record TaskQuery(string? OwnerId, string? Status, string? Type, string? AssignedAgent, string? ParentWorkflowId, int Limit, int Offset);

public sealed record ScheduleRecord(
    string ScheduleId,
    string OwnerId,
    string CreatedBy,
    string AgentId,
    string TaskType,
    string ParametersJson,
    string Priority,
    int TimeoutSeconds,
    int MaxAttempts,
    string Backoff,
    string Cron,
    string QuartzCron,
    DateTimeOffset NextFireAt,
    DateTimeOffset? LastFiredAt,
    string? LastTaskId,
    DateTimeOffset CreatedAt);

public sealed record WorkflowRecord(
    string WorkflowId,
    string OwnerId,
    string CreatedBy,
    string? ProjectId,
    string Name,
    string DefinitionJson,
    bool Parallel,
    string FailureStrategy,
    string Status,
    string? Error,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);
