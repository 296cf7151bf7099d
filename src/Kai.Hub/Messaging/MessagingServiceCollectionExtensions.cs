namespace Kai.Hub.Messaging;

internal static class MessagingServiceCollectionExtensions
{
    /// <summary>The agent link edge <c>/ws/agents/{id}</c>.</summary>
    public static IServiceCollection AddKaiMessaging(this IServiceCollection services)
    {
        services.AddSingleton<AgentLinkServices>();
        services.AddSingleton<AgentLinkEdge>();
        return services;
    }
}
