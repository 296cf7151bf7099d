using Kai.Hub.Housekeeping;
using Kai.Hub.Observability;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Routing;

internal static class RoutingServiceCollectionExtensions
{
    /// <summary>
    /// The router and what it delivers through: the filter pipeline (in this order: metrics, trace, deadline, rate limit,
    /// authorize), the local links, the capability resolver, request correlation and the backplane (in memory by default).
    /// </summary>
    public static IServiceCollection AddKaiRouting(this IServiceCollection services)
    {
        services.AddOptions<RoutingOptions>().BindConfiguration(RoutingOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton<InMemoryCluster>();
        services.TryAddSingleton<IBackplane>(sp =>
        {
            var nodeId = sp.GetRequiredService<IConfiguration>()["Kai:NodeId"] is { Length: > 0 } id ? id : "local";
            return new InMemoryBackplane(sp.GetRequiredService<InMemoryCluster>(), nodeId);
        });
        services.AddSingleton<ConnectionRegistry>();
        services.AddSingleton<Security.ILiveSessions>(sp => sp.GetRequiredService<ConnectionRegistry>());
        services.AddSingleton<PendingRequests>();
        services.AddSingleton<CapabilityResolver>();
        services.AddSingleton<AgentDirectory>();
        services.AddSingleton<IRouteFilter, MetricsFilter>();
        services.AddSingleton<IRouteFilter, TraceFilter>();
        services.AddSingleton<IRouteFilter, DeadlineFilter>();
        services.AddSingleton<RateLimitFilter>();
        services.AddSingleton<IRouteFilter>(sp => sp.GetRequiredService<RateLimitFilter>());
        services.AddSingleton<IRouteFilter, AuthorizeFilter>();
        services.AddSingleton<Router>();
        services.AddSingleton<IHousekeeping, RoutingHousekeeping>();
        return services;
    }
}

/// <summary>The router's periodic chores: idle senders' rate buckets are forgotten.</summary>
internal sealed class RoutingHousekeeping(RateLimitFilter rateLimit) : IHousekeeping
{
    public Task SweepAsync(CancellationToken ct)
    {
        rateLimit.Trim();
        return Task.CompletedTask;
    }
}
