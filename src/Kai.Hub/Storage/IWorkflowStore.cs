namespace Kai.Hub.Storage;

/// <summary>Workflow runs and their stage tasks.</summary>
public interface IWorkflowStore
{
    /// <summary>Inserts a run and its stage tasks (with their dependencies) in one transaction. False if the id exists.</summary>
    Task<bool> CreateWorkflowAsync(WorkflowRecord workflow, IReadOnlyList<TaskRecord> stages, DateTimeOffset now, CancellationToken ct);

    Task<WorkflowRecord?> GetWorkflowAsync(string workflowId, CancellationToken ct);

    /// <summary>Runs of <paramref name="ownerId"/> (null: all) with <paramref name="status"/> (null: any), oldest first.</summary>
    Task<(IReadOnlyList<WorkflowRecord> Items, int Total)> ListWorkflowsAsync(string? ownerId, string? status, int limit, int offset, CancellationToken ct);

    /// <summary>The stage tasks of a run, in the order they were inserted.</summary>
    Task<IReadOnlyList<TaskRecord>> ListWorkflowTasksAsync(string workflowId, CancellationToken ct);

    /// <summary>Moves a running workflow to a terminal status. False if it was not running.</summary>
    Task<bool> FinishWorkflowAsync(string workflowId, string status, string? error, DateTimeOffset now, CancellationToken ct);
}
