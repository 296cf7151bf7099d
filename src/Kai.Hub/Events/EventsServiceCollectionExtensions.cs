using Kai.Hub.Housekeeping;
using Kai.Hub.Logs;
using Kai.Hub.Storage;
using Kai.Hub.Storage.Postgres;
using Kai.Hub.Streams;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Events;

internal static class EventsServiceCollectionExtensions
{
    /// <summary>The event log (numbering, history, recovery) and the <c>/ws</c> edge (issue 4). Delivery is the router's.</summary>
    public static IServiceCollection AddKaiEvents(this IServiceCollection services)
    {
        services.AddOptions<EventOptions>().BindConfiguration(EventOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        // On PostgreSQL the history is durable and shared by every node (issue 14 §4); the embedded store keeps it in memory.
        services.AddSingleton(sp => new PostgresEventHistory((PostgresHubStore)sp.GetRequiredService<IHubStore>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<IOptionsMonitor<EventOptions>>()));
        services.AddSingleton(sp => new EventLog(sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<IOptionsMonitor<EventOptions>>(),
            sp.GetRequiredService<IHubStore>() is PostgresHubStore ? sp.GetRequiredService<PostgresEventHistory>() : null));
        services.AddSingleton<Routing.ITopicLog>(sp => sp.GetRequiredService<EventLog>());
        services.AddSingleton<IHousekeeping>(sp => sp.GetRequiredService<EventLog>());
        // The durable history's retention sweep runs on the housekeeping leader only (an IClusterHousekeeping).
        services.AddSingleton<IHousekeeping>(sp => sp.GetRequiredService<IHubStore>() is PostgresHubStore
            ? sp.GetRequiredService<PostgresEventHistory>()
            : NoHistorySweep.Instance);
        services.AddSingleton<EventLinkEdge>();
        return services;
    }

    private sealed class NoHistorySweep : IClusterHousekeeping
    {
        public static readonly NoHistorySweep Instance = new();

        public Task SweepAsync(CancellationToken ct) => Task.CompletedTask;
    }
}
