using System.Text.Json;

namespace Kai.Protocol.Rest;

/// <summary>Retry policy of a task (seed 004 "Create Task", <c>retry_policy</c>).</summary>
/// <param name="MaxAttempts">Attempts in total, including the first, 1 to 100. Default: the type's default (3).</param>
/// <param name="BackoffStrategy"><c>none</c>, <c>linear</c> or <c>exponential</c>. The delay before attempt n+1 is
/// 0, base × n, or base × 2^(n-1) (capped), each with ±20 % jitter; base defaults to 1 second. Default: the type's default (<c>exponential</c>).</param>
public sealed record RetryPolicy(int? MaxAttempts = null, string? BackoffStrategy = null);

/// <summary><c>POST /api/v1/tasks</c> body (seed 004 "Create Task"). Answers 201 with a <see cref="TaskView"/>, or 200 with
/// the existing task when the same <c>id</c> or <c>Idempotency-Key</c> header was already used by the same owner.</summary>
/// <param name="Id">Optional id, 1 to 64 characters of letters, digits, <c>-_.:</c>. Default: a generated <c>tsk_…</c> id. An id
/// another owner already uses answers 409 <c>CONFLICT</c>.</param>
/// <param name="Type">The task type, 1 to 64 characters. Routes to agents whose <c>type</c> or <c>capabilities</c> include it.</param>
/// <param name="Priority"><c>low</c>, <c>normal</c> (default), <c>high</c> or <c>urgent</c>. Higher priorities are delivered first; FIFO within one.</param>
/// <param name="AssignedAgent">Optional agent id (of the same owner): only that agent receives the task.</param>
/// <param name="ParentWorkflowId">Optional workflow id, for grouping and filtering; set by the hub for workflow stages.</param>
/// <param name="InputData">Optional JSON object given to the agent. Default: <c>{}</c>.</param>
/// <param name="Dependencies">Optional ids of existing tasks of the same owner, at most 100; the task starts after all are
/// <c>completed</c>, and fails with <c>DEPENDENCY_NOT_MET</c> if one fails or is canceled. Unknown ids or a cycle answer 400.</param>
/// <param name="Timeout">Seconds one attempt may run, 1 to 86400. Default: 300. An attempt past it fails with <c>TASK_TIMEOUT</c>.</param>
/// <param name="RetryPolicy">Optional retry policy.</param>
public sealed record CreateTaskRequest(
    string? Id, string Type, string? Priority = null, string? AssignedAgent = null, string? ParentWorkflowId = null,
    JsonElement? InputData = null, IReadOnlyList<string>? Dependencies = null, int? Timeout = null, RetryPolicy? RetryPolicy = null);

