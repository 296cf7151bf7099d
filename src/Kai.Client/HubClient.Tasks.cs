using Kai.Protocol.Rest;

namespace Kai.Client;

public sealed partial class HubClient
{
    /// <summary>
    /// <c>POST /api/v1/tasks</c> (seed 004): enqueues a durable task. With <paramref name="idempotencyKey"/> (sent as
    /// <c>Idempotency-Key</c>) or a repeated <see cref="CreateTaskRequest.Id"/>, a retry returns the existing task instead of a second one.
    /// Throws with <c>VALIDATION_ERROR</c> (400) for bad fields, unknown dependencies or a cycle.
    /// </summary>
    public Task<TaskView> CreateTaskAsync(CreateTaskRequest request, string? idempotencyKey = null, CancellationToken ct = default) =>
        SendAsync<TaskView>(HttpMethod.Post, "api/v1/tasks", request,
            idempotencyKey is null ? null : new Dictionary<string, string> { ["Idempotency-Key"] = idempotencyKey }, ct);

    /// <summary><c>GET /api/v1/tasks</c> with optional filters; <paramref name="limit"/> 1 to 100.</summary>
    public Task<TaskListResponse> ListTasksAsync(
        string? status = null, string? type = null, string? assignedAgent = null, string? parentWorkflowId = null, int? limit = null, int? offset = null,
        CancellationToken ct = default) =>
        SendAsync<TaskListResponse>(HttpMethod.Get, "api/v1/tasks" + Query(("status", status), ("type", type), ("assigned_agent", assignedAgent),
            ("parent_workflow_id", parentWorkflowId), ("limit", Str(limit)), ("offset", Str(offset))), null, ct);

    /// <summary><c>GET /api/v1/tasks/{id}</c>: the full task. Throws with <c>NOT_FOUND</c> (404) for an unknown task or another user's.</summary>
    public Task<TaskView> GetTaskAsync(string taskId, CancellationToken ct = default) =>
        SendAsync<TaskView>(HttpMethod.Get, $"api/v1/tasks/{Uri.EscapeDataString(taskId)}", null, ct);

    /// <summary><c>POST /api/v1/tasks/{id}/cancel</c>.</summary>
    public Task<TaskView> CancelTaskAsync(string taskId, CancellationToken ct = default) =>
        SendAsync<TaskView>(HttpMethod.Post, $"api/v1/tasks/{Uri.EscapeDataString(taskId)}/cancel", null, ct);

    /// <summary><c>POST /api/v1/tasks/{id}/retry</c>: re-drives a dead-lettered (<c>failed</c>) task.</summary>
    public Task<TaskView> RetryTaskAsync(string taskId, CancellationToken ct = default) =>
        SendAsync<TaskView>(HttpMethod.Post, $"api/v1/tasks/{Uri.EscapeDataString(taskId)}/retry", null, ct);

    /// <summary><c>POST /api/v1/agents/{id}/task</c> (seed 000): a task for one agent, now, after a delay, or on a cron schedule.</summary>
    public Task<AgentTaskResponse> CreateAgentTaskAsync(string agentId, AgentTaskRequest request, CancellationToken ct = default) =>
        SendAsync<AgentTaskResponse>(HttpMethod.Post, $"api/v1/agents/{Uri.EscapeDataString(agentId)}/task", request, ct);

    /// <summary><c>GET /api/v1/schedules</c>.</summary>
    public Task<ScheduleListResponse> ListSchedulesAsync(CancellationToken ct = default) =>
        SendAsync<ScheduleListResponse>(HttpMethod.Get, "api/v1/schedules", null, ct);

    /// <summary><c>DELETE /api/v1/schedules/{id}</c>: stops a recurring schedule.</summary>
    public Task<DeleteScheduleResponse> DeleteScheduleAsync(string scheduleId, CancellationToken ct = default) =>
        SendAsync<DeleteScheduleResponse>(HttpMethod.Delete, $"api/v1/schedules/{Uri.EscapeDataString(scheduleId)}", null, ct);

    /// <summary><c>POST /api/v1/workflows</c> (seed 004): validates the stage graph and starts a run. Throws with <c>INVALID_TEMPLATE</c> (400) for duplicate names, unknown dependencies or cycles.</summary>
    public Task<WorkflowView> CreateWorkflowAsync(CreateWorkflowRequest request, CancellationToken ct = default) =>
        SendAsync<WorkflowView>(HttpMethod.Post, "api/v1/workflows", request, ct);

    /// <summary><c>GET /api/v1/workflows/{id}</c>: the run and each stage.</summary>
    public Task<WorkflowView> GetWorkflowAsync(string workflowId, CancellationToken ct = default) =>
        SendAsync<WorkflowView>(HttpMethod.Get, $"api/v1/workflows/{Uri.EscapeDataString(workflowId)}", null, ct);

    /// <summary><c>GET /api/v1/workflows</c>.</summary>
    public Task<WorkflowListResponse> ListWorkflowsAsync(int? limit = null, int? offset = null, CancellationToken ct = default) =>
        SendAsync<WorkflowListResponse>(HttpMethod.Get, "api/v1/workflows" + Query(("limit", Str(limit)), ("offset", Str(offset))), null, ct);

    /// <summary><c>POST /api/v1/workflows/{id}/cancel</c>: cancels the open stages.</summary>
    public Task<WorkflowView> CancelWorkflowAsync(string workflowId, CancellationToken ct = default) =>
        SendAsync<WorkflowView>(HttpMethod.Post, $"api/v1/workflows/{Uri.EscapeDataString(workflowId)}/cancel", null, ct);
}
