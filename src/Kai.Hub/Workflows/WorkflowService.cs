using System.Text.Json;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Storage;
using Kai.Hub.Tasks;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;

namespace Kai.Hub.Workflows;

/// <summary>
/// Workflow runs (seed 004 "Workflow Orchestration"): a DAG of stages, each a durable task routed by its <c>agent_type</c>. The run's
/// progression (stage completed, failure strategy, completion) lives with the task queue, in <see cref="TaskService"/>.
/// </summary>
internal sealed class WorkflowService(IWorkflowStore store, TaskService tasks, TimeProvider time)
{
    /// <summary>Validates the definition, stores the run and all its stage tasks in one transaction, and starts it.</summary>
    /// <exception cref="ApiException">400 <c>VALIDATION_ERROR</c> for bad fields, 400 <c>INVALID_TEMPLATE</c> for duplicate names, unknown
    /// dependencies or a cycle, 409 for an id of another owner.</exception>
    public async Task<(WorkflowView View, bool Created)> CreateAsync(KaiPrincipal principal, CreateWorkflowRequest r, CancellationToken ct)
    {
        var stages = r.Stages ?? [];
        var strategy = r.Configuration?.FailureStrategy ?? TaskService.StopOnError;
        new Validation()
            .Check(r.Id is null || TaskService.IsId(r.Id), "id", "must be 1 to 64 letters, digits or - _ . :")
            .Length(r.ProjectId, "project_id", 1, 128, required: false)
            .Length(r.Name, "name", 1, 200)
            .Check(stages.Count is >= 1 and <= 100, "stages", "must have 1 to 100 stages")
            .Check(stages.All(s => s is not null && s.Name is not null && TaskService.IsId(s.Name)), "stages.name", "must be 1 to 64 letters, digits or - _ . :")
            .Check(stages.All(s => s?.AgentType is { Length: >= 1 and <= 64 }), "stages.agent_type", "must be 1 to 64 characters")
            .Check(stages.All(s => s?.Timeout is null or (>= 1 and <= 86400)), "stages.timeout", "must be 1 to 86400 seconds")
            .Check(stages.All(s => s?.InputData is null || s.InputData.Value.ValueKind is JsonValueKind.Object or JsonValueKind.Null), "stages.input_data", "must be a JSON object")
            .Check(stages.All(s => s?.RetryPolicy?.MaxAttempts is null or (>= 1 and <= 100)), "stages.retry_policy.max_attempts", "must be 1 to 100")
            .Check(stages.All(s => s?.RetryPolicy?.BackoffStrategy is null || TaskService.BackoffStrategies.Contains(s.RetryPolicy.BackoffStrategy)),
                "stages.retry_policy.backoff_strategy", "must be none, linear or exponential")
            .Check(strategy is TaskService.StopOnError or TaskService.Continue, "configuration.failure_strategy", "must be stop_on_error or continue")
            .ThrowIfInvalid();
        var order = CheckGraph(stages);

        var id = r.Id ?? TaskService.NewId("wf_");
        var existing = await store.GetWorkflowAsync(id, ct);
        if (existing is not null)
        {
            return Access.IsTenant(existing.OwnerId, principal.OwnerId)
                ? (await ViewAsync(existing, ct), false)
                : throw new ApiException(ErrorCodes.Conflict, $"Workflow id '{id}' is taken; choose another id.", new Dictionary<string, string> { ["workflow_id"] = id });
        }
        var now = time.GetUtcNow();
        var parallel = r.Configuration?.ParallelExecution ?? false;
        var taskIds = stages.ToDictionary(s => s.Name, _ => TaskService.NewId("tsk_"), StringComparer.Ordinal);
        var records = new List<TaskRecord>();
        string? previous = null;
        foreach (var s in order)
        {
            var deps = (s.Dependencies ?? []).Select(d => taskIds[d]).ToList();
            // Sequential mode: each stage also waits for the one before it in the topological order.
            if (!parallel && previous is not null && !deps.Contains(taskIds[previous]))
            {
                deps.Add(taskIds[previous]);
            }
            previous = s.Name;
            var task = tasks.NewTask(taskIds[s.Name], principal.OwnerId, principal.Id, s.AgentType, null, null, id, s.Name, s.InputData, deps,
                s.Timeout, s.RetryPolicy, now, now);
            records.Add(task with { Status = deps.Count == 0 ? TaskStatuses.Queued : TaskStatuses.Pending });
        }
        var wf = new WorkflowRecord(id, principal.OwnerId, principal.Id, r.ProjectId, r.Name, JsonSerializer.Serialize(stages, KaiJson.Options),
            parallel, strategy, WorkflowStatuses.Running, null, now, now);
        if (!await store.CreateWorkflowAsync(wf, records, now, ct))
        {
            // Lost a race with the same id: answer like a repeat.
            var raced = await store.GetWorkflowAsync(id, ct);
            return raced is not null && Access.IsTenant(raced.OwnerId, principal.OwnerId)
                ? (await ViewAsync(raced, ct), false)
                : throw new ApiException(ErrorCodes.Conflict, $"Workflow id '{id}' is taken; choose another id.", new Dictionary<string, string> { ["workflow_id"] = id });
        }
        await tasks.WorkflowStartedAsync(wf, records, ct);
        return (await ViewAsync((await store.GetWorkflowAsync(id, ct))!, ct), true);
    }

