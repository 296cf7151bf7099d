using Microsoft.Extensions.Options;

namespace Kai.Hub.Storage;

/// <summary>Registers the store: one object (one writer connection) behind every capability interface.</summary>
internal static class StorageServiceCollectionExtensions
{
    /// <summary>The embedded SQLite store, <c>kai.db</c> in <c>Kai:DataDirectory</c>.</summary>
    public static IServiceCollection AddKaiStorage(this IServiceCollection services) =>
        services.AddHubStore(sp =>
        {
            var dir = Path.GetFullPath(sp.GetRequiredService<IOptions<HubOptions>>().Value.DataDirectory);
            Directory.CreateDirectory(dir);
            return new SqliteHubStore(Path.Combine(dir, "kai.db"));
        });

    /// <summary>
    /// Registers <paramref name="factory"/>'s store once, as <see cref="IHubStore"/> (for the composition root only) and as each
    /// capability interface, all resolving to the same instance. A second implementation (PostgreSQL) plugs in here.
    /// </summary>
    public static IServiceCollection AddHubStore(this IServiceCollection services, Func<IServiceProvider, IHubStore> factory)
    {
        services.AddSingleton(factory);
        services.AddSingleton<IStoreLifecycle>(sp => sp.GetRequiredService<IHubStore>());
        services.AddSingleton<IAuthStore>(sp => sp.GetRequiredService<IHubStore>());
        services.AddSingleton<IAgentStore>(sp => sp.GetRequiredService<IHubStore>());
        services.AddSingleton<ICommandStore>(sp => sp.GetRequiredService<IHubStore>());
        services.AddSingleton<ITaskQueueStore>(sp => sp.GetRequiredService<IHubStore>());
        services.AddSingleton<IScheduleStore>(sp => sp.GetRequiredService<IHubStore>());
        services.AddSingleton<IWorkflowStore>(sp => sp.GetRequiredService<IHubStore>());
        services.AddSingleton<IAuditStore>(sp => sp.GetRequiredService<IHubStore>());
        services.AddSingleton<ILogStore>(sp => sp.GetRequiredService<IHubStore>());
        services.AddSingleton<IMetricsStore>(sp => sp.GetRequiredService<IHubStore>());
        return services;
    }
}
