namespace Kai.Hub.Housekeeping;

internal static class HousekeepingServiceCollectionExtensions
{
    /// <summary>The one scheduler that runs every capability's <see cref="IHousekeeping"/>.</summary>
    public static IServiceCollection AddKaiHousekeeping(this IServiceCollection services)
    {
        services.AddSingleton<HubSweeper>();
        services.AddHostedService(sp => sp.GetRequiredService<HubSweeper>());
        return services;
    }
}
