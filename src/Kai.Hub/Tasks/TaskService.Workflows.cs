using Kai.Hub.Storage;
using Kai.Protocol.Frames;

namespace Kai.Hub.Tasks;

internal sealed partial class TaskService
{
    public const string StopOnError = "stop_on_error";
    public const string Continue = "continue";

    /// <summary>
    /// A workflow stage ended. <c>stop_on_error</c>: a stage that failed (or was canceled) fails the run and cancels the stages not yet
    /// done. <c>continue</c>: dependents of the failed stage fail with <c>DEPENDENCY_NOT_MET</c> (as for any task), the others go on,
    /// and the run ends once every stage is terminal: <c>completed</c> if all completed, else <c>failed</c>.
    /// Returns the stages canceled here, for the caller's terminal follow-up.
    /// </summary>
    private async Task<IReadOnlyList<TaskRecord>> OnStageTerminalAsync(TaskRecord stage, CancellationToken ct)
    {
        var wf = await workflowStore.GetWorkflowAsync(stage.ParentWorkflowId!, ct);
        if (wf is null || wf.Status != WorkflowStatuses.Running)
        {
            return [];
        }
        var now = time.GetUtcNow();
        if (stage.Status == TaskStatuses.Completed)
        {
            await events.WorkflowAsync(TaskEventTypes.WorkflowStageCompleted, wf, stage);
        }
        else if (wf.FailureStrategy == StopOnError)
        {
            var error = $"stage '{stage.StageName}' {stage.Status}: {stage.Error}";
            return await StopWorkflowAsync(wf, WorkflowStatuses.Failed, error, ct);
        }
        var stages = await workflowStore.ListWorkflowTasksAsync(wf.WorkflowId, ct);
        if (stages.All(s => s.IsTerminal))
        {
            var failed = stages.Where(s => s.Status != TaskStatuses.Completed).Select(s => s.StageName).ToList();
            var status = failed.Count == 0 ? WorkflowStatuses.Completed : WorkflowStatuses.Failed;
            var error = failed.Count == 0 ? null : "stages not completed: " + string.Join(", ", failed);
            if (await workflowStore.FinishWorkflowAsync(wf.WorkflowId, status, error, now, ct))
            {
                await events.WorkflowAsync(failed.Count == 0 ? TaskEventTypes.WorkflowCompleted : TaskEventTypes.WorkflowFailed,
                    wf with { Status = status, Error = error, UpdatedAt = now }, stage);
            }
        }
        return [];
    }

    /// <summary>Ends a running workflow (failed or canceled) and cancels its unfinished stages. Returns the canceled stages.</summary>
    internal async Task<IReadOnlyList<TaskRecord>> StopWorkflowAsync(WorkflowRecord wf, string status, string reason, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        if (!await workflowStore.FinishWorkflowAsync(wf.WorkflowId, status, reason, now, ct))
        {
            return [];
        }
        var canceled = new List<TaskRecord>();
        foreach (var s in await workflowStore.ListWorkflowTasksAsync(wf.WorkflowId, ct))
        {
            if (!s.IsTerminal && await CancelCoreAsync(s.TaskId, $"workflow {status}: {reason}", ct) is { } c)
            {
                canceled.Add(c);
            }
        }
        await events.WorkflowAsync(TaskEventTypes.WorkflowFailed, wf with { Status = status, Error = reason, UpdatedAt = now });
        return canceled;
    }

    /// <summary>Cancels a running workflow and its unfinished stages.</summary>
    internal async Task<bool> CancelWorkflowAsync(WorkflowRecord wf, string reason, CancellationToken ct)
    {
        var canceled = await StopWorkflowAsync(wf, WorkflowStatuses.Canceled, reason, ct);
        foreach (var c in canceled)
        {
            await OnTerminalAsync(c, ct);
        }
        await DispatchAsync(ct);
        return true;
    }

    /// <summary>Stage tasks were inserted queued or pending: dispatch the queued ones.</summary>
    internal async Task WorkflowStartedAsync(WorkflowRecord wf, IReadOnlyList<TaskRecord> stages, CancellationToken ct)
    {
        await events.WorkflowAsync(TaskEventTypes.WorkflowStarted, wf);
        foreach (var s in stages)
        {
            await events.TaskAsync(TaskEventTypes.TaskCreated, s);
        }
        await DispatchAsync(ct);
    }
}

/// <summary>Workflow run statuses.</summary>
internal static class WorkflowStatuses
{
    public const string Running = "running";
    public const string Completed = "completed";
    public const string Failed = "failed";
    public const string Canceled = "canceled";
}
