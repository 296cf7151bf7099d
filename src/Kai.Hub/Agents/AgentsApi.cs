using Kai.Hub.Storage;
using Kai.Hub.Auth;
using Kai.Hub.Commands;
using Kai.Hub.Errors;
using Kai.Hub.Schemas;
using Kai.Hub.Security;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;
using Kai.Protocol.Rpc;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.ModelBinding;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Agents;

internal static class AgentsApi
{
    public static RouteGroupBuilder MapAgentsApi(this IEndpointRouteBuilder app)
    {
        // The admin's view of every tenant's agents (docs/security.md, admin routes).
        app.MapGet("/api/v1/admin/agents", ListAllAgentsAsync).WithTags("Admin").WithName("listAllAgents").WithSummary("List every agent of every owner")
            .RequirePermission(Permissions.AgentManageAll);
        var api = app.MapGroup("/api/v1/agents").WithTags("Agents");
        api.MapPost("/register", RegisterAsync).WithName("registerAgent").WithSummary("Register an agent and get its client secret (seed 000 shape)").WithErrors(409).RequirePermission(Permissions.AgentCreate).RequireRateLimiting(RateLimitCategories.AgentOperations);
        api.MapPost("/", CreateAsync).WithName("createAgent").WithSummary("Create an agent and get its client secret (shown once)").WithErrors(409).RequirePermission(Permissions.AgentCreate).RequireRateLimiting(RateLimitCategories.AgentOperations);
        api.MapGet("/", ListAsync).WithName("listAgents").WithSummary("List the agents the caller can see, with filters and paging").RequirePermission(Permissions.AgentReadOwn);
        api.MapGet("/{agentId}", GetAsync).WithName("getAgent").WithSummary("Get one agent").RequirePermission(Permissions.AgentReadOwn);
        api.MapPut("/{agentId}", UpdateAsync).WithName("updateAgent").WithSummary("Update an agent's name, capabilities or metadata").RequirePermission(Permissions.AgentUpdateOwn);
        api.MapDelete("/{agentId}", DeleteAsync).WithName("deleteAgent").WithSummary("Delete an agent and close its live link").RequirePermission(Permissions.AgentDeleteOwn).RequireRateLimiting(RateLimitCategories.AgentOperations);
        api.MapGet("/{agentId}/status", StatusAsync).WithName("getAgentStatus").WithSummary("An agent's presence, load and last heartbeat").RequirePermission(Permissions.AgentReadOwn);
        api.MapPost("/{agentId}/heartbeat", HeartbeatAsync).WithName("agentHeartbeat").WithSummary("Report an agent's heartbeat and load over REST").RequirePermission(Permissions.AgentHeartbeat);
        api.MapPost("/{agentId}/restart", RestartAsync).WithName("restartAgent").WithSummary("Ask an agent to restart over its live link").WithErrors(503).RequirePermission(Permissions.AgentCommandOwn);
        api.MapPost("/{agentId}/command", CommandAsync).WithName("sendCommand").WithSummary("Send a command to an agent and wait up to `timeout` seconds for its result").WithErrors(503).RequirePermission(Permissions.AgentCommandOwn);
        api.MapGet("/{agentId}/schemas", GetSchemasAsync).WithName("getAgentSchemas").WithSummary("The JSON Schemas an agent declared for its methods, commands and intents").RequirePermission(Permissions.AgentReadOwn);
        api.MapPut("/{agentId}/schemas", PutSchemasAsync).WithName("putAgentSchemas").WithSummary("Replace the JSON Schemas an agent declares for its methods, commands and intents").RequirePermission(Permissions.AgentUpdateOwn);
        api.MapPost("/{agentId}/rotate-secret", RotateSecretAsync).WithName("rotateAgentSecret").WithSummary("Issue a new client secret; the old one and its tokens stop working").RequirePermission(Permissions.AgentUpdateOwn).RequireRateLimiting(RateLimitCategories.AgentOperations);
        return api;
    }

