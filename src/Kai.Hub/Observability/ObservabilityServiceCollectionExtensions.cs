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
        services.AddOpenApi(o => o.AddDocumentTransformer((doc, _, _) =>
        {
            doc.Info.Title = "Kai Hub API";
            doc.Info.Description = "REST API of Kai Hub. WebSocket frames are described in docs/protocol.md.";
            return Task.CompletedTask;
        }));
        services.AddHealthChecks()
            .AddCheck<DatabaseHealthCheck>("database", tags: ["ready"])
            .AddCheck<BusHealthCheck>("bus", tags: ["ready"]);
        return services;
    }
}
