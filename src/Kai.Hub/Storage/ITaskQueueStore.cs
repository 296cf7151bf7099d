namespace Kai.Hub.Storage;

/// <summary>
/// The durable task queue. Every state change is one conditional statement (or one transaction), so concurrent callers race
/// safely: the loser sees null/false and changes nothing. On PostgreSQL the claim is <c>SELECT … FOR UPDATE SKIP LOCKED</c>
/// followed by the same conditional update (see docs/tasks.md).
/// </summary>
public interface ITaskQueueStore
{
    /// <summary>
    /// Inserts a task, atomically with: the idempotency check (same id or key of the same owner returns the existing task),
    /// the existence check of its dependencies, and its initial status from theirs (<c>failed</c> with
    /// <c>DEPENDENCY_NOT_MET</c> if one failed or was canceled; <c>queued</c> if all completed and <c>run_at</c> has come;
    /// else <c>pending</c>). Doing it in the writer's transaction is what keeps a dependency completing at the same moment from
    /// leaving the task pending forever.
    /// </summary>
    Task<TaskCreateResult> CreateTaskAsync(TaskRecord task, DateTimeOffset now, CancellationToken ct);

    Task<TaskRecord?> GetTaskAsync(string taskId, CancellationToken ct);

    Task<IReadOnlyList<TaskRecord>> GetTasksAsync(IReadOnlyCollection<string> taskIds, CancellationToken ct);

    Task<(IReadOnlyList<TaskRecord> Items, int Total)> ListTasksAsync(TaskQuery query, CancellationToken ct);

    /// <summary>Queued tasks whose <c>run_at</c> has come: highest priority first, then oldest (FIFO), at most <paramref name="limit"/>.</summary>
    /// <remarks>Dispatch uses it only to find which pools (pinned agent, or owner and type) have work; the claim itself is <see cref="ClaimNextAsync"/>.</remarks>
    Task<IReadOnlyList<TaskRecord>> ListReadyTasksAsync(DateTimeOffset now, int limit, CancellationToken ct);

    /// <summary>Leases a queued task to an agent: a new attempt with a new fencing token. Null if it is no longer queued.</summary>
    /// <remarks>Used by the REST claim of an assigned agent (<c>PATCH</c> with <c>in_progress</c>); dispatch uses <see cref="ClaimNextAsync"/>.</remarks>
    Task<TaskRecord?> ClaimTaskAsync(string taskId, string agentId, DateTimeOffset now, DateTimeOffset leaseUntil, CancellationToken ct);

    /// <summary>
    /// Claims, atomically, up to <paramref name="limit"/> ready tasks for one agent: queued, <c>run_at</c> at or before
    /// <paramref name="now"/>, and either assigned to <paramref name="agentId"/> or unassigned, of <paramref name="ownerId"/>
    /// and of one of <paramref name="types"/> (the agent's type and capabilities). Highest priority first, then oldest (FIFO).
    /// Each claimed task gets what <see cref="ClaimTaskAsync"/> gives: <c>in_progress</c>, a new attempt, the next fencing
    /// token, the lease until <paramref name="leaseUntil"/> and the attempt deadline from its timeout. Concurrent claimers
    /// (on one node or several) never get the same task; PostgreSQL does it with <c>FOR UPDATE SKIP LOCKED</c>.
    /// </summary>
    /// <returns>The claimed tasks as they are now, in claim order (empty when none is ready).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="limit"/> is negative.</exception>
    Task<IReadOnlyList<TaskRecord>> ClaimNextAsync(
        string agentId, string ownerId, IReadOnlyCollection<string> types, int limit, DateTimeOffset now, DateTimeOffset leaseUntil, CancellationToken ct);

    /// <summary>Undoes a claim whose frame could not be written (the link closed meanwhile): back to queued, the attempt not counted.</summary>
    Task<bool> ReleaseClaimAsync(string taskId, long fencingToken, DateTimeOffset now, CancellationToken ct);

    /// <summary>In-progress task counts of the given agents.</summary>
    Task<IReadOnlyDictionary<string, int>> CountInFlightAsync(IReadOnlyCollection<string> agentIds, CancellationToken ct);

    /// <summary>Progress of the current attempt: renews the lease. False if the attempt is not current.</summary>
    Task<bool> RenewLeaseAsync(string taskId, string agentId, long fencingToken, int? progress, string? outputJson, DateTimeOffset leaseUntil, DateTimeOffset now, CancellationToken ct);

    /// <summary>Completes the current attempt. Null if the attempt is not current.</summary>
    Task<TaskRecord?> CompleteAttemptAsync(string taskId, string agentId, long fencingToken, string? resultJson, DateTimeOffset now, CancellationToken ct);

    /// <summary>Ends the current attempt as failed: back to <c>queued</c> at <paramref name="retryAt"/>, or <c>failed</c> (dead letter) when it is null.</summary>
    Task<TaskRecord?> FailAttemptAsync(string taskId, long fencingToken, string error, string? errorCode, DateTimeOffset? retryAt, DateTimeOffset now, CancellationToken ct);

    /// <summary>In-progress tasks whose lease or attempt deadline is at or before <paramref name="now"/>.</summary>
    Task<IReadOnlyList<TaskRecord>> ListExpiredAttemptsAsync(DateTimeOffset now, CancellationToken ct);

    /// <summary>Pending tasks (all, or only <paramref name="taskIds"/>) whose dependencies all completed and whose <c>run_at</c> has come become queued.</summary>
    Task<int> PromotePendingAsync(DateTimeOffset now, IReadOnlyCollection<string>? taskIds, CancellationToken ct);

    /// <summary>Ids of the tasks depending on <paramref name="taskId"/>.</summary>
    Task<IReadOnlyList<string>> ListDependentsAsync(string taskId, CancellationToken ct);

    /// <summary>Fails the pending dependents of <paramref name="taskId"/> with <c>DEPENDENCY_NOT_MET</c> and returns them.</summary>
    Task<IReadOnlyList<TaskRecord>> FailDependentsAsync(string taskId, string error, DateTimeOffset now, CancellationToken ct);

    /// <summary>Cancels a task that is not terminal. Returns it as it was before (null if it was terminal or unknown).</summary>
    Task<TaskRecord?> CancelTaskAsync(string taskId, string reason, DateTimeOffset now, CancellationToken ct);

    /// <summary>Re-drives a failed or canceled task: attempts reset, back to pending (then promoted as usual). Null if it was not failed or canceled.</summary>
    Task<TaskRecord?> RedriveTaskAsync(string taskId, DateTimeOffset now, CancellationToken ct);
}
