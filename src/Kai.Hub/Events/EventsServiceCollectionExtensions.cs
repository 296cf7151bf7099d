using Kai.Hub.Observability;

namespace Kai.Hub.Events;

internal static class EventsServiceCollectionExtensions
{
    /// <summary>The event bus, its subscribers, prompt streams and agent logs (issue 4).</summary>
    public static IServiceCollection AddKaiEvents(this IServiceCollection services)
    {
        services.AddOptions<EventOptions>().BindConfiguration(EventOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<TopicSubscriptions>();
        services.AddSingleton<EventBus>();
        services.AddSingleton<IHousekeeping>(sp => sp.GetRequiredService<EventBus>());
        return services;
    }

    public static void MapKaiEvents(this IEndpointRouteBuilder app)
    {
        app.MapEventLink();
        app.MapEventsApi();
    }
}
