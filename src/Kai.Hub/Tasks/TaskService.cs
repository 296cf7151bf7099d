using System.Text.Json;
using System.Text.Json.Nodes;
using Kai.Hub.Housekeeping;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Routing;
using Kai.Hub.Observability;
using Kai.Hub.Storage;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Tasks;

/// <summary>
/// The durable task queue (seeds 000 and 004, issue 3): store first, then lease attempts to eligible agents, at least once.
/// </summary>
/// <remarks>
/// <para>Every transition is a conditional write in the store (status and fencing token in the WHERE clause), so the REST edge,
/// the link edge and the sweeper can race without locks: the loser changes nothing.</para>
/// <para>Dispatch runs when something can have changed: a task was enqueued, an agent connected, a task ended (capacity freed), and
/// on each sweep (leases, timeouts, backoffs, delays, schedules). There is no polling loop. One dispatch pass runs at a time; a
/// request arriving during a pass makes the running pass go round once more instead of waiting.</para>
/// </remarks>
internal sealed partial class TaskService(
    ITaskQueueStore store, IWorkflowStore workflowStore, IAgentStore agentStore, IScheduleStore scheduleStore,
    Router router, AgentDirectory directory, CapabilityResolver capabilities, TaskEvents events, HubMetrics metrics, TimeProvider time,
    IOptionsMonitor<TaskOptions> options, LeaseLedger ledger, ILogger<TaskService> logger, IHousekeepingLeadership leadership, IFileReferences files) : IHousekeeping
{
    // Read on each use: these settings may change at run time (/api/v1/config).
    private TaskOptions _options => options.CurrentValue;
    private readonly SemaphoreSlim _dispatchGate = new(1, 1);
    private int _dispatchRequested;

    public static readonly IReadOnlyList<string> BackoffStrategies = ["none", "linear", "exponential"];

    // ---- creation and reads ----

    /// <summary>Creates a task, or returns the existing one for a repeated id or idempotency key of the same owner.</summary>
    /// <exception cref="ApiException">400 for invalid input or unknown dependencies, 404 for an unknown assigned agent, 409 for an id of another owner.</exception>
    public async Task<(TaskRecord Task, bool Created)> CreateAsync(KaiPrincipal principal, CreateTaskRequest r, string? idempotencyKey, CancellationToken ct)
    {
        var deps = r.Dependencies ?? [];
        new Validation()
            .Check(r.Id is null || IsId(r.Id), "id", "must be 1 to 64 letters, digits or - _ . :")
            .Length(r.Type, "type", 1, 64)
            .Check(r.Priority is null || CommandStatuses.Priorities.Contains(r.Priority), "priority", "must be low, normal, high or urgent")
            .Length(r.AssignedAgent, "assigned_agent", 1, 64, required: false)
            .Check(r.ParentWorkflowId is null || IsId(r.ParentWorkflowId), "parent_workflow_id", "must be 1 to 64 letters, digits or - _ . :")
            .Check(r.InputData is null || r.InputData.Value.ValueKind is JsonValueKind.Object or JsonValueKind.Null, "input_data", "must be a JSON object")
            .Check(deps.Count <= 100, "dependencies", "must have at most 100 items")
            .Check(deps.All(d => d is not null && IsId(d)), "dependencies", "items must be task ids")
            .Check(r.Id is null || !deps.Contains(r.Id), "dependencies", "a task cannot depend on itself (that is a cycle)")
            .Check(r.Timeout is null or (>= 1 and <= 86400), "timeout", "must be 1 to 86400 seconds")
            .Check(r.RetryPolicy?.MaxAttempts is null or (>= 1 and <= 100), "retry_policy.max_attempts", "must be 1 to 100")
            .Check(r.RetryPolicy?.BackoffStrategy is null || BackoffStrategies.Contains(r.RetryPolicy.BackoffStrategy), "retry_policy.backoff_strategy", "must be none, linear or exponential")
            .Check(idempotencyKey is null || idempotencyKey.Length is >= 1 and <= 128, "Idempotency-Key", "must be 1 to 128 characters")
            .ThrowIfInvalid();
        var owner = principal.OwnerId;
        if (r.AssignedAgent is not null)
        {
            var agent = await agentStore.GetAgentAsync(r.AssignedAgent, ct);
            if (agent is null || !Access.MayAccess(principal, agent.OwnerId))
            {
                throw ApiException.AgentNotFound(r.AssignedAgent);
            }
            owner = agent.OwnerId;
        }
        var now = time.GetUtcNow();
        var record = NewTask(r.Id ?? NewId("tsk_"), owner, principal.Id, r.Type, r.Priority, r.AssignedAgent, r.ParentWorkflowId, null,
            r.InputData, deps.Distinct(StringComparer.Ordinal).ToList(), r.Timeout, r.RetryPolicy, now, now) with { IdempotencyKey = idempotencyKey };
        // Files the input references (file_id): checked and recorded before the task exists, so its agent can read them (issue 13).
        await files.ReferenceAsync(principal, WorkKinds.Task, record.TaskId, owner, "input_data", record.InputJson, ct);
        return await InsertAsync(record, ct);
    }

    internal async Task<(TaskRecord Task, bool Created)> InsertAsync(TaskRecord record, CancellationToken ct)
    {
        var result = await store.CreateTaskAsync(record, time.GetUtcNow(), ct);
        if (result.IdTaken)
        {
            throw new ApiException(ErrorCodes.Conflict, $"Task id '{record.TaskId}' is taken; choose another id.", new Dictionary<string, string> { ["task_id"] = record.TaskId });
        }
        if (result.MissingDependencies.Count > 0)
        {
            // Seed 004's error table: a dependency that does not exist is DEPENDENCY_NOT_MET (412); nothing is stored.
            throw new ApiException(ErrorCodes.DependencyNotMet,
                $"The task depends on tasks that do not exist: {string.Join(", ", result.MissingDependencies)}; nothing was stored.",
                new Dictionary<string, string[]> { ["dependencies"] = [.. result.MissingDependencies.Select(d => $"unknown task '{d}'")] });
        }
        var task = result.Task!;
        if (!result.Created)
        {
            return (task, false);
        }
        Log.TaskCreated(logger, task.TaskId, task.Type, task.Status);
        await events.TaskAsync(TaskEventTypes.TaskCreated, task);
        if (task.Status == TaskStatuses.Failed)
        {
            await events.TaskAsync(TaskEventTypes.TaskFailed, task);
        }
        else if (task.Status == TaskStatuses.Queued)
        {
            await DispatchAsync(ct);
        }
        return ((await store.GetTaskAsync(task.TaskId, ct)) ?? task, true);
    }

    internal TaskRecord NewTask(
        string id, string owner, string createdBy, string type, string? priority, string? assignedAgent, string? workflowId, string? stageName,
        JsonElement? input, IReadOnlyList<string> deps, int? timeout, RetryPolicy? retry, DateTimeOffset runAt, DateTimeOffset now)
    {
        var defaults = _options.RetryFor(type);
        return new TaskRecord(id, owner, createdBy, type, priority ?? "normal", TaskStatuses.Pending, assignedAgent, null, workflowId, stageName,
            input is { ValueKind: JsonValueKind.Object } i ? i.GetRawText() : "{}", deps, timeout ?? _options.DefaultTimeoutSeconds,
            retry?.MaxAttempts ?? defaults.MaxAttempts, retry?.BackoffStrategy ?? defaults.BackoffStrategy, 0, 0, 0, null, null, null, null, null, null,
            runAt, null, null, now, now);
    }

    /// <summary>A task the principal may see (owner's principals and admins); anything else is 404.</summary>
    public async Task<TaskRecord> GetVisibleAsync(KaiPrincipal principal, string taskId, CancellationToken ct)
    {
        var task = taskId.Length <= 64 ? await store.GetTaskAsync(taskId, ct) : null;
        if (task is null || !Access.MayAccess(principal, task.OwnerId))
        {
            throw ApiException.NotFound($"Task '{taskId}'");
        }
        return task;
    }

    public async Task<TaskListResponse> ListAsync(
        KaiPrincipal principal, string? status, string? type, string? assignedAgent, string? workflowId, int? limit, int? offset, CancellationToken ct)
    {
        new Validation()
            .Check(status is null or TaskStatuses.Pending or TaskStatuses.Queued or TaskStatuses.InProgress or TaskStatuses.Completed or TaskStatuses.Failed or TaskStatuses.Canceled,
                "status", "must be pending, queued, in_progress, completed, failed or canceled")
            .Check(limit is null or (>= 1 and <= 100), "limit", "must be 1 to 100")
            .Check(offset is null or >= 0, "offset", "must be 0 or more")
            .ThrowIfInvalid();
        var q = new TaskQuery(Access.TenantScope(principal), status, type, assignedAgent, workflowId, limit ?? 50, offset ?? 0);
        var (items, total) = await store.ListTasksAsync(q, ct);
        return new TaskListResponse(items.Select(View).ToList(), total, new Pagination(q.Limit, q.Offset, total, q.Offset + items.Count < total));
    }

    // ---- dispatch ----

    /// <summary>Leases ready tasks to eligible agents with free capacity. Never waits for a running pass: it asks it to go round again.</summary>
    public async Task DispatchAsync(CancellationToken ct)
    {
        Interlocked.Exchange(ref _dispatchRequested, 1);
        while (Volatile.Read(ref _dispatchRequested) == 1 && await _dispatchGate.WaitAsync(0, ct))
        {
            try
            {
                while (Interlocked.Exchange(ref _dispatchRequested, 0) == 1)
                {
                    await DispatchOnceAsync(ct);
                }
            }
            finally
            {
                _dispatchGate.Release();
            }
        }
    }

    /// <remarks>
    /// One pass: the ready tasks (one read) grouped by pool (pinned agent, or owner and type); in each pool the tasks are handed
    /// out one by one with the usual balancing, and then each chosen agent claims its share at once (claim the next n, issue 16):
    /// one conditional write per agent, and the claims of all agents share one transaction (the store's group commit).
    /// </remarks>
    private async Task DispatchOnceAsync(CancellationToken ct)
    {
        var ready = await store.ListReadyTasksAsync(time.GetUtcNow(), _options.DispatchBatch, ct);
        if (ready.Count == 0)
        {
            return;
        }
        var load = new Dictionary<string, int>(StringComparer.Ordinal);
        var leases = new List<Task>();
        foreach (var group in ready.GroupBy(t => t.AssignedAgent is { } pinned ? "agent\n" + pinned : t.OwnerId + "\n" + t.Type, StringComparer.Ordinal))
        {
            var first = group.First();
            IReadOnlyList<Candidate> pool = first.AssignedAgent is not null
                ? await directory.CandidateAsync(first.AssignedAgent, ct) is { } one ? [one] : []
                : await directory.CandidatesAsync(first.OwnerId, first.Type, ct);
            var unknown = pool.Select(a => a.AgentId).Where(id => !load.ContainsKey(id)).ToList();
            foreach (var (agentId, count) in await store.CountInFlightAsync(unknown, ct))
            {
                load[agentId] = count;
            }
            foreach (var id in unknown)
            {
                load.TryAdd(id, 0);
            }
            // The same balancing as every capability route (least loaded against max_concurrent_tasks, health, round robin),
            // with the in-flight counts of the task queue itself, one task at a time.
            var shares = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var _ in group)
            {
                var chosen = capabilities.Choose(first.OwnerId, first.Type, [.. pool.Select(c => c with { InFlight = load[c.AgentId] })]);
                if (chosen is null)
                {
                    break;
                }
                load[chosen.AgentId]++;
                shares[chosen.AgentId] = shares.GetValueOrDefault(chosen.AgentId) + 1;
            }
            IReadOnlyCollection<string> types = first.AssignedAgent is not null ? [] : [first.Type];
            foreach (var (agentId, n) in shares)
            {
                leases.Add(ClaimAndLeaseAsync(agentId, first.OwnerId, types, n, ct));
            }
        }
        await Task.WhenAll(leases);
    }

    /// <summary>Claims up to <paramref name="n"/> ready tasks for one agent and writes each to it as a <c>task</c> frame.</summary>
    private async Task ClaimAndLeaseAsync(string agentId, string ownerId, IReadOnlyCollection<string> types, int n, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var failed = false;
        foreach (var claimed in await store.ClaimNextAsync(agentId, ownerId, types, n, now, now + _options.LeaseDuration, ct))
        {
            if (!failed)
            {
                var frame = await TaskFrameAsync(claimed, ct);
                var lease = new Envelope(FrameTypes.Task, Address.Agent(agentId), frame, KaiPrincipal.System)
                {
                    Delivery = Delivery.Durable, CorrelationId = claimed.TaskId,
                };
                var leased = await router.RouteAsync(lease, ct);
                if (leased.IsDelivered)
                {
                    if (leased.ConnectionId is { } connection)
                    {
                        // Only the link the router provably wrote this attempt to may later answer for it without the token.
                        ledger.Record(claimed.TaskId, claimed.FencingToken, LeaseLedger.LinkChannel(connection));
                    }
                    Log.TaskLeased(logger, claimed.TaskId, claimed.Attempts, agentId);
                    continue;
                }
                failed = true;
                capabilities.RecordFailure(agentId);
            }
            // The link closed between the check and the write: undo the claim (and the rest of this agent's share) so another
            // agent can take them now.
            await store.ReleaseClaimAsync(claimed.TaskId, claimed.FencingToken, time.GetUtcNow(), ct);
            Interlocked.Exchange(ref _dispatchRequested, 1);
        }
    }

    private async Task<byte[]> TaskFrameAsync(TaskRecord t, CancellationToken ct)
    {
        var input = JsonNode.Parse(t.InputJson) as JsonObject ?? [];
        if (t.ParentWorkflowId is not null && t.Dependencies.Count > 0)
        {
            var upstream = new JsonObject();
            foreach (var dep in await store.GetTasksAsync(t.Dependencies, ct))
            {
                upstream[dep.StageName ?? dep.TaskId] = dep.ResultJson is null ? null : JsonNode.Parse(dep.ResultJson);
            }
            input["upstream"] = upstream;
        }
        var payload = new TaskPayload(t.TaskId, t.Type, JsonSerializer.SerializeToElement(input, KaiJson.Options), t.Attempts, t.MaxAttempts,
            t.FencingToken, t.LeaseExpiresAt!.Value, t.Deadline!.Value, t.Priority, t.ParentWorkflowId, t.StageName);
        return Frame.Encode(FrameTypes.Task, payload, t.TaskId + "#" + t.FencingToken, time.GetUtcNow());
    }

    // ---- reports from agents ----

    /// <summary>
    /// Applies a progress or outcome report of the agent working the task (link frame or PATCH). Returns the task after it, and
    /// whether it was a duplicate of the outcome already recorded for the same attempt (acknowledged, nothing changed).
    /// </summary>
    /// <remarks>
    /// <para><paramref name="channel"/> names where the report came from (<see cref="LeaseLedger.LinkChannel"/> or
    /// <see cref="LeaseLedger.RestChannel"/>). A terminal report without <c>fencing_token</c> and <c>attempt</c> is accepted only
    /// when that channel received the current attempt and no other attempt of the task (issue 10 item 7); otherwise 409.</para>
    /// <para><c>in_progress</c> from the assigned agent on a <c>pending</c> or <c>queued</c> task claims it (seed 004's REST flow):
    /// the attempt is leased to the agent as dispatch would, and the answer carries its attempt and fencing token.</para>
    /// </remarks>
    /// <exception cref="ApiException">404 unknown task; 409 <c>CONFLICT</c> superseded attempt, task no longer in progress, a tokenless
    /// terminal report that cannot be matched to the current attempt, or a claim that is not the assigned agent's; 412
    /// <c>DEPENDENCY_NOT_MET</c> claim of a task whose dependencies are not completed; 400 bad input.</exception>
    public async Task<(TaskRecord Task, bool Duplicate)> ReportAsync(string agentId, string ownerId, string channel, TaskUpdatePayload u, CancellationToken ct)
    {
        new Validation()
            .Length(u.TaskId, "task_id", 1, 64)
            .Check(u.Status is TaskStatuses.InProgress or TaskStatuses.Completed or TaskStatuses.Failed, "status", "must be in_progress, completed or failed")
            .Check(u.Progress is null or (>= 0 and <= 100), "progress", "must be 0 to 100")
            .Check(u.OutputData is null || u.OutputData.Value.ValueKind is JsonValueKind.Object or JsonValueKind.Null, "output_data", "must be a JSON object")
            .Length(u.Error, "error", 0, 4096, required: false)
            .ThrowIfInvalid();
        var task = await store.GetTaskAsync(u.TaskId, ct);
        if (task is null || !Access.IsTenant(task.OwnerId, ownerId))
        {
            throw ApiException.NotFound($"Task '{u.TaskId}'");
        }
        if (u.Status == TaskStatuses.InProgress && task.Status is TaskStatuses.Pending or TaskStatuses.Queued)
        {
            return (await ClaimAsync(task, agentId, channel, ct), false);
        }
        var sameAttempt = task.CurrentAgent == agentId
            && (u.FencingToken is null || u.FencingToken == task.FencingToken)
            && (u.Attempt is null || u.Attempt == task.Attempts);
        var terminal = u.Status is TaskStatuses.Completed or TaskStatuses.Failed;
        if (sameAttempt && task.Status == u.Status && terminal)
        {
            return (task, true);
        }
        if (!sameAttempt || task.Status != TaskStatuses.InProgress)
        {
            throw Stale(task, u);
        }
        if (terminal && u.FencingToken is null && u.Attempt is null && !ledger.Proves(task.TaskId, task.FencingToken, channel))
        {
            throw Unprovable(task);
        }
        var now = time.GetUtcNow();
        var output = u.OutputData is { ValueKind: JsonValueKind.Object } o ? o.GetRawText() : null;
        switch (u.Status)
        {
            case TaskStatuses.InProgress:
                if (!await store.RenewLeaseAsync(task.TaskId, agentId, task.FencingToken, u.Progress, output, now + _options.LeaseDuration, now, ct))
                {
                    throw Stale(task, u);
                }
                var renewed = (await store.GetTaskAsync(task.TaskId, ct))!;
                await events.TaskAsync(TaskEventTypes.TaskProgress, renewed, u.OutputData);
                return (renewed, false);

            case TaskStatuses.Completed:
                var result = u.Result is { ValueKind: not (JsonValueKind.Undefined or JsonValueKind.Null) } r ? r.GetRawText() : output;
                var completed = await store.CompleteAttemptAsync(task.TaskId, agentId, task.FencingToken, result, now, ct) ?? throw Stale(task, u);
                Log.TaskCompleted(logger, completed.TaskId, completed.Attempts, agentId);
                await events.TaskAsync(TaskEventTypes.TaskCompleted, completed);
                await OnTerminalAsync(completed, ct);
                return (completed, false);

            default:
                var failed = await FailAttemptAsync(task, u.Error ?? "the agent reported failure", null, ct) ?? throw Stale(task, u);
                return (failed, false);
        }
    }

    /// <summary>The assigned agent takes the lease of a pending (dependencies completed, start time come) or queued task over REST.</summary>
    private async Task<TaskRecord> ClaimAsync(TaskRecord task, string agentId, string channel, CancellationToken ct)
    {
        if (task.AssignedAgent != agentId)
        {
            throw new ApiException(ErrorCodes.Conflict,
                $"Task '{task.TaskId}' is {task.Status}; only its assigned agent may claim it with status in_progress (unassigned tasks are dispatched over the agent link).",
                new Dictionary<string, object?> { ["task_id"] = task.TaskId, ["status"] = task.Status, ["assigned_agent"] = task.AssignedAgent });
        }
        var now = time.GetUtcNow();
        if (task.Status == TaskStatuses.Pending)
        {
            await store.PromotePendingAsync(now, [task.TaskId], ct);
        }
        var claimed = await store.ClaimTaskAsync(task.TaskId, agentId, now, now + _options.LeaseDuration, ct);
        if (claimed is null)
        {
            var current = (await store.GetTaskAsync(task.TaskId, ct))!;
            if (current.Status == TaskStatuses.InProgress && current.CurrentAgent == agentId)
            {
                // Dispatch leased it to this agent's link a moment ago: the claim is that attempt.
                ledger.Record(current.TaskId, current.FencingToken, channel);
                return current;
            }
            if (current.Status == TaskStatuses.Pending)
            {
                var waiting = (await store.GetTasksAsync(current.Dependencies, ct)).Where(d => d.Status != TaskStatuses.Completed).Select(d => d.TaskId).ToList();
                throw new ApiException(ErrorCodes.DependencyNotMet, waiting.Count > 0
                        ? $"Task '{task.TaskId}' cannot start yet: its dependencies {string.Join(", ", waiting)} are not completed."
                        : $"Task '{task.TaskId}' cannot start before {current.RunAt:O}.",
                    new Dictionary<string, object?> { ["task_id"] = task.TaskId, ["waiting_for"] = waiting, ["run_at"] = current.RunAt });
            }
            throw Stale(current, new TaskUpdatePayload(task.TaskId, TaskStatuses.InProgress));
        }
        ledger.Record(claimed.TaskId, claimed.FencingToken, channel);
        Log.TaskLeased(logger, claimed.TaskId, claimed.Attempts, agentId);
        return claimed;
    }

    private static ApiException Unprovable(TaskRecord task) => new(ErrorCodes.Conflict,
        $"The update for task '{task.TaskId}' carries neither fencing_token nor attempt, and it cannot be matched to the current attempt "
        + $"{task.Attempts} (this link or client received more than one attempt, or not this one); send the fencing_token of the task frame. Nothing was changed.",
        new Dictionary<string, object?>
        {
            ["task_id"] = task.TaskId, ["status"] = task.Status, ["current_attempt"] = task.Attempts, ["fencing_token_required"] = true,
        });

    private static ApiException Stale(TaskRecord task, TaskUpdatePayload u) => new(ErrorCodes.Conflict,
        $"The update for task '{task.TaskId}' is stale: the attempt was superseded or the task is no longer in progress (status {task.Status}); nothing was changed.",
        new Dictionary<string, object?>
        {
            ["task_id"] = task.TaskId, ["status"] = task.Status, ["current_attempt"] = task.Attempts, ["fencing_token"] = task.FencingToken,
            ["sent_fencing_token"] = u.FencingToken, ["sent_attempt"] = u.Attempt,
        });

    /// <summary>Ends an attempt as failed: queued again after the backoff, or dead-lettered once attempts are exhausted.</summary>
    private async Task<TaskRecord?> FailAttemptAsync(TaskRecord task, string error, string? code, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        DateTimeOffset? retryAt = task.Attempts < task.MaxAttempts ? now + Backoff(task) : null;
        var failed = await store.FailAttemptAsync(task.TaskId, task.FencingToken, error, code, retryAt, now, ct);
        if (failed is null)
        {
            return null;
        }
        if (retryAt is not null)
        {
            Log.TaskRetrying(logger, task.TaskId, task.Attempts, retryAt.Value, error);
            await DispatchAsync(ct);
        }
        else
        {
            Log.TaskDeadLettered(logger, task.TaskId, task.Attempts, error);
            await events.TaskAsync(TaskEventTypes.TaskFailed, failed);
            await OnTerminalAsync(failed, ct);
        }
        return failed;
    }

    internal TimeSpan Backoff(TaskRecord t)
    {
        var d = _options.RetryFor(t.Type);
        var n = Math.Max(1, t.Attempts);
        var ms = t.Backoff switch
        {
            "none" => 0,
            "linear" => d.BaseDelay.TotalMilliseconds * n,
            _ => d.BaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(n - 1, 30)),
        };
        ms = Math.Min(ms, d.MaxDelay.TotalMilliseconds);
        // Jitter spreads retries of tasks that failed together (a crashed agent) so they do not come back as one burst.