    /// <summary>Duplicate names, unknown dependencies and cycles, each named; returns the stages in a topological order (declared order where free).</summary>
    internal static IReadOnlyList<WorkflowStage> CheckGraph(IReadOnlyList<WorkflowStage> stages)
    {
        var duplicates = stages.GroupBy(s => s.Name, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (duplicates.Count > 0)
        {
            throw Invalid($"Stage names must be unique; duplicated: {string.Join(", ", duplicates)}.", "duplicate_stages", duplicates);
        }
        var names = stages.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        var unknown = stages.SelectMany(s => (s.Dependencies ?? []).Where(d => d is null || !names.Contains(d)).Select(d => $"{s.Name} -> {d}")).ToList();
        if (unknown.Count > 0)
        {
            throw Invalid($"Dependencies must name stages of this workflow; unknown: {string.Join(", ", unknown)}.", "unknown_dependencies", unknown);
        }
        // Kahn's algorithm, always taking the earliest declared stage that is free: stable and deterministic.
        var remaining = stages.ToList();
        var done = new HashSet<string>(StringComparer.Ordinal);
        var order = new List<WorkflowStage>();
        while (remaining.Count > 0)
        {
            var next = remaining.FirstOrDefault(s => (s.Dependencies ?? []).All(done.Contains));
            if (next is null)
            {
                var cycle = remaining.Select(s => s.Name).ToList();
                throw Invalid($"The stage dependencies form a cycle among: {string.Join(", ", cycle)}.", "cycle", cycle);
            }
            remaining.Remove(next);
            done.Add(next.Name);
            order.Add(next);
        }
        return order;
    }

    private static ApiException Invalid(string message, string key, IReadOnlyList<string> items) =>
        new(ErrorCodes.InvalidTemplate, message, new Dictionary<string, IReadOnlyList<string>> { [key] = items });

    public async Task<WorkflowRecord> GetVisibleAsync(KaiPrincipal principal, string workflowId, CancellationToken ct)
    {
        var wf = workflowId.Length <= 64 ? await store.GetWorkflowAsync(workflowId, ct) : null;
        if (wf is null || !Access.MayAccess(principal, wf.OwnerId))
        {
            throw ApiException.NotFound($"Workflow '{workflowId}'");
        }
        return wf;
    }

    public async Task<WorkflowListResponse> ListAsync(KaiPrincipal principal, string? status, int? limit, int? offset, CancellationToken ct)
    {
        new Validation()
            .Check(status is null or WorkflowStatuses.Running or WorkflowStatuses.Completed or WorkflowStatuses.Failed or WorkflowStatuses.Canceled,
                "status", "must be running, completed, failed or canceled")
            .Check(limit is null or (>= 1 and <= 100), "limit", "must be 1 to 100")
            .Check(offset is null or >= 0, "offset", "must be 0 or more")
            .ThrowIfInvalid();
        var (items, total) = await store.ListWorkflowsAsync(Access.TenantScope(principal), status, limit ?? 50, offset ?? 0, ct);
        var views = new List<WorkflowView>();
        foreach (var wf in items)
        {
            views.Add(await ViewAsync(wf, ct));
        }
        return new WorkflowListResponse(views, total, new Pagination(limit ?? 50, offset ?? 0, total, (offset ?? 0) + items.Count < total));
    }

    /// <summary>Cancels a running workflow.</summary>
    /// <exception cref="ApiException">404 not visible; 409 not running.</exception>
    public async Task<WorkflowView> CancelAsync(KaiPrincipal principal, string workflowId, CancellationToken ct)
    {
        var wf = await GetVisibleAsync(principal, workflowId, ct);
        if (wf.Status != WorkflowStatuses.Running)
        {
            throw new ApiException(ErrorCodes.Conflict, $"Workflow '{workflowId}' is already {wf.Status}.", new Dictionary<string, string> { ["workflow_id"] = workflowId, ["status"] = wf.Status });
        }
        await tasks.CancelWorkflowAsync(wf, "canceled by " + principal.Id, ct);
        return await ViewAsync((await store.GetWorkflowAsync(workflowId, ct))!, ct);
    }

    public async Task<WorkflowView> ViewAsync(WorkflowRecord wf, CancellationToken ct)
    {
        var definition = JsonSerializer.Deserialize<List<WorkflowStage>>(wf.DefinitionJson, KaiJson.Options) ?? [];
        var byStage = (await store.ListWorkflowTasksAsync(wf.WorkflowId, ct)).ToDictionary(t => t.StageName!, StringComparer.Ordinal);
        var stages = definition.Where(s => byStage.ContainsKey(s.Name)).Select(s =>
        {
            var t = byStage[s.Name];
            return new WorkflowStageView(s.Name, s.AgentType, s.Dependencies ?? [], t.TaskId, t.Status, t.Attempts, t.CurrentAgent ?? t.AssignedAgent,
                TaskService.Json(t.ResultJson), t.Error, t.Progress);
        }).ToList();
        return new WorkflowView(wf.WorkflowId, wf.ProjectId, wf.Name, wf.Status, wf.Parallel, wf.FailureStrategy, stages, wf.Error, wf.CreatedAt, wf.UpdatedAt);
    }
}
