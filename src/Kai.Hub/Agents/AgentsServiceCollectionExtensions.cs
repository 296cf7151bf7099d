using Kai.Hub.Housekeeping;

namespace Kai.Hub.Agents;

internal static class AgentsServiceCollectionExtensions
{
    /// <summary>The agent registry: access, presence (with its offline sweep) and the agent service.</summary>
    public static IServiceCollection AddKaiAgents(this IServiceCollection services)
    {
        services.AddSingleton<AgentAccess>();
        services.AddSingleton<AgentPresence>();
        services.AddSingleton<IHousekeeping>(sp => sp.GetRequiredService<AgentPresence>());
        services.AddSingleton<Cluster.ILinkExpiryListener>(sp => sp.GetRequiredService<AgentPresence>());
        services.AddSingleton<AgentService>();
        return services;
    }
}