#pragma warning disable CA5394 // Not security sensitive.
        ms *= 1 + (d.Jitter * ((Random.Shared.NextDouble() * 2) - 1));
#pragma warning restore CA5394
        return TimeSpan.FromMilliseconds(Math.Max(0, ms));
    }

    // ---- terminal transitions, cancel, re-drive ----

    /// <summary>After a task ended: start or fail its dependents, advance its workflow, and use the freed capacity.</summary>
    private async Task OnTerminalAsync(TaskRecord task, CancellationToken ct)
    {
        var queue = new Queue<TaskRecord>([task]);
        while (queue.TryDequeue(out var done))
        {
            ledger.Forget(done.TaskId);
            // The workflow first: under stop_on_error its open stages are canceled, rather than failed as dependents below.
            if (done.ParentWorkflowId is not null && done.StageName is not null)
            {
                foreach (var canceled in await OnStageTerminalAsync(done, ct))
                {
                    queue.Enqueue(canceled);
                }
            }
            var now = time.GetUtcNow();
            if (done.Status == TaskStatuses.Completed)
            {
                await store.PromotePendingAsync(now, await store.ListDependentsAsync(done.TaskId, ct), ct);
            }
            else
            {
                foreach (var dependent in await store.FailDependentsAsync(done.TaskId, $"dependency '{done.TaskId}' is {done.Status}", now, ct))
                {
                    await events.TaskAsync(TaskEventTypes.TaskFailed, dependent);
                    queue.Enqueue(dependent);
                }
            }
        }
        await DispatchAsync(ct);
    }

    /// <summary>Cancels a task that is not terminal; the agent working it gets a <c>task_cancel</c> frame.</summary>
    /// <exception cref="ApiException">404 not visible; 409 already terminal.</exception>
    public async Task<TaskRecord> CancelAsync(KaiPrincipal principal, string taskId, CancellationToken ct)
    {
        var task = await GetVisibleAsync(principal, taskId, ct);
        var canceled = await CancelCoreAsync(task.TaskId, "canceled by " + principal.Id, ct)
            ?? throw new ApiException(ErrorCodes.Conflict, $"Task '{taskId}' is already {task.Status}.", new Dictionary<string, string> { ["task_id"] = taskId, ["status"] = task.Status });
        await OnTerminalAsync(canceled, ct);
        return (await store.GetTaskAsync(taskId, ct))!;
    }

    /// <summary>Cancels without the terminal follow-up; returns the canceled task, or null if it was already terminal.</summary>
    private async Task<TaskRecord?> CancelCoreAsync(string taskId, string reason, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var before = await store.CancelTaskAsync(taskId, reason, now, ct);
        if (before is null)
        {
            return null;
        }
        if (before.Status == TaskStatuses.InProgress && before.CurrentAgent is { } agentId)
        {
            var frame = Frame.Encode(FrameTypes.TaskCancel, new TaskCancelPayload(taskId, before.FencingToken, reason), timestamp: now);
            await router.RouteAsync(new Envelope(FrameTypes.TaskCancel, Address.Agent(agentId), frame, KaiPrincipal.System), ct);
        }
        var canceled = before with { Status = TaskStatuses.Canceled, Error = reason, ErrorCode = null, LeaseExpiresAt = null, Deadline = null, UpdatedAt = now };
        await events.TaskAsync(TaskEventTypes.TaskFailed, canceled);
        return canceled;
    }

    /// <summary>Re-drives a dead letter (failed) or canceled task: attempts reset, dependencies checked again.</summary>
    /// <exception cref="ApiException">404 not visible; 409 not failed or canceled.</exception>
    public async Task<TaskRecord> RetryAsync(KaiPrincipal principal, string taskId, CancellationToken ct)
    {
        var task = await GetVisibleAsync(principal, taskId, ct);
        _ = await store.RedriveTaskAsync(task.TaskId, time.GetUtcNow(), ct)
            ?? throw new ApiException(ErrorCodes.Conflict, $"Only failed or canceled tasks can be retried; task '{taskId}' is {task.Status}.",
                new Dictionary<string, string> { ["task_id"] = taskId, ["status"] = task.Status });
        Log.TaskRedriven(logger, taskId, principal.Id);
        await store.PromotePendingAsync(time.GetUtcNow(), [taskId], ct);
        await DispatchAsync(ct);
        return (await store.GetTaskAsync(taskId, ct))!;
    }

    // ---- housekeeping ----

    /// <summary>
    /// One housekeeping pass, driven by the hub sweeper on <see cref="TimeProvider"/>: ends attempts whose lease expired
    /// (<c>AGENT_UNAVAILABLE</c>) or whose deadline passed (<c>TASK_TIMEOUT</c>), fires due schedules, starts pending tasks whose
    /// time has come, and dispatches (including retries whose backoff ended).
    /// </summary>
    public async Task SweepAsync(CancellationToken ct)
    {
        // The lease sweep and the schedules are store-wide: with several nodes, the housekeeping leader runs them (every step is a
        // conditional write anyway, so a second node would only repeat work). Promotion and dispatch to this node's agents run everywhere.
        if (leadership.IsLeader)
        {
            await SweepLeasesAndSchedulesAsync(ct);
        }
        await store.PromotePendingAsync(time.GetUtcNow(), null, ct);
        await DispatchAsync(ct);
    }

    private async Task SweepLeasesAndSchedulesAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        foreach (var task in await store.ListExpiredAttemptsAsync(now, ct))
        {
            var timedOut = task.Deadline <= now;
            var error = timedOut
                ? $"attempt {task.Attempts} exceeded the timeout of {task.TimeoutSeconds} s"
                : $"lease of attempt {task.Attempts} expired: agent '{task.CurrentAgent}' stopped reporting (died, hung or disconnected)";
            if (timedOut && task.CurrentAgent is { } agentId)
            {
                var frame = Frame.Encode(FrameTypes.TaskCancel, new TaskCancelPayload(task.TaskId, task.FencingToken, "timeout"), timestamp: now);
                await router.RouteAsync(new Envelope(FrameTypes.TaskCancel, Address.Agent(agentId), frame, KaiPrincipal.System), ct);
            }
            // Counted only when this pass ended the attempt: two sweeps that listed the same expired attempt (the timer's and one
            // run by hand, or two nodes) end it once, since the write is conditional on the fencing token.
            if (await FailAttemptAsync(task, error, timedOut ? ErrorCodes.TaskTimeout : ErrorCodes.AgentUnavailable, ct) is not null)
            {
                Log.AttemptExpired(logger, task.TaskId, task.Attempts, task.CurrentAgent, timedOut);
                metrics.LeaseExpiries.Add(1, new KeyValuePair<string, object?>("reason", timedOut ? "timeout" : "lease_expired"));
            }
        }
        await FireSchedulesAsync(ct);
    }

    // ---- views ----

    public static TaskView View(TaskRecord t) => new(
        t.TaskId, t.Type, t.Status, t.Priority, t.CurrentAgent ?? t.AssignedAgent, t.Attempts, t.MaxAttempts, t.Progress, Json(t.InputJson)!.Value,
        Json(t.ResultJson), t.Error, t.ErrorCode, t.Dependencies, t.ParentWorkflowId, t.CreatedAt, t.UpdatedAt, t.TimeoutSeconds, t.Backoff,
        Json(t.OutputJson), t.RunAt, t.Status == TaskStatuses.InProgress ? t.LeaseExpiresAt : null, t.StageName, t.ScheduleId,
        t.Status == TaskStatuses.InProgress ? t.FencingToken : null);

    public static TaskStatusResponse StatusView(TaskRecord t) => new(
        t.TaskId, t.Status, t.Status == TaskStatuses.Completed ? 100 : t.Progress, Json(t.ResultJson), t.Error, t.CreatedAt, t.UpdatedAt,
        t.CurrentAgent ?? t.AssignedAgent, t.Type);

    internal static JsonElement? Json(string? raw) => raw is null ? null : JsonDocument.Parse(raw).RootElement.Clone();

    internal static bool IsId(string s) => s.Length is >= 1 and <= 64 && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':');

    internal static string NewId(string prefix) => prefix + Guid.CreateVersion7().ToString("N");

    private static partial class Log
    {
        [LoggerMessage(500, LogLevel.Debug, "Task {TaskId} created as {Type}, {Status}")]
        public static partial void TaskCreated(ILogger logger, string taskId, string type, string status);

        [LoggerMessage(501, LogLevel.Debug, "Task {TaskId} attempt {Attempt} leased to {AgentId}")]
        public static partial void TaskLeased(ILogger logger, string taskId, int attempt, string agentId);

        [LoggerMessage(502, LogLevel.Debug, "Task {TaskId} attempt {Attempt} completed by {AgentId}")]
        public static partial void TaskCompleted(ILogger logger, string taskId, int attempt, string agentId);

        [LoggerMessage(503, LogLevel.Information, "Task {TaskId} attempt {Attempt} failed; retrying at {RetryAt}: {Error}")]
        public static partial void TaskRetrying(ILogger logger, string taskId, int attempt, DateTimeOffset retryAt, string error);

        [LoggerMessage(504, LogLevel.Warning, "Task {TaskId} failed for good after {Attempts} attempts (dead letter): {Error}")]
        public static partial void TaskDeadLettered(ILogger logger, string taskId, int attempts, string error);

        [LoggerMessage(505, LogLevel.Information, "Task {TaskId} attempt {Attempt} of agent {AgentId} expired (timeout: {TimedOut})")]
        public static partial void AttemptExpired(ILogger logger, string taskId, int attempt, string? agentId, bool timedOut);

        [LoggerMessage(506, LogLevel.Information, "Task {TaskId} re-driven by {PrincipalId}")]
        public static partial void TaskRedriven(ILogger logger, string taskId, string principalId);

        [LoggerMessage(507, LogLevel.Information, "Schedule {ScheduleId} fired task {TaskId}")]
        public static partial void ScheduleFired(ILogger logger, string scheduleId, string taskId);
    }
}