/// <summary>A task, as <c>GET /api/v1/tasks/{task_id}</c> and the other task routes return it (seed 004).</summary>
/// <param name="TaskId">The id.</param>
/// <param name="Type">The task type.</param>
/// <param name="Status"><c>pending</c> (waiting on dependencies or a start time), <c>queued</c>, <c>in_progress</c>, <c>completed</c>,
/// <c>failed</c> (dead letter once attempts are exhausted) or <c>canceled</c>; see <see cref="Frames.TaskStatuses"/>.</param>
/// <param name="Priority"><c>low</c>, <c>normal</c>, <c>high</c> or <c>urgent</c>.</param>
/// <param name="AssignedAgent">The agent working the current attempt, else the agent the task is pinned to; absent when neither.</param>
/// <param name="Attempts">Attempts started so far (reset to 0 by a re-drive).</param>
/// <param name="MaxAttempts">The retry policy's maximum.</param>
/// <param name="Progress">0 to 100, as last reported; 100 once completed.</param>
/// <param name="InputData">The input object.</param>
/// <param name="Result">The result once completed.</param>
/// <param name="Error">The last error text (of the last failed attempt, or why the task failed).</param>
/// <param name="ErrorCode">The last error's code when the hub decided it: <c>TASK_TIMEOUT</c>, <c>AGENT_UNAVAILABLE</c> (lease expired),
/// <c>DEPENDENCY_NOT_MET</c>; absent for errors an agent reported.</param>
/// <param name="Dependencies">The dependency ids.</param>
/// <param name="ParentWorkflowId">The workflow, if any.</param>
/// <param name="CreatedAt">Creation time, ISO 8601 UTC.</param>
/// <param name="UpdatedAt">Last change, ISO 8601 UTC.</param>
/// <param name="Timeout">Seconds per attempt.</param>
/// <param name="BackoffStrategy">The retry backoff.</param>
/// <param name="OutputData">The last <c>output_data</c> an agent reported with progress.</param>
/// <param name="RunAt">Not delivered before this time (a delay or a retry backoff).</param>
/// <param name="LeaseExpiresAt">While <c>in_progress</c>: when the attempt is considered lost unless renewed by progress.</param>
/// <param name="StageName">For a workflow stage: the stage name.</param>
/// <param name="ScheduleId">For a task fired by a recurring schedule: the schedule.</param>
/// <param name="FencingToken">While <c>in_progress</c>: the current attempt's fencing token, to send with the terminal <c>PATCH</c>
/// (an agent that claimed the task over REST reads it here).</param>
/// <param name="Artifacts">Only from <c>GET /api/v1/tasks/{task_id}</c>: the files uploaded as artifacts of the task
/// (<c>POST /api/v1/tasks/{task_id}/artifacts</c>), oldest first; an empty list when there are none; absent from the other routes.</param>
public sealed record TaskView(
    string TaskId, string Type, string Status, string Priority, string? AssignedAgent, int Attempts, int MaxAttempts, int Progress,
    JsonElement InputData, JsonElement? Result, string? Error, string? ErrorCode, IReadOnlyList<string> Dependencies, string? ParentWorkflowId,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, int Timeout, string BackoffStrategy, JsonElement? OutputData = null,
    DateTimeOffset? RunAt = null, DateTimeOffset? LeaseExpiresAt = null, string? StageName = null, string? ScheduleId = null, long? FencingToken = null,
    IReadOnlyList<FileInfoResponse>? Artifacts = null);

/// <summary><c>GET /api/v1/tasks</c> response: filters <c>status</c>, <c>type</c>, <c>assigned_agent</c>, <c>parent_workflow_id</c>;
/// <c>limit</c> 1 to 100 (default 50), <c>offset</c> 0 or more; oldest first.</summary>
/// <param name="Tasks">The page.</param>
/// <param name="Total">Matches in total.</param>
/// <param name="Pagination">Paging information.</param>
public sealed record TaskListResponse(IReadOnlyList<TaskView> Tasks, int Total, Pagination Pagination);

/// <summary><c>PATCH /api/v1/tasks/{task_id}</c> body (seed 004 "Update Task Status"), sent by the agent working the task.
/// A stale update (the attempt was superseded, or the task is no longer in progress) answers 409 <c>CONFLICT</c> and changes nothing.</summary>
/// <param name="Status"><c>in_progress</c> (progress; renews the lease), <c>completed</c> or <c>failed</c>.</param>
/// <param name="Progress">Optional 0 to 100.</param>
/// <param name="OutputData">Optional partial output object (seed 004), kept as the task's <c>output_data</c>.</param>
/// <param name="EstimatedCompletion">Optional, accepted for seed compatibility.</param>
/// <param name="Result">The result when <c>completed</c>; default: <paramref name="OutputData"/>.</param>
/// <param name="Error">The error text when <c>failed</c>, at most 4096 characters.</param>
/// <param name="FencingToken">The <c>fencing_token</c> of the <c>task</c> frame (or of the claim's answer); recommended. A
/// <c>completed</c> or <c>failed</c> update without it (and without <paramref name="Attempt"/>) is accepted only when the caller
/// claimed the current attempt over REST and no other attempt of the task; otherwise 409 <c>CONFLICT</c> asks for the token.
/// <c>in_progress</c> from the assigned agent on a <c>pending</c> or <c>queued</c> task claims it (takes the lease).</param>
/// <param name="Attempt">Alternatively, the attempt number of the <c>task</c> frame.</param>
public sealed record UpdateTaskRequest(
    string Status, int? Progress = null, JsonElement? OutputData = null, DateTimeOffset? EstimatedCompletion = null,
    JsonElement? Result = null, string? Error = null, long? FencingToken = null, int? Attempt = null);

