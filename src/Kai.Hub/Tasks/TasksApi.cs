using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Storage;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Kai.Hub.Tasks;

/// <summary>Durable tasks (seeds 000 and 004), schedules, and seed 000's task status, which also answers for commands.</summary>
internal static class TasksApi
{
    public const string IdempotencyHeader = "Idempotency-Key";

    public static RouteGroupBuilder MapTasksApi(this IEndpointRouteBuilder app)
    {
        app.MapSchedulesApi();
        app.MapPost("/api/v1/agents/{agentId}/task", CreateForAgentAsync).WithName("createAgentTask").WithSummary("Create a durable task for one agent").WithErrors(409).WithTags("Tasks").RequirePermission(Permissions.AgentCommandOwn);
        var api = app.MapGroup("/api/v1/tasks").WithTags("Tasks");
        api.MapPost("/", CreateAsync).WithName("createTask").WithSummary("Create a durable task (idempotent by id or Idempotency-Key)").WithErrors(409).RequirePermission(Permissions.TaskCreate);
        api.MapGet("/", ListAsync).WithName("listTasks").WithSummary("List tasks, with filters and paging").RequirePermission(Permissions.TaskReadOwn);
        api.MapGet("/{taskId}", GetAsync).WithName("getTask").WithSummary("Get one task with its attempts").RequirePermission(Permissions.TaskReadOwn);
        api.MapGet("/{taskId}/status", StatusAsync).WithName("getTaskStatus").WithSummary("A task's (or command's) status and progress").RequirePermission(Permissions.TaskReadOwn);
        api.MapPatch("/{taskId}", UpdateAsync).WithName("updateTask").WithSummary("Report progress or a result for a leased task (fenced by lease)").WithErrors(409).RequirePermission(Permissions.TaskExecute);
        api.MapPost("/{taskId}/cancel", CancelAsync).WithName("cancelTask").WithSummary("Cancel a task").WithErrors(409).RequirePermission(Permissions.TaskCreate);
        api.MapPost("/{taskId}/retry", RetryAsync).WithName("retryTask").WithSummary("Re-drive a failed or canceled task (dead letter)").WithErrors(409).RequirePermission(Permissions.TaskCreate);
        return api;
    }

