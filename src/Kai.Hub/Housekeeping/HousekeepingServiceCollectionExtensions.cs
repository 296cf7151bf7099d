using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Kai.Hub.Housekeeping;

internal static class HousekeepingServiceCollectionExtensions
{
    /// <summary>The one scheduler that runs every capability's <see cref="IHousekeeping"/>.</summary>
    public static IServiceCollection AddKaiHousekeeping(this IServiceCollection services)
    {
        // The store registers its own leadership (PostgreSQL: an advisory lock) before this; the embedded store has none.
        services.TryAddSingleton<IHousekeepingLeadership, SingleNodeLeadership>();
        services.AddSingleton<HubSweeper>();
        services.AddHostedService(sp => sp.GetRequiredService<HubSweeper>());
        return services;
    }
}
