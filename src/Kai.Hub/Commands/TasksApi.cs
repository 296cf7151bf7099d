using Kai.Hub.Agents;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Storage;
using Kai.Protocol.Rest;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Kai.Hub.Commands;

/// <summary>Task status (seed 000). Commands are tracked as tasks; the durable task queue adds its own kinds here later.</summary>
internal static class TasksApi
{
    public static RouteGroupBuilder MapTasksApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/tasks").WithTags("Tasks");
        api.MapGet("/{taskId}/status", StatusAsync).RequirePermission(Permissions.TaskReadOwn);
        return api;
    }

    private static async Task<Ok<TaskStatusResponse>> StatusAsync(string taskId, HttpContext http, IHubStore store, CancellationToken ct)
    {
        var principal = http.Principal();
        var command = taskId.Length <= 64 ? await store.GetCommandAsync(taskId, ct) : null;
        if (command is null || !(principal.IsAdmin || principal.Id == command.OwnerId))
        {
            throw ApiException.NotFound($"Task '{taskId}'");
        }
        var terminal = command.Status is Kai.Protocol.Frames.CommandStatuses.Completed or Kai.Protocol.Frames.CommandStatuses.Failed;
        return TypedResults.Ok(new TaskStatusResponse(command.CommandId, command.Status, terminal ? 100 : 0, CommandService.ResultElement(command),
            command.Error, command.CreatedAt, command.UpdatedAt, command.AgentId, command.Command));
    }
}
