using Kai.Hub.Housekeeping;
using Kai.Hub.Storage.Postgres;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Storage;

/// <summary>Registers the store: one object behind every capability interface, chosen by <c>Kai:Store</c> (<see cref="StoreOptions"/>).</summary>
internal static class StorageServiceCollectionExtensions
{
    /// <summary>
    /// The store <c>Kai:Store</c> names: the embedded SQLite store (<c>kai.db</c> in <c>Kai:DataDirectory</c>, the default, unchanged),
    /// or PostgreSQL (<c>ConnectionStrings:Postgres</c>), with its housekeeping leadership.
    /// </summary>
    public static IServiceCollection AddKaiStorage(this IServiceCollection services)
    {
        services.AddOptions<StoreOptions>()
            .BindConfiguration(HubOptions.Section)
            .Configure<IConfiguration>((o, config) => o.Postgres = config.GetConnectionString("Postgres"))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton<IHousekeepingLeadership>(sp => sp.GetRequiredService<IHubStore>() is PostgresHubStore pg
            ? ActivatorUtilities.CreateInstance<PostgresHousekeepingLeadership>(sp, pg)
            : new SingleNodeLeadership());
        return services.AddHubStore(sp =>
        {
            var store = sp.GetRequiredService<IOptions<StoreOptions>>().Value;
            if (store.IsPostgres)
            {
                return new PostgresHubStore(store.Postgres!);
            }
            var dir = Path.GetFullPath(sp.GetRequiredService<IOptions<HubOptions>>().Value.DataDirectory);
            Directory.CreateDirectory(dir);
            return new SqliteHubStore(Path.Combine(dir, "kai.db"));
        });
    }

    /// <summary>
    /// Registers <paramref name="factory"/>'s store once, as <see cref="IHubStore"/> (for the composition root only) and as each
    /// capability interface, all resolving to the same instance.
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
