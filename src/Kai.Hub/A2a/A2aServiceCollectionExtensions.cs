using Kai.Hub.Agents;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Microsoft.Extensions.Options;

namespace Kai.Hub.A2a;

/// <summary>The A2A endpoint (docs/protocol.md, "A2A"): agent cards and the JSON-RPC binding, for the hub and for opted-in agents.</summary>
internal static class A2aServiceCollectionExtensions
{
    public static IServiceCollection AddKaiA2a(this IServiceCollection services)
    {
        services.AddSingleton<AgentCards>();
        services.AddSingleton<A2aTranslator>();
        services.AddSingleton<A2aJsonRpc>();
        services.AddSingleton<IA2aStore>(sp => new ProtectedA2aStore(
            sp.GetRequiredService<Storage.IHubStore>() is Storage.Postgres.PostgresHubStore postgres
                ? SqlA2aStore.Postgres(postgres)
                : SqlA2aStore.Sqlite((Storage.SqliteHubStore)sp.GetRequiredService<Storage.IHubStore>()),
            sp.GetRequiredService<Microsoft.AspNetCore.DataProtection.IDataProtectionProvider>()));
        services.AddSingleton<A2aTasks>();
        services.AddSingleton<A2aPush>();
        services.AddHostedService(sp => sp.GetRequiredService<A2aPush>());
        return services;
    }

    /// <summary>The methods of both JSON-RPC routes, for the OpenAPI description (docs/protocol.md has the shapes).</summary>
    private const string MethodsDescription =
        "JSON-RPC 2.0; errors are HTTP 200 with a JSON-RPC error object. Methods (A2A 1.0 / 0.3, permission): "
        + "SendMessage / message/send and SendStreamingMessage / message/stream (SSE) (task.create; a message with taskId continues a task "
        + "that is input-required), GetTask / tasks/get, ListTasks, SubscribeToTask / tasks/resubscribe (SSE) (task.read.own), CancelTask / tasks/cancel "
        + "(task.create), CreateTaskPushNotificationConfig / tasks/pushNotificationConfig/set and DeleteTaskPushNotificationConfig / "
        + "tasks/pushNotificationConfig/delete (task.create), GetTaskPushNotificationConfig / tasks/pushNotificationConfig/get and "
        + "ListTaskPushNotificationConfigs / tasks/pushNotificationConfig/list (task.read.own).";

    public static IEndpointRouteBuilder MapKaiA2a(this IEndpointRouteBuilder app)
    {
        app.MapGet("/.well-known/agent-card.json", HubCardAsync).WithTags("A2A").WithName("getHubAgentCard")
            .WithSummary("The hub's A2A agent card (skills: the capabilities of agents that opted in)")
            .AllowAnonymous("A2A discovery: the card is public and lists only what owners opted in");
        app.MapGet("/a2a/agents/{agentId}/.well-known/agent-card.json", AgentCardAsync).WithTags("A2A").WithName("getAgentCard")
            .WithSummary("An opted-in agent's A2A agent card (config \"a2a\": true)").WithErrors(404)
            .AllowAnonymous("A2A discovery: only agents whose owner set config.a2a have a card");
        app.MapPost(AgentCards.HubPath, HubRpcAsync).WithTags("A2A").WithName("a2aHubJsonRpc")
            .WithSummary("A2A JSON-RPC (1.0 and 0.3 methods) to the hub: messages become tasks routed by capability").WithDescription(MethodsDescription)
            .RequirePermission(Permissions.TaskCreate).DisableAntiforgery();
        app.MapPost("/a2a/agents/{agentId}", AgentRpcAsync).WithTags("A2A").WithName("a2aAgentJsonRpc")
            .WithSummary("A2A JSON-RPC (1.0 and 0.3 methods) to one opted-in agent: messages become tasks pinned to it").WithDescription(MethodsDescription).WithErrors(404)
            .RequirePermission(Permissions.TaskCreate).DisableAntiforgery();
        return app;
    }

    private static async Task<IResult> HubCardAsync(HttpContext http, AgentCards cards, IOptions<HubOptions> o, CancellationToken ct) =>
        Results.Json(await cards.HubCardAsync(AgentsApi.BaseUrl(http, o.Value), ct));

    private static async Task<IResult> AgentCardAsync(string agentId, HttpContext http, AgentCards cards, IOptions<HubOptions> o, CancellationToken ct)
    {
        var agent = await cards.GetOptedInAsync(agentId, ct) ?? throw ApiException.AgentNotFound(agentId);
        return Results.Json(AgentCards.AgentCard(agent, AgentsApi.BaseUrl(http, o.Value)));
    }

    private static Task HubRpcAsync(HttpContext http, A2aJsonRpc rpc, IOptions<HubOptions> o) =>
        rpc.HandleAsync(http, null, AgentsApi.BaseUrl(http, o.Value));

    /// <summary>Only opted-in agents have an endpoint; whether the caller may reach the agent is decided by the task service (404 alike).</summary>
    private static async Task AgentRpcAsync(string agentId, HttpContext http, A2aJsonRpc rpc, AgentCards cards, IOptions<HubOptions> o)
    {
        var agent = await cards.GetOptedInAsync(agentId, http.RequestAborted) ?? throw ApiException.AgentNotFound(agentId);
        await rpc.HandleAsync(http, agent, AgentsApi.BaseUrl(http, o.Value));
    }
}