    private static async Task<Created<AgentCreatedResponse>> RegisterAsync(RegisterAgentRequest request, HttpContext http, AgentService agents, IOptions<HubOptions> o, CancellationToken ct)
    {
        var created = await agents.RegisterAsync(http.Principal(), request, BaseUrl(http, o.Value), ct);
        await http.RequestServices.GetRequiredService<AuditLog>().WriteAsync(http, AuditActions.AgentCreated, created.AgentId, AuditOutcomes.Success, null);
        return TypedResults.Created($"/api/v1/agents/{created.AgentId}", created);
    }

    private static async Task<Created<AgentCreatedResponse>> CreateAsync(CreateAgentRequest request, HttpContext http, AgentService agents, IOptions<HubOptions> o, CancellationToken ct)
    {
        var created = await agents.CreateAsync(http.Principal(), request, BaseUrl(http, o.Value), ct);
        await http.RequestServices.GetRequiredService<AuditLog>().WriteAsync(http, AuditActions.AgentCreated, created.AgentId, AuditOutcomes.Success, null);
        return TypedResults.Created($"/api/v1/agents/{created.AgentId}", created);
    }

    private static async Task<Ok<AgentListResponse>> ListAsync(
        HttpContext http, AgentService agents, string? status, string? capability, string? type, int? limit, int? offset, CancellationToken ct) =>
        TypedResults.Ok(await agents.ListAsync(http.Principal(), status, capability, type, limit, offset, ct));

    private static async Task<Ok<AgentView>> GetAsync(string agentId, HttpContext http, AgentService agents, CancellationToken ct) =>
        TypedResults.Ok(await agents.GetAsync(http.Principal(), agentId, ct));

    private static async Task<Ok<UpdateAgentResponse>> UpdateAsync(string agentId, UpdateAgentRequest request, HttpContext http, AgentService agents, CancellationToken ct) =>
        TypedResults.Ok(await agents.UpdateAsync(http.Principal(), agentId, request, ct));

    private static async Task<Ok<DeleteAgentResponse>> DeleteAsync(
        string agentId, HttpContext http, AgentService agents, AuditLog audit, CancellationToken ct, [FromQuery(Name = "preserve_data")] bool? preserveData = null)
    {
        var deleted = await agents.DeleteAsync(http.Principal(), agentId, ct);
        // Capabilities that keep per-agent data (files) delete it too, unless the caller asked to keep it.
        foreach (var owner in http.RequestServices.GetServices<IAgentDataOwner>())
        {
            await owner.AgentDeletedAsync(agentId, preserveData == true, CancellationToken.None);
        }
        await audit.WriteAsync(http, AuditActions.AgentDeleted, agentId, AuditOutcomes.Success, null);
        return TypedResults.Ok(deleted);
    }

    private static async Task<Ok<AgentSchemaDeclarations>> GetSchemasAsync(string agentId, HttpContext http, AgentAccess access, SchemaCatalog schemas, CancellationToken ct)
    {
        var agent = await access.GetAsync(http.Principal(), agentId, ct);
        return TypedResults.Ok(await schemas.GetAsync(agent.AgentId, ct));
    }

    /// <summary>
    /// Replaces the agent's declarations (seed 000 "JSON schema validation for all commands"), durably; every map absent or empty removes them.
    /// A declaration that is not a schema is 400 <c>VALIDATION_ERROR</c> naming its field, and nothing changes.
    /// </summary>
    private static async Task<Ok<AgentSchemaDeclarations>> PutSchemasAsync(
        string agentId, AgentSchemaDeclarations request, HttpContext http, AgentAccess access, SchemaCatalog schemas, CancellationToken ct)
    {
        var agent = await access.GetAsync(http.Principal(), agentId, ct);
        if (schemas.Problems(agent.AgentId, request) is { Count: > 0 } problems)
        {
            throw new ApiException(ErrorCodes.ValidationError, "The schema declarations are invalid: " + string.Join("; ", problems) + ".",
                new Dictionary<string, string[]> { ["schemas"] = [.. problems] });
        }
        if (!await schemas.SetAsync(agent.OwnerId, agent.AgentId, request, ct))
        {
            throw ApiException.AgentNotFound(agentId);
        }
        return TypedResults.Ok(await schemas.GetAsync(agent.AgentId, ct));
    }

