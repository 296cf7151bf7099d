using System.Text.Json;
using Dapper;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Microsoft.Data.Sqlite;

namespace Kai.Hub.Storage;

internal sealed partial class SqliteHubStore
{
    private const string InsertTaskSql = """
        INSERT INTO tasks (task_id, owner_id, created_by, type, priority, status, assigned_agent, current_agent, parent_workflow_id, stage_name,
                           input_data, dependencies, timeout_s, max_attempts, backoff, attempts, fencing_token, progress, output_data, result,
                           error, error_code, idempotency_key, schedule_id, run_at, lease_expires_at, deadline, created_at, updated_at)
        VALUES (@TaskId, @OwnerId, @CreatedBy, @Type, @Priority, @Status, @AssignedAgent, @CurrentAgent, @ParentWorkflowId, @StageName,
                @InputJson, @Dependencies, @TimeoutSeconds, @MaxAttempts, @Backoff, @Attempts, @FencingToken, @Progress, @OutputJson, @ResultJson,
                @Error, @ErrorCode, @IdempotencyKey, @ScheduleId, @RunAt, @LeaseExpiresAt, @Deadline, @CreatedAt, @UpdatedAt)
        ON CONFLICT DO NOTHING
        """;

    private const string ClaimPickSql = """
        SELECT task_id FROM tasks
        WHERE status = 'queued' AND run_at <= @now
          AND (assigned_agent = @agentId OR (assigned_agent IS NULL AND owner_id = @ownerId AND type = @type))
        ORDER BY priority DESC, created_at, rowid LIMIT @limit
        """;

    private const string ClaimPickPinnedSql = """
        SELECT task_id FROM tasks
        WHERE status = 'queued' AND run_at <= @now AND assigned_agent = @agentId
        ORDER BY priority DESC, created_at, rowid LIMIT @limit
        """;

    private const string ClaimOneSql = """
        UPDATE tasks SET status = 'in_progress', current_agent = @agentId, attempts = attempts + 1, fencing_token = fencing_token + 1,
                         progress = 0, lease_expires_at = @leaseUntil, deadline = @now + timeout_s * 1000, updated_at = @now
        WHERE task_id = @taskId AND status = 'queued'
        RETURNING *
        """;

    /// <summary>Runs a kept command and maps its first row (null when none).</summary>
    private static TaskRow? QueryTask(SqliteCommand cmd)
    {
        using var r = cmd.ExecuteReader();
        return r.Parse<TaskRow>().FirstOrDefault();
    }

    private static (string, object?)[] TaskArgs(TaskRecord t) =>
    [
        ("@TaskId", t.TaskId), ("@OwnerId", t.OwnerId), ("@CreatedBy", t.CreatedBy), ("@Type", t.Type), ("@Priority", PriorityRank(t.Priority)),
        ("@Status", t.Status), ("@AssignedAgent", t.AssignedAgent), ("@CurrentAgent", t.CurrentAgent), ("@ParentWorkflowId", t.ParentWorkflowId),
        ("@StageName", t.StageName), ("@InputJson", t.InputJson), ("@Dependencies", JsonSerializer.Serialize(t.Dependencies, KaiJson.Options)),
        ("@TimeoutSeconds", t.TimeoutSeconds), ("@MaxAttempts", t.MaxAttempts), ("@Backoff", t.Backoff), ("@Attempts", t.Attempts),
        ("@FencingToken", t.FencingToken), ("@Progress", t.Progress), ("@OutputJson", t.OutputJson), ("@ResultJson", t.ResultJson),
        ("@Error", t.Error), ("@ErrorCode", t.ErrorCode), ("@IdempotencyKey", t.IdempotencyKey), ("@ScheduleId", t.ScheduleId),
        ("@RunAt", Ms(t.RunAt)), ("@LeaseExpiresAt", Ms(t.LeaseExpiresAt)), ("@Deadline", Ms(t.Deadline)), ("@CreatedAt", Ms(t.CreatedAt)),
        ("@UpdatedAt", Ms(t.UpdatedAt)),
    ];

