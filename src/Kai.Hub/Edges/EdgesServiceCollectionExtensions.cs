using Kai.Hub.Housekeeping;

namespace Kai.Hub.Edges;

internal static class EdgesServiceCollectionExtensions
{
    /// <summary>The shared WebSocket edge host and the liveness housekeeping of links.</summary>
    public static IServiceCollection AddKaiEdges(this IServiceCollection services)
    {
        services.AddSingleton<WebSocketEdgeHost>();
        services.AddSingleton<IHousekeeping, LinkHousekeeping>();
        return services;
    }

    /// <summary>
    /// On shutdown every link gets 1001 (going away) at once. Without it, Kestrel waits its whole shutdown timeout for open
    /// WebSocket requests, and clients see a dropped connection instead of a close frame telling them to reconnect.
    /// </summary>
    public static void UseKaiEdges(this WebApplication app)
    {
        var registry = app.Services.GetRequiredService<Routing.ConnectionRegistry>();
        app.Lifetime.ApplicationStopping.Register(() => registry.CloseEverything(Kai.Protocol.CloseCodes.GoingAway, "hub shutting down"));
    }
}