    private static RouteGroupBuilder MapSchedulesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/schedules").WithTags("Tasks");
        api.MapGet("/", ListSchedulesAsync).WithName("listSchedules").WithSummary("List task schedules").RequirePermission(Permissions.TaskReadOwn);
        api.MapGet("/{scheduleId}", GetScheduleAsync).WithName("getSchedule").WithSummary("Get one task schedule").RequirePermission(Permissions.TaskReadOwn);
        api.MapDelete("/{scheduleId}", DeleteScheduleAsync).WithName("deleteSchedule").WithSummary("Delete a task schedule").RequirePermission(Permissions.TaskCreate);
        return api;
    }

    /// <summary>201 with the new task; 200 with the existing one for a repeated <c>id</c> or <c>Idempotency-Key</c>.</summary>
    private static async Task<Results<Created<TaskView>, Ok<TaskView>>> CreateAsync(CreateTaskRequest request, HttpContext http, TaskService tasks, CancellationToken ct)
    {
        var key = http.Request.Headers[IdempotencyHeader].FirstOrDefault();
        var (task, created) = await tasks.CreateAsync(http.Principal(), request, key, ct);
        var view = TaskService.View(task);
        return created ? TypedResults.Created($"/api/v1/tasks/{task.TaskId}", view) : TypedResults.Ok(view);
    }

    private static async Task<Ok<TaskListResponse>> ListAsync(
        HttpContext http, TaskService tasks, string? status, string? type, string? assigned_agent, string? parent_workflow_id, int? limit, int? offset, CancellationToken ct) =>
        TypedResults.Ok(await tasks.ListAsync(http.Principal(), status, type, assigned_agent, parent_workflow_id, limit, offset, ct));

    /// <summary>The task with its attempts and its artifacts (files uploaded for it, issue 13).</summary>
    private static async Task<Ok<TaskView>> GetAsync(string taskId, HttpContext http, TaskService tasks, IFileReferences files, CancellationToken ct)
    {
        var task = await tasks.GetVisibleAsync(http.Principal(), taskId, ct);
        return TypedResults.Ok(TaskService.View(task) with { Artifacts = await files.ArtifactsAsync(task.TaskId, ct) });
    }

    /// <summary>Seed 000 status: a durable task, else a command (commands are tracked as tasks).</summary>
    private static async Task<Ok<TaskStatusResponse>> StatusAsync(string taskId, HttpContext http, ITaskQueueStore store, ICommandStore commandStore, CancellationToken ct)
    {
        var principal = http.Principal();
        var task = taskId.Length <= 64 ? await store.GetTaskAsync(taskId, ct) : null;
        if (task is not null && Access.MayAccess(principal, task.OwnerId))
        {
            return TypedResults.Ok(TaskService.StatusView(task));
        }
        var command = taskId.Length <= 64 ? await commandStore.GetCommandAsync(taskId, ct) : null;
        if (command is null || !Access.MayAccess(principal, command.OwnerId))
        {
            throw ApiException.NotFound($"Task '{taskId}'");
        }
        var terminal = command.Status is CommandStatuses.Completed or CommandStatuses.Failed;
        return TypedResults.Ok(new TaskStatusResponse(command.CommandId, command.Status, terminal ? 100 : 0, Commands.CommandService.ResultElement(command),
            command.Error, command.CreatedAt, command.UpdatedAt, command.AgentId, command.Command));
    }

    /// <summary>Seed 004 progress body, from the agent working the task; 409 when its attempt was superseded.</summary>
    private static async Task<Ok<TaskView>> UpdateAsync(string taskId, UpdateTaskRequest request, HttpContext http, TaskService tasks, CancellationToken ct)
    {
        var principal = http.Principal();
        var (task, _) = await tasks.ReportAsync(principal.Id, principal.OwnerId, LeaseLedger.RestChannel(principal.Id), new TaskUpdatePayload(
            taskId, request.Status, request.Progress, request.Result, request.Error, request.Attempt, request.FencingToken, request.OutputData), ct);
        return TypedResults.Ok(TaskService.View(task));
    }

    private static async Task<Ok<TaskView>> CancelAsync(string taskId, HttpContext http, TaskService tasks, CancellationToken ct) =>
        TypedResults.Ok(TaskService.View(await tasks.CancelAsync(http.Principal(), taskId, ct)));

    private static async Task<Ok<TaskView>> RetryAsync(string taskId, HttpContext http, TaskService tasks, CancellationToken ct) =>
        TypedResults.Ok(TaskService.View(await tasks.RetryAsync(http.Principal(), taskId, ct)));

    private static async Task<Created<AgentTaskResponse>> CreateForAgentAsync(string agentId, AgentTaskRequest request, HttpContext http, ScheduleService schedules, CancellationToken ct)
    {
        var created = await schedules.CreateAsync(http.Principal(), agentId, request, ct);
        return TypedResults.Created(created.ScheduleId is null ? $"/api/v1/tasks/{created.TaskId}" : $"/api/v1/schedules/{created.ScheduleId}", created);
    }

    private static async Task<Ok<ScheduleListResponse>> ListSchedulesAsync(HttpContext http, ScheduleService schedules, CancellationToken ct) =>
        TypedResults.Ok(await schedules.ListAsync(http.Principal(), ct));

    private static async Task<Ok<ScheduleView>> GetScheduleAsync(string scheduleId, HttpContext http, ScheduleService schedules, CancellationToken ct) =>
        TypedResults.Ok(ScheduleService.View(await schedules.GetVisibleAsync(http.Principal(), scheduleId, ct)));

    private static async Task<Ok<DeleteScheduleResponse>> DeleteScheduleAsync(string scheduleId, HttpContext http, ScheduleService schedules, CancellationToken ct) =>
        TypedResults.Ok(await schedules.DeleteAsync(http.Principal(), scheduleId, ct));
}

/// <summary>Service registration of the task queue and workflows.</summary>
internal static class TasksServiceCollectionExtensions
{
    public static IServiceCollection AddKaiTasks(this IServiceCollection services)
    {
        services.AddOptions<TaskOptions>().BindConfiguration(TaskOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<TaskEvents>();
        services.AddSingleton<LeaseLedger>();
        services.AddSingleton<TaskService>();
        services.AddSingleton<Housekeeping.IHousekeeping>(sp => sp.GetRequiredService<TaskService>());
        services.AddSingleton<ScheduleService>();
        services.AddSingleton<AgentAsks>();
        services.AddSingleton<IWorkHolder, TaskWorkHolder>();
        return services;
    }
}
