using Kai.Hub.Housekeeping;

namespace Kai.Hub.Streams;

internal static class StreamsServiceCollectionExtensions
{
    /// <summary>Prompt streams (and the sweep of abandoned ones).</summary>
    public static IServiceCollection AddKaiStreams(this IServiceCollection services)
    {
        services.AddOptions<StreamOptions>().BindConfiguration(StreamOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<PromptStreams>();
        services.AddSingleton<IHousekeeping>(sp => sp.GetRequiredService<PromptStreams>());
        return services;
    }
}
