using Kai.Hub.Housekeeping;
using Kai.Hub.Logs;
using Kai.Hub.Streams;

namespace Kai.Hub.Events;

internal static class EventsServiceCollectionExtensions
{
    /// <summary>The event log (numbering, history, recovery) and the <c>/ws</c> edge (issue 4). Delivery is the router's.</summary>
    public static IServiceCollection AddKaiEvents(this IServiceCollection services)
    {
        services.AddOptions<EventOptions>().BindConfiguration(EventOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<EventLog>();
        services.AddSingleton<Routing.ITopicLog>(sp => sp.GetRequiredService<EventLog>());
        services.AddSingleton<IHousekeeping>(sp => sp.GetRequiredService<EventLog>());
        services.AddSingleton<EventLinkEdge>();
        return services;
    }
}