    // A pending task may start when no dependency is anything but completed and its start time has come.
    private const string PromotableSql = """
        status = 'pending' AND run_at <= @now
        AND NOT EXISTS (SELECT 1 FROM task_dependencies d JOIN tasks dep ON dep.task_id = d.depends_on
                        WHERE d.task_id = tasks.task_id AND dep.status <> 'completed')
        """;

    public Task<TaskCreateResult> CreateTaskAsync(TaskRecord task, DateTimeOffset now, CancellationToken ct) => WriteAsync(async (c, tx) =>
    {
        var existing = QueryTask(Prepared(c, tx, "SELECT * FROM tasks WHERE task_id = @TaskId", ("@TaskId", task.TaskId)));
        if (existing is null && task.IdempotencyKey is not null)
        {
            existing = await c.QuerySingleOrDefaultAsync<TaskRow>(
                "SELECT * FROM tasks WHERE owner_id = @OwnerId AND idempotency_key = @IdempotencyKey", new { task.OwnerId, task.IdempotencyKey }, tx);
        }
        if (existing is not null)
        {
            return existing.OwnerId == task.OwnerId
                ? new TaskCreateResult(existing.ToRecord(), false, [], false)
                : new TaskCreateResult(null, false, [], true);
        }
        var deps = task.Dependencies.Count == 0 ? new List<(string TaskId, string Status)>() : (await c.QueryAsync<(string TaskId, string Status)>(
            "SELECT task_id, status FROM tasks WHERE owner_id = @OwnerId AND task_id IN @Dependencies",
            new { task.OwnerId, task.Dependencies }, tx)).ToList();
        var missing = task.Dependencies.Where(d => !deps.Exists(x => x.TaskId == d)).ToList();
        if (missing.Count > 0)
        {
            return new TaskCreateResult(null, false, missing, false);
        }
        var failedDep = deps.FirstOrDefault(d => d.Status is TaskStatuses.Failed or TaskStatuses.Canceled);
        var record = failedDep.TaskId is not null
            ? task with { Status = TaskStatuses.Failed, Error = $"dependency '{failedDep.TaskId}' is {failedDep.Status}", ErrorCode = ErrorCodes.DependencyNotMet }
            : task with { Status = deps.TrueForAll(d => d.Status == TaskStatuses.Completed) && task.RunAt <= now ? TaskStatuses.Queued : TaskStatuses.Pending };
        if (record.Dependencies.Count == 0)
        {
            Prepared(c, tx, InsertTaskSql, TaskArgs(record)).ExecuteNonQuery();
        }
        else
        {
            await InsertTaskAsync(c, tx, record);
        }
        return new TaskCreateResult(record, true, [], false);
    }, ct);

    private static async Task InsertTaskAsync(SqliteConnection c, SqliteTransaction tx, TaskRecord t)
    {
        await c.ExecuteAsync(InsertTaskSql, TaskParams(t), tx);
        foreach (var dep in t.Dependencies)
        {
            await c.ExecuteAsync("INSERT INTO task_dependencies (task_id, depends_on) VALUES (@TaskId, @dep) ON CONFLICT DO NOTHING", new { t.TaskId, dep }, tx);
        }
    }

    public async Task<TaskRecord?> GetTaskAsync(string taskId, CancellationToken ct)
    {
        await using var c = OpenRead();
        var row = await c.QuerySingleOrDefaultAsync<TaskRow>(new CommandDefinition("SELECT * FROM tasks WHERE task_id = @taskId", new { taskId }, cancellationToken: ct));
        return row?.ToRecord();
    }

    public async Task<IReadOnlyList<TaskRecord>> GetTasksAsync(IReadOnlyCollection<string> taskIds, CancellationToken ct)
    {
        if (taskIds.Count == 0)
        {
            return [];
        }
        await using var c = OpenRead();
        var rows = await c.QueryAsync<TaskRow>(new CommandDefinition("SELECT * FROM tasks WHERE task_id IN @taskIds", new { taskIds }, cancellationToken: ct));
        return rows.Select(r => r.ToRecord()).ToList();
    }