/// <summary>The <c>schedule</c> of <c>POST /api/v1/agents/{agent_id}/task</c> (seed 000).</summary>
/// <param name="Type"><c>immediate</c> (default), <c>delayed</c> or <c>recurring</c>.</param>
/// <param name="Delay">For <c>delayed</c>: seconds from now, 1 to 31,536,000.</param>
/// <param name="Cron">For <c>recurring</c>: a 5-field Unix cron (<c>min hour dom month dow</c>, dow 0-7 with 0 and 7 Sunday), or 6 fields
/// with seconds first; UTC. Parsed by Quartz.NET's <c>CronExpression</c>.</param>
public sealed record TaskSchedule(string Type, int? Delay = null, string? Cron = null);

/// <summary><c>POST /api/v1/agents/{agent_id}/task</c> body (seed 000 "Create background task"): a task pinned to that agent.</summary>
/// <param name="TaskType">The task type, 1 to 64 characters.</param>
/// <param name="Parameters">Optional JSON object, the task's <c>input_data</c>.</param>
/// <param name="Schedule">Optional schedule; default immediate.</param>
/// <param name="Priority">Optional priority; default <c>normal</c>.</param>
/// <param name="Timeout">Optional seconds per attempt; default 300.</param>
/// <param name="RetryPolicy">Optional retry policy.</param>
public sealed record AgentTaskRequest(
    string TaskType, JsonElement? Parameters = null, TaskSchedule? Schedule = null, string? Priority = null, int? Timeout = null, RetryPolicy? RetryPolicy = null);

/// <summary><c>POST /api/v1/agents/{agent_id}/task</c> 201 response (seed 000).</summary>
/// <param name="TaskId">The task id; for <c>recurring</c>, the schedule id (<c>sch_…</c>), each firing creates a task of its own.</param>
/// <param name="Status"><c>running</c> (queued or delivered now) or <c>scheduled</c> (delayed or recurring).</param>
/// <param name="EstimatedCompletion">The earliest start plus the timeout: an upper bound for one attempt, not a promise.</param>
/// <param name="ScheduleId">For <c>recurring</c>: the schedule id (see <c>/api/v1/schedules</c>).</param>
/// <param name="NextRunAt">For <c>delayed</c> and <c>recurring</c>: the next start time.</param>
public sealed record AgentTaskResponse(string TaskId, string Status, DateTimeOffset EstimatedCompletion, string? ScheduleId = null, DateTimeOffset? NextRunAt = null);

/// <summary>A recurring schedule (<c>GET /api/v1/schedules</c>).</summary>
/// <param name="ScheduleId">The id, <c>sch_…</c>.</param>
/// <param name="AgentId">The agent each fired task is pinned to.</param>
/// <param name="TaskType">The type of the fired tasks.</param>
/// <param name="Cron">The cron as given.</param>
/// <param name="QuartzCron">The same schedule in Quartz's 6-field form, as evaluated (UTC).</param>
/// <param name="Parameters">The <c>input_data</c> of each fired task.</param>
/// <param name="NextRunAt">The next firing.</param>
/// <param name="LastRunAt">The last firing, if any.</param>
/// <param name="LastTaskId">The task the last firing created.</param>
/// <param name="CreatedAt">Creation time.</param>
public sealed record ScheduleView(
    string ScheduleId, string AgentId, string TaskType, string Cron, string QuartzCron, JsonElement Parameters,
    DateTimeOffset? NextRunAt, DateTimeOffset? LastRunAt, string? LastTaskId, DateTimeOffset CreatedAt);

/// <summary><c>GET /api/v1/schedules</c> response.</summary>
/// <param name="Schedules">The caller's schedules (all for an admin), oldest first.</param>
/// <param name="Total">Their number.</param>
public sealed record ScheduleListResponse(IReadOnlyList<ScheduleView> Schedules, int Total);

/// <summary><c>DELETE /api/v1/schedules/{schedule_id}</c> response. Tasks already fired are not affected.</summary>
/// <param name="ScheduleId">The id.</param>
/// <param name="Deleted">Always true (an unknown id answers 404).</param>
public sealed record DeleteScheduleResponse(string ScheduleId, bool Deleted);

