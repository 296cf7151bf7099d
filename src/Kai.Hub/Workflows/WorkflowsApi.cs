using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Protocol.Rest;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Kai.Hub.Workflows;

/// <summary>Workflows (seed 004 "Workflow Orchestration").</summary>
internal static class WorkflowsApi
{
    /// <summary>Workflows: DAG runs of stage tasks on the task queue.</summary>
    public static IServiceCollection AddKaiWorkflows(this IServiceCollection services) => services.AddSingleton<WorkflowService>();

    public static RouteGroupBuilder MapWorkflowsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/workflows").WithTags("Workflows");
        api.MapPost("/", CreateAsync).WithName("createWorkflow").WithSummary("Create a multi-stage workflow").WithErrors(409).RequirePermission(Permissions.TaskCreate);
        api.MapGet("/", ListAsync).WithName("listWorkflows").WithSummary("List workflows").RequirePermission(Permissions.TaskReadOwn);
        api.MapGet("/{workflowId}", GetAsync).WithName("getWorkflow").WithSummary("Get one workflow with its stages").RequirePermission(Permissions.TaskReadOwn);
        api.MapPost("/{workflowId}/cancel", CancelAsync).WithName("cancelWorkflow").WithSummary("Cancel a workflow and its open tasks").WithErrors(409).RequirePermission(Permissions.TaskCreate);
        return api;
    }

    private static async Task<Results<Created<WorkflowView>, Ok<WorkflowView>>> CreateAsync(
        CreateWorkflowRequest request, HttpContext http, WorkflowService workflows, CancellationToken ct)
    {
        var (view, created) = await workflows.CreateAsync(http.Principal(), request, ct);
        return created ? TypedResults.Created($"/api/v1/workflows/{view.WorkflowId}", view) : TypedResults.Ok(view);
    }

    private static async Task<Ok<WorkflowListResponse>> ListAsync(HttpContext http, WorkflowService workflows, string? status, int? limit, int? offset, CancellationToken ct) =>
        TypedResults.Ok(await workflows.ListAsync(http.Principal(), status, limit, offset, ct));

    private static async Task<Ok<WorkflowView>> GetAsync(string workflowId, HttpContext http, WorkflowService workflows, CancellationToken ct) =>
        TypedResults.Ok(await workflows.ViewAsync(await workflows.GetVisibleAsync(http.Principal(), workflowId, ct), ct));

    private static async Task<Ok<WorkflowView>> CancelAsync(string workflowId, HttpContext http, WorkflowService workflows, CancellationToken ct) =>
        TypedResults.Ok(await workflows.CancelAsync(http.Principal(), workflowId, ct));
}
