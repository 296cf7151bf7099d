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
}