    public async Task<(IReadOnlyList<TaskRecord> Items, int Total)> ListTasksAsync(TaskQuery q, CancellationToken ct)
    {
        const string where = """
            WHERE (@OwnerId IS NULL OR owner_id = @OwnerId)
              AND (@Status IS NULL OR status = @Status)
              AND (@Type IS NULL OR type = @Type)
              AND (@AssignedAgent IS NULL OR COALESCE(current_agent, assigned_agent) = @AssignedAgent)
              AND (@ParentWorkflowId IS NULL OR parent_workflow_id = @ParentWorkflowId)
            """;
        await using var c = OpenRead();
        var total = await c.ExecuteScalarAsync<int>(new CommandDefinition($"SELECT COUNT(*) FROM tasks {where}", q, cancellationToken: ct));
        var rows = await c.QueryAsync<TaskRow>(new CommandDefinition(
            $"SELECT * FROM tasks {where} ORDER BY created_at, rowid LIMIT @Limit OFFSET @Offset", q, cancellationToken: ct));
        return (rows.Select(r => r.ToRecord()).ToList(), total);
    }

    public async Task<IReadOnlyList<TaskRecord>> ListReadyTasksAsync(DateTimeOffset now, int limit, CancellationToken ct)
    {
        await using var c = OpenRead();
        var rows = await c.QueryAsync<TaskRow>(new CommandDefinition("""
            SELECT * FROM tasks WHERE status = 'queued' AND run_at <= @now
            ORDER BY priority DESC, created_at, rowid LIMIT @limit
            """, new { now = Ms(now), limit }, cancellationToken: ct));
        return rows.Select(r => r.ToRecord()).ToList();
    }

    public Task<TaskRecord?> ClaimTaskAsync(string taskId, string agentId, DateTimeOffset now, DateTimeOffset leaseUntil, CancellationToken ct) =>
        WriteAsync(async (c, tx) => (await c.QuerySingleOrDefaultAsync<TaskRow>("""
            UPDATE tasks SET status = 'in_progress', current_agent = @agentId, attempts = attempts + 1, fencing_token = fencing_token + 1,
                             progress = 0, lease_expires_at = @leaseUntil, deadline = @now + timeout_s * 1000, updated_at = @now
            WHERE task_id = @taskId AND status = 'queued'
            RETURNING *
            """, new { taskId, agentId, now = Ms(now), leaseUntil = Ms(leaseUntil) }, tx))?.ToRecord(), ct);

    public Task<IReadOnlyList<TaskRecord>> ClaimNextAsync(
        string agentId, string ownerId, IReadOnlyCollection<string> types, int limit, DateTimeOffset now, DateTimeOffset leaseUntil, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        if (limit == 0)
        {
            return Task.FromResult<IReadOnlyList<TaskRecord>>([]);
        }
        // One writer transaction: the pick and the claim cannot interleave with another claimer (SQLite has one writer).
        return WriteAsync(async (c, tx) =>
        {
            if (types.Count <= 1)
            {
                // The dispatcher's case (no type: a pinned task; one type: its pool): kept statements, one claim per task.
                var pick = types.Count == 0
                    ? Prepared(c, tx, ClaimPickPinnedSql, ("@agentId", agentId), ("@limit", limit), ("@now", Ms(now)))
                    : Prepared(c, tx, ClaimPickSql, ("@agentId", agentId), ("@ownerId", ownerId), ("@type", types.First()), ("@limit", limit), ("@now", Ms(now)));
                var picked = new List<string>();
                using (var r = pick.ExecuteReader())
                {
                    while (r.Read())
                    {
                        picked.Add(r.GetString(0));
                    }
                }
                var leased = new List<TaskRecord>(picked.Count);
                foreach (var id in picked)
                {
                    if (QueryTask(Prepared(c, tx, ClaimOneSql, ("@taskId", id), ("@agentId", agentId), ("@now", Ms(now)), ("@leaseUntil", Ms(leaseUntil)))) is { } row)
                    {
                        leased.Add(row.ToRecord());
                    }
                }
                return (IReadOnlyList<TaskRecord>)leased;
            }
            var ids = (await c.QueryAsync<string>("""
                SELECT task_id FROM tasks
                WHERE status = 'queued' AND run_at <= @now
                  AND (assigned_agent = @agentId OR (assigned_agent IS NULL AND owner_id = @ownerId AND type IN @types))
                ORDER BY priority DESC, created_at, rowid LIMIT @limit
                """, new { agentId, ownerId, types, limit, now = Ms(now) }, tx)).AsList();
            if (ids.Count == 0)
            {
                return (IReadOnlyList<TaskRecord>)[];
            }
            var claimed = (await c.QueryAsync<TaskRow>("""
                UPDATE tasks SET status = 'in_progress', current_agent = @agentId, attempts = attempts + 1, fencing_token = fencing_token + 1,
                                 progress = 0, lease_expires_at = @leaseUntil, deadline = @now + timeout_s * 1000, updated_at = @now
                WHERE task_id IN @ids AND status = 'queued'
                RETURNING *
                """, new { ids, agentId, now = Ms(now), leaseUntil = Ms(leaseUntil) }, tx)).ToDictionary(r => r.TaskId, StringComparer.Ordinal);
            return (IReadOnlyList<TaskRecord>)ids.Where(claimed.ContainsKey).Select(id => claimed[id].ToRecord()).ToList();
        }, ct);
    }

