using Kai.Hub.Housekeeping;

namespace Kai.Hub.Logs;

internal static class LogsServiceCollectionExtensions
{
    /// <summary>Stored agent logs (and their retention sweep).</summary>
    public static IServiceCollection AddKaiLogs(this IServiceCollection services)
    {
        services.AddOptions<LogOptions>().BindConfiguration(LogOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<AgentLogs>();
        services.AddSingleton<IHousekeeping>(sp => sp.GetRequiredService<AgentLogs>());
        return services;
    }
}