/// <summary>One stage of a workflow definition (seed 004 "Create Workflow").</summary>
/// <param name="Name">Unique within the workflow, 1 to 64 characters.</param>
/// <param name="AgentType">The task type of the stage: routed to agents whose type or capabilities include it.</param>
/// <param name="Dependencies">Names of stages that must complete first. The stage's <c>input_data</c> then gets
/// <c>upstream: {stage_name: result}</c> for them.</param>
/// <param name="Timeout">Seconds per attempt, 1 to 86400; default 300.</param>
/// <param name="InputData">Optional input object.</param>
/// <param name="RetryPolicy">Optional retry policy; default the type's.</param>
public sealed record WorkflowStage(
    string Name, string AgentType, IReadOnlyList<string>? Dependencies = null, int? Timeout = null, JsonElement? InputData = null, RetryPolicy? RetryPolicy = null);

/// <summary>Workflow configuration (seed 004).</summary>
/// <param name="ParallelExecution">true: stages whose dependencies are met run at once. false (default): stages also wait for the
/// stage before them, in a topological order of the definition (declared order where dependencies allow).</param>
/// <param name="FailureStrategy"><c>stop_on_error</c> (default): the first stage to fail for good cancels the rest and fails the run.
/// <c>continue</c>: stages not depending on the failed one go on; the run ends <c>failed</c> once all stages are terminal.</param>
public sealed record WorkflowConfiguration(bool? ParallelExecution = null, string? FailureStrategy = null);

/// <summary><c>POST /api/v1/workflows</c> body (seed 004 "Create Workflow"). Answers 201 with a <see cref="WorkflowView"/> (200 with
/// the existing run for a repeated <c>id</c>); an invalid definition (duplicate names, unknown dependency, cycle) answers 400
/// <c>INVALID_TEMPLATE</c> with the offending stages in <c>details</c>.</summary>
/// <param name="Id">Optional id, like a task id. Default: a generated <c>wf_…</c> id.</param>
/// <param name="ProjectId">Optional project id, at most 128 characters.</param>
/// <param name="Name">1 to 200 characters.</param>
/// <param name="Stages">1 to 100 stages.</param>
/// <param name="Configuration">Optional configuration.</param>
public sealed record CreateWorkflowRequest(string? Id, string? ProjectId, string Name, IReadOnlyList<WorkflowStage>? Stages, WorkflowConfiguration? Configuration = null);

/// <summary>The state of one stage of a workflow run.</summary>
/// <param name="Name">The stage name.</param>
/// <param name="AgentType">The task type.</param>
/// <param name="Dependencies">The stage names it waits for.</param>
/// <param name="TaskId">The stage's task.</param>
/// <param name="Status">The task's status.</param>
/// <param name="Attempts">The task's attempts.</param>
/// <param name="AssignedAgent">The agent working or having worked it.</param>
/// <param name="Result">The result when completed.</param>
/// <param name="Error">The error when failed.</param>
/// <param name="Progress">The task's progress, 0 to 100, as last reported by the agent.</param>
public sealed record WorkflowStageView(
    string Name, string AgentType, IReadOnlyList<string> Dependencies, string TaskId, string Status, int Attempts, string? AssignedAgent, JsonElement? Result,
    string? Error, int Progress = 0);

/// <summary>A workflow run (<c>GET /api/v1/workflows/{workflow_id}</c>).</summary>
/// <param name="WorkflowId">The id.</param>
/// <param name="ProjectId">The project id, if given.</param>
/// <param name="Name">The name.</param>
/// <param name="Status"><c>running</c>, <c>completed</c>, <c>failed</c> or <c>canceled</c>.</param>
/// <param name="ParallelExecution">As configured.</param>
/// <param name="FailureStrategy">As configured.</param>
/// <param name="Stages">Every stage, in definition order.</param>
/// <param name="Error">Why the run failed.</param>
/// <param name="CreatedAt">Creation time.</param>
/// <param name="UpdatedAt">Last change.</param>
public sealed record WorkflowView(
    string WorkflowId, string? ProjectId, string Name, string Status, bool ParallelExecution, string FailureStrategy,
    IReadOnlyList<WorkflowStageView> Stages, string? Error, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary><c>GET /api/v1/workflows</c> response: filter <c>status</c>, <c>limit</c> 1 to 100 (default 50), <c>offset</c>.</summary>
/// <param name="Workflows">The page, oldest first.</param>
/// <param name="Total">Matches in total.</param>
/// <param name="Pagination">Paging information.</param>
public sealed record WorkflowListResponse(IReadOnlyList<WorkflowView> Workflows, int Total, Pagination Pagination);