    public Task<bool> ReleaseClaimAsync(string taskId, long fencingToken, DateTimeOffset now, CancellationToken ct) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("""
            UPDATE tasks SET status = 'queued', current_agent = NULL, attempts = attempts - 1, lease_expires_at = NULL, deadline = NULL, updated_at = @now
            WHERE task_id = @taskId AND status = 'in_progress' AND fencing_token = @fencingToken
            """, new { taskId, fencingToken, now = Ms(now) }, tx) == 1, ct);

    public async Task<IReadOnlyDictionary<string, int>> CountInFlightAsync(IReadOnlyCollection<string> agentIds, CancellationToken ct)
    {
        if (agentIds.Count == 0)
        {
            return new Dictionary<string, int>();
        }
        await using var c = OpenRead();
        var rows = await c.QueryAsync<(string Agent, int Count)>(new CommandDefinition("""
            SELECT current_agent, COUNT(*) FROM tasks WHERE status = 'in_progress' AND current_agent IN @agentIds GROUP BY current_agent
            """, new { agentIds }, cancellationToken: ct));
        return rows.ToDictionary(r => r.Agent, r => r.Count, StringComparer.Ordinal);
    }

    public async Task<IReadOnlyList<AgentRecord>> ListEligibleAgentsAsync(string ownerId, string taskType, CancellationToken ct)
    {
        await using var c = OpenRead();
        var rows = await c.QueryAsync<AgentRow>(new CommandDefinition("""
            SELECT * FROM agents
            WHERE owner_id = @ownerId AND linked = 1
              AND (type = @taskType OR EXISTS (SELECT 1 FROM json_each(agents.capabilities) WHERE json_each.value = @taskType))
            ORDER BY created_at, agent_id
            """, new { ownerId, taskType }, cancellationToken: ct));
        return rows.Select(r => r.ToRecord()).ToList();
    }

    public Task<bool> RenewLeaseAsync(string taskId, string agentId, long fencingToken, int? progress, string? outputJson, DateTimeOffset leaseUntil, DateTimeOffset now, CancellationToken ct) =>
        WriteAsync(async (c, tx) => await c.ExecuteAsync("""
            UPDATE tasks SET progress = COALESCE(@progress, progress), output_data = COALESCE(@outputJson, output_data),
                             lease_expires_at = @leaseUntil, updated_at = @now
            WHERE task_id = @taskId AND status = 'in_progress' AND current_agent = @agentId AND fencing_token = @fencingToken
            """, new { taskId, agentId, fencingToken, progress, outputJson, leaseUntil = Ms(leaseUntil), now = Ms(now) }, tx) == 1, ct);

    public Task<TaskRecord?> CompleteAttemptAsync(string taskId, string agentId, long fencingToken, string? resultJson, DateTimeOffset now, CancellationToken ct) =>
        WriteAsync((c, tx) => Task.FromResult(QueryTask(Prepared(c, tx, """
            UPDATE tasks SET status = 'completed', result = @resultJson, progress = 100, error = NULL, error_code = NULL,
                             lease_expires_at = NULL, updated_at = @now
            WHERE task_id = @taskId AND status = 'in_progress' AND current_agent = @agentId AND fencing_token = @fencingToken
            RETURNING *
            """, ("@taskId", taskId), ("@agentId", agentId), ("@fencingToken", fencingToken), ("@resultJson", resultJson), ("@now", Ms(now))))?.ToRecord()), ct);

    public Task<TaskRecord?> FailAttemptAsync(string taskId, long fencingToken, string error, string? errorCode, DateTimeOffset? retryAt, DateTimeOffset now, CancellationToken ct) =>
        WriteAsync(async (c, tx) => (await c.QuerySingleOrDefaultAsync<TaskRow>("""
            UPDATE tasks SET status = CASE WHEN @retryAt IS NULL THEN 'failed' ELSE 'queued' END,
                             run_at = COALESCE(@retryAt, run_at), error = @error, error_code = @errorCode,
                             lease_expires_at = NULL, deadline = NULL, updated_at = @now
            WHERE task_id = @taskId AND status = 'in_progress' AND fencing_token = @fencingToken
            RETURNING *
            """, new { taskId, fencingToken, error, errorCode, retryAt = Ms(retryAt), now = Ms(now) }, tx))?.ToRecord(), ct);

    public async Task<IReadOnlyList<TaskRecord>> ListExpiredAttemptsAsync(DateTimeOffset now, CancellationToken ct)
    {
        await using var c = OpenRead();
        var rows = await c.QueryAsync<TaskRow>(new CommandDefinition("""
            SELECT * FROM tasks WHERE status = 'in_progress' AND (lease_expires_at <= @now OR deadline <= @now)
            """, new { now = Ms(now) }, cancellationToken: ct));
        return rows.Select(r => r.ToRecord()).ToList();
    }

    // No ids, no write: a task without dependents (most of them) must not cost a transaction of its own.
    public Task<int> PromotePendingAsync(DateTimeOffset now, IReadOnlyCollection<string>? taskIds, CancellationToken ct) => taskIds is { Count: 0 }
        ? Task.FromResult(0)
        : WriteAsync(async (c, tx) =>
        taskIds is null
            ? await c.ExecuteAsync($"UPDATE tasks SET status = 'queued', updated_at = @now WHERE {PromotableSql}", new { now = Ms(now) }, tx)
            : await c.ExecuteAsync($"UPDATE tasks SET status = 'queued', updated_at = @now WHERE task_id IN @taskIds AND {PromotableSql}", new { now = Ms(now), taskIds }, tx), ct);

    public async Task<IReadOnlyList<string>> ListDependentsAsync(string taskId, CancellationToken ct)
    {
        await using var c = OpenRead();
        return (await c.QueryAsync<string>(new CommandDefinition("SELECT task_id FROM task_dependencies WHERE depends_on = @taskId", new { taskId }, cancellationToken: ct))).AsList();
    }

    public Task<IReadOnlyList<TaskRecord>> FailDependentsAsync(string taskId, string error, DateTimeOffset now, CancellationToken ct) => WriteAsync(async (c, tx) =>
    {
        var rows = await c.QueryAsync<TaskRow>("""
            UPDATE tasks SET status = 'failed', error = @error, error_code = @code, updated_at = @now
            WHERE status = 'pending' AND task_id IN (SELECT task_id FROM task_dependencies WHERE depends_on = @taskId)
            RETURNING *
            """, new { taskId, error, code = ErrorCodes.DependencyNotMet, now = Ms(now) }, tx);
        return (IReadOnlyList<TaskRecord>)rows.Select(r => r.ToRecord()).ToList();
    }, ct);

    public Task<TaskRecord?> CancelTaskAsync(string taskId, string reason, DateTimeOffset now, CancellationToken ct) => WriteAsync(async (c, tx) =>
    {
        var before = await c.QuerySingleOrDefaultAsync<TaskRow>("SELECT * FROM tasks WHERE task_id = @taskId", new { taskId }, tx);
        if (before is null || before.Status is TaskStatuses.Completed or TaskStatuses.Failed or TaskStatuses.Canceled)
        {
            return null;
        }
        await c.ExecuteAsync("""
            UPDATE tasks SET status = 'canceled', error = @reason, error_code = NULL, lease_expires_at = NULL, deadline = NULL, updated_at = @now
            WHERE task_id = @taskId
            """, new { taskId, reason, now = Ms(now) }, tx);
        return before.ToRecord();
    }, ct);

    public Task<TaskRecord?> RedriveTaskAsync(string taskId, DateTimeOffset now, CancellationToken ct) => WriteAsync(async (c, tx) =>
        (await c.QuerySingleOrDefaultAsync<TaskRow>("""
            UPDATE tasks SET status = 'pending', attempts = 0, progress = 0, error = NULL, error_code = NULL, current_agent = NULL,
                             run_at = @now, lease_expires_at = NULL, deadline = NULL, updated_at = @now
            WHERE task_id = @taskId AND status IN ('failed', 'canceled')
            RETURNING *
            """, new { taskId, now = Ms(now) }, tx))?.ToRecord(), ct);

    // ---- schedules ----

    public Task CreateScheduleAsync(ScheduleRecord s, CancellationToken ct) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("""
            INSERT INTO schedules (schedule_id, owner_id, created_by, agent_id, task_type, parameters, priority, timeout_s, max_attempts, backoff,
                                   cron, quartz_cron, next_fire_at, last_fired_at, last_task_id, created_at)
            VALUES (@ScheduleId, @OwnerId, @CreatedBy, @AgentId, @TaskType, @ParametersJson, @Priority, @TimeoutSeconds, @MaxAttempts, @Backoff,
                    @Cron, @QuartzCron, @NextFireAt, @LastFiredAt, @LastTaskId, @CreatedAt)
            """, new
        {
            s.ScheduleId, s.OwnerId, s.CreatedBy, s.AgentId, s.TaskType, s.ParametersJson, Priority = PriorityRank(s.Priority), s.TimeoutSeconds,
            s.MaxAttempts, s.Backoff, s.Cron, s.QuartzCron, NextFireAt = Ms(s.NextFireAt), LastFiredAt = Ms(s.LastFiredAt), s.LastTaskId, CreatedAt = Ms(s.CreatedAt),
        }, tx), ct);

    public async Task<ScheduleRecord?> GetScheduleAsync(string scheduleId, CancellationToken ct)
    {
        await using var c = OpenRead();
        var row = await c.QuerySingleOrDefaultAsync<ScheduleRow>(new CommandDefinition("SELECT * FROM schedules WHERE schedule_id = @scheduleId", new { scheduleId }, cancellationToken: ct));
        return row?.ToRecord();
    }

    public async Task<IReadOnlyList<ScheduleRecord>> ListSchedulesAsync(string? ownerId, CancellationToken ct)
    {
        await using var c = OpenRead();
        var rows = await c.QueryAsync<ScheduleRow>(new CommandDefinition(
            "SELECT * FROM schedules WHERE @ownerId IS NULL OR owner_id = @ownerId ORDER BY created_at, schedule_id LIMIT 1000", new { ownerId }, cancellationToken: ct));
        return rows.Select(r => r.ToRecord()).ToList();
    }

    public Task<bool> DeleteScheduleAsync(string scheduleId, CancellationToken ct) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("DELETE FROM schedules WHERE schedule_id = @scheduleId", new { scheduleId }, tx) == 1, ct);

    public async Task<IReadOnlyList<ScheduleRecord>> ListDueSchedulesAsync(DateTimeOffset now, CancellationToken ct)
    {
        await using var c = OpenRead();
        var rows = await c.QueryAsync<ScheduleRow>(new CommandDefinition(
            "SELECT * FROM schedules WHERE next_fire_at <= @now ORDER BY next_fire_at LIMIT 500", new { now = Ms(now) }, cancellationToken: ct));
        return rows.Select(r => r.ToRecord()).ToList();
    }

    public Task<bool> FireScheduleAsync(string scheduleId, DateTimeOffset firedAt, TaskRecord task, DateTimeOffset nextFireAt, CancellationToken ct) => WriteAsync(async (c, tx) =>
    {
        var moved = await c.ExecuteAsync("""
            UPDATE schedules SET next_fire_at = @next, last_fired_at = @firedAt, last_task_id = @TaskId
            WHERE schedule_id = @scheduleId AND next_fire_at = @firedAt
            """, new { scheduleId, firedAt = Ms(firedAt), next = Ms(nextFireAt), task.TaskId }, tx);
        if (moved != 1)
        {
            return false;
        }
        await InsertTaskAsync(c, tx, task);
        return true;
    }, ct);

    // ---- workflows ----

    public Task<bool> CreateWorkflowAsync(WorkflowRecord w, IReadOnlyList<TaskRecord> stages, DateTimeOffset now, CancellationToken ct) => WriteAsync(async (c, tx) =>
    {
        var inserted = await c.ExecuteAsync("""
            INSERT INTO workflows (workflow_id, owner_id, created_by, project_id, name, definition, parallel, failure_strategy, status, error, created_at, updated_at)
            VALUES (@WorkflowId, @OwnerId, @CreatedBy, @ProjectId, @Name, @DefinitionJson, @Parallel, @FailureStrategy, @Status, @Error, @CreatedAt, @UpdatedAt)
            ON CONFLICT DO NOTHING
            """, new
        {
            w.WorkflowId, w.OwnerId, w.CreatedBy, w.ProjectId, w.Name, w.DefinitionJson, w.Parallel, w.FailureStrategy, w.Status, w.Error,
            CreatedAt = Ms(w.CreatedAt), UpdatedAt = Ms(w.UpdatedAt),
        }, tx);
        if (inserted != 1)
        {
            return false;
        }
        foreach (var stage in stages)
        {
            await InsertTaskAsync(c, tx, stage);
        }
        return true;
    }, ct);

    public async Task<WorkflowRecord?> GetWorkflowAsync(string workflowId, CancellationToken ct)
    {
        await using var c = OpenRead();
        var row = await c.QuerySingleOrDefaultAsync<WorkflowRow>(new CommandDefinition("SELECT * FROM workflows WHERE workflow_id = @workflowId", new { workflowId }, cancellationToken: ct));
        return row?.ToRecord();
    }

    public async Task<(IReadOnlyList<WorkflowRecord> Items, int Total)> ListWorkflowsAsync(string? ownerId, string? status, int limit, int offset, CancellationToken ct)
    {
        const string where = "WHERE (@ownerId IS NULL OR owner_id = @ownerId) AND (@status IS NULL OR status = @status)";
        await using var c = OpenRead();
        var args = new { ownerId, status, limit, offset };
        var total = await c.ExecuteScalarAsync<int>(new CommandDefinition($"SELECT COUNT(*) FROM workflows {where}", args, cancellationToken: ct));
        var rows = await c.QueryAsync<WorkflowRow>(new CommandDefinition(
            $"SELECT * FROM workflows {where} ORDER BY created_at, rowid LIMIT @limit OFFSET @offset", args, cancellationToken: ct));
        return (rows.Select(r => r.ToRecord()).ToList(), total);
    }

    public async Task<IReadOnlyList<TaskRecord>> ListWorkflowTasksAsync(string workflowId, CancellationToken ct)
    {
        await using var c = OpenRead();
        var rows = await c.QueryAsync<TaskRow>(new CommandDefinition(
            "SELECT * FROM tasks WHERE parent_workflow_id = @workflowId AND stage_name IS NOT NULL ORDER BY rowid", new { workflowId }, cancellationToken: ct));
        return rows.Select(r => r.ToRecord()).ToList();
    }

    public Task<bool> FinishWorkflowAsync(string workflowId, string status, string? error, DateTimeOffset now, CancellationToken ct) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("""
            UPDATE workflows SET status = @status, error = @error, updated_at = @now WHERE workflow_id = @workflowId AND status = 'running'
            """, new { workflowId, status, error, now = Ms(now) }, tx) == 1, ct);

    // ---- rows ----

    private static object TaskParams(TaskRecord t) => new
    {
        t.TaskId, t.OwnerId, t.CreatedBy, t.Type, Priority = PriorityRank(t.Priority), t.Status, t.AssignedAgent, t.CurrentAgent,
        t.ParentWorkflowId, t.StageName, t.InputJson, Dependencies = JsonSerializer.Serialize(t.Dependencies, KaiJson.Options),
        t.TimeoutSeconds, t.MaxAttempts, t.Backoff, t.Attempts, t.FencingToken, t.Progress, t.OutputJson, t.ResultJson, t.Error, t.ErrorCode,
        t.IdempotencyKey, t.ScheduleId, RunAt = Ms(t.RunAt), LeaseExpiresAt = Ms(t.LeaseExpiresAt), Deadline = Ms(t.Deadline),
        CreatedAt = Ms(t.CreatedAt), UpdatedAt = Ms(t.UpdatedAt),
    };

    private sealed class TaskRow
    {
        public string TaskId { get; set; } = "";
        public string OwnerId { get; set; } = "";
        public string CreatedBy { get; set; } = "";
        public string Type { get; set; } = "";
        public long Priority { get; set; }
        public string Status { get; set; } = "";
        public string? AssignedAgent { get; set; }
        public string? CurrentAgent { get; set; }
        public string? ParentWorkflowId { get; set; }
        public string? StageName { get; set; }
        public string InputData { get; set; } = "{}";
        public string Dependencies { get; set; } = "[]";
        public long TimeoutS { get; set; }
        public long MaxAttempts { get; set; }
        public string Backoff { get; set; } = "";
        public long Attempts { get; set; }
        public long FencingToken { get; set; }
        public long Progress { get; set; }
        public string? OutputData { get; set; }
        public string? Result { get; set; }
        public string? Error { get; set; }
        public string? ErrorCode { get; set; }
        public string? IdempotencyKey { get; set; }
        public string? ScheduleId { get; set; }
        public long RunAt { get; set; }
        public long? LeaseExpiresAt { get; set; }
        public long? Deadline { get; set; }
        public long CreatedAt { get; set; }
        public long UpdatedAt { get; set; }

        public TaskRecord ToRecord() => new(
            TaskId, OwnerId, CreatedBy, Type, CommandStatuses.Priorities[(int)Priority], Status, AssignedAgent, CurrentAgent, ParentWorkflowId, StageName,
            InputData, JsonSerializer.Deserialize<string[]>(Dependencies, KaiJson.Options) ?? [], (int)TimeoutS, (int)MaxAttempts, Backoff, (int)Attempts,
            FencingToken, (int)Progress, OutputData, Result, Error, ErrorCode, IdempotencyKey, ScheduleId, FromMs(RunAt), FromMs(LeaseExpiresAt),
            FromMs(Deadline), FromMs(CreatedAt), FromMs(UpdatedAt));
    }

    private sealed class ScheduleRow
    {
        public string ScheduleId { get; set; } = "";
        public string OwnerId { get; set; } = "";
        public string CreatedBy { get; set; } = "";
        public string AgentId { get; set; } = "";
        public string TaskType { get; set; } = "";
        public string Parameters { get; set; } = "{}";
        public long Priority { get; set; }
        public long TimeoutS { get; set; }
        public long MaxAttempts { get; set; }
        public string Backoff { get; set; } = "";
        public string Cron { get; set; } = "";
        public string QuartzCron { get; set; } = "";
        public long NextFireAt { get; set; }
        public long? LastFiredAt { get; set; }
        public string? LastTaskId { get; set; }
        public long CreatedAt { get; set; }

        public ScheduleRecord ToRecord() => new(
            ScheduleId, OwnerId, CreatedBy, AgentId, TaskType, Parameters, CommandStatuses.Priorities[(int)Priority], (int)TimeoutS, (int)MaxAttempts,
            Backoff, Cron, QuartzCron, FromMs(NextFireAt), FromMs(LastFiredAt), LastTaskId, FromMs(CreatedAt));
    }

    private sealed class WorkflowRow
    {
        public string WorkflowId { get; set; } = "";
        public string OwnerId { get; set; } = "";
        public string CreatedBy { get; set; } = "";
        public string? ProjectId { get; set; }
        public string Name { get; set; } = "";
        public string Definition { get; set; } = "{}";
        public long Parallel { get; set; }
        public string FailureStrategy { get; set; } = "";
        public string Status { get; set; } = "";
        public string? Error { get; set; }
        public long CreatedAt { get; set; }
        public long UpdatedAt { get; set; }

        public WorkflowRecord ToRecord() => new(
            WorkflowId, OwnerId, CreatedBy, ProjectId, Name, Definition, Parallel != 0, FailureStrategy, Status, Error, FromMs(CreatedAt), FromMs(UpdatedAt));
    }
}