    /// <summary>A new client secret, shown once; the old secret and the access tokens issued for it stop working at once.</summary>
    private static async Task<Ok<RotateSecretResponse>> RotateSecretAsync(string agentId, HttpContext http, AgentAccess access, AdminService admin, CancellationToken ct)
    {
        var principal = http.Principal();
        var agent = await access.GetAsync(principal, agentId, ct);
        if (principal.IsAgent)
        {
            // An agent holding a leaked token must not be able to lock its owner out: only the owner or an admin rotates.
            throw ApiException.AgentNotFound(agentId);
        }
        return TypedResults.Ok(new RotateSecretResponse(agent.AgentId, agent.AgentId, await admin.RotateAgentSecretAsync(http, agent, ct)));
    }

    private static async Task<Ok<AgentStatusResponse>> StatusAsync(string agentId, HttpContext http, AgentService agents, CancellationToken ct) =>
        TypedResults.Ok(await agents.StatusAsync(http.Principal(), agentId, ct));

    private static async Task<Ok<HeartbeatResponse>> HeartbeatAsync(string agentId, HeartbeatRequest request, HttpContext http, AgentService agents, CancellationToken ct) =>
        TypedResults.Ok(await agents.HeartbeatAsync(http.Principal(), agentId, request, ct));

    private static async Task<Ok<RestartResponse>> RestartAsync(
        string agentId, [FromBody(EmptyBodyBehavior = EmptyBodyBehavior.Allow)] RestartRequest? request, HttpContext http, AgentService agents, CancellationToken ct) =>
        TypedResults.Ok(await agents.RestartAsync(http.Principal(), agentId, request, ct));

    /// <summary>
    /// Seed 000 command: stored, routed, and waited for up to <c>timeout</c> seconds, which is also its deadline unless <c>ttl</c>
    /// says otherwise. A command still open at its deadline fails with <c>TASK_TIMEOUT</c> (408). <c>Idempotency-Key</c> makes a retry
    /// safe: the same key and body give the same command, delivered once.
    /// </summary>
    private static async Task<Ok<CommandResponse>> CommandAsync(
        string agentId, SendCommandRequest request, HttpContext http, AgentAccess access, CommandService commands, CancellationToken ct)
    {
        var principal = http.Principal();
        var agent = await access.GetAsync(principal, agentId, ct);
        var command = await commands.SendAndWaitAsync(principal, agent, request, http.Request.Headers["Idempotency-Key"].FirstOrDefault(), ct);
        return TypedResults.Ok(new CommandResponse(command.CommandId, command.Status, CommandService.ResultElement(command), command.Error, command.Deadline));
    }

    internal static string BaseUrl(HttpContext http, HubOptions options) =>
        options.PublicUrl ?? $"{http.Request.Scheme}://{http.Request.Host}";

    private static async Task<Ok<AgentListResponse>> ListAllAgentsAsync(IAgentStore store, AgentService agents, string? owner_id, int? limit, int? offset, CancellationToken ct)
    {
        var (l, o) = Security.AdminApi.Page(limit, offset);
        new Validation().Length(owner_id, "owner_id", 1, 64, required: false).ThrowIfInvalid();
        var (items, total) = await store.ListAgentsAsync(new AgentQuery(owner_id, null, null, null, l, o), ct);
        return TypedResults.Ok(new AgentListResponse(items.Select(agents.View).ToList(), total, new Pagination(l, o, total, o + items.Count < total)));
    }
}
