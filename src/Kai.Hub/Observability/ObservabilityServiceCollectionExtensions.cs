namespace Kai.Hub.Observability;

internal static class ObservabilityServiceCollectionExtensions
{
    /// <summary>Metrics, traces, the Prometheus exposition, request statistics, health checks and the OpenAPI document.</summary>
    public static IServiceCollection AddKaiObservability(this IServiceCollection services)
    {
        services.AddOptions<TelemetryOptions>().BindConfiguration(HubOptions.Section + ":Telemetry").ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<Telemetry>();
        services.AddSingleton<HubMetrics>();
        services.AddSingleton<PrometheusExporter>();
        services.AddSingleton<RequestStats>();
        services.AddKaiOpenApi();
        services.AddHealthChecks()
            .AddCheck<DatabaseHealthCheck>("database", tags: ["ready"])
            .AddCheck<BusHealthCheck>("bus", tags: ["ready"]);
        return services;
    }
}
