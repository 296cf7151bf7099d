using Kai.Hub.Auth;
using ModelContextProtocol.Protocol;

namespace Kai.Hub.Mcp;

/// <summary>The MCP server (<c>ModelContextProtocol.AspNetCore</c>) at <c>/mcp</c>, Streamable HTTP, stateless, bearer-authenticated.</summary>
internal static class McpServiceCollectionExtensions
{
    /// <summary>The path of the MCP endpoint.</summary>
    public const string Path = "/mcp";

    public static IServiceCollection AddKaiMcp(this IServiceCollection services)
    {
        services.AddHttpContextAccessor();
        services.AddMcpServer(o =>
            {
                o.ServerInfo = new Implementation { Name = "kai-hub", Version = typeof(McpServiceCollectionExtensions).Assembly.GetName().Version?.ToString() ?? "1.0" };
                o.ServerInstructions = "Kai Hub: list your agents, send them commands, create tasks, ask agents for intents, publish and read events. "
                    + "Every tool acts with the permissions of the bearer token this connection was opened with.";
            })
            // Stateless: every POST carries its own bearer token and is served in its own request, so each tool call runs as the
            // principal of that request (IHttpContextAccessor) and no session pins a principal or a node.
            .WithHttpTransport(o => o.Stateless = true)
            .WithTools<KaiMcpTools>();
        return services;
    }

    /// <summary>Maps <c>/mcp</c>: any authenticated principal may connect; each tool then requires its REST twin's permission.</summary>
    public static IEndpointConventionBuilder MapKaiMcp(this IEndpointRouteBuilder app) =>
        app.MapMcp(Path)
            .RequirePermission(Permissions.SessionSelf)
            .ExcludeFromDescription();
}
