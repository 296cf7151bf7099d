using Kai.Hub.Logs;
using Kai.Hub.Observability;
using Kai.Hub.Streams;

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
        services.AddOptions<StreamOptions>().BindConfiguration(StreamOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<PromptStreams>();
        services.AddSingleton<IHousekeeping>(sp => sp.GetRequiredService<PromptStreams>());
        services.AddOptions<LogOptions>().BindConfiguration(LogOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<AgentLogs>();
        services.AddSingleton<IHousekeeping>(sp => sp.GetRequiredService<AgentLogs>());
        return services;
    }

    public static void MapKaiEvents(this IEndpointRouteBuilder app)
    {
        app.MapEventLink();
        app.MapEventsApi();
        app.MapStreamsApi();
        app.MapLogsApi();
    }
}
