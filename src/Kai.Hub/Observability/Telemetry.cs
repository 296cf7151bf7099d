using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Kai.Hub.Observability;

/// <summary>The <c>Kai:Telemetry</c> section.</summary>
public sealed class TelemetryOptions
{
    /// <summary>OTLP/HTTP endpoint (for example <c>http://127.0.0.1:4318</c>); traces go to <c>/v1/traces</c>, metrics to <c>/v1/metrics</c>. Default: none (no export).</summary>
    [Url]
    public string? OtlpEndpoint { get; set; }

    /// <summary><c>service.name</c> of the exported resource. Default: <c>kai-hub</c>.</summary>
    [Required]
    public string ServiceName { get; set; } = "kai-hub";

    /// <summary>How often metrics are exported. 1 second to 10 minutes. Default: 15 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan MetricExportInterval { get; set; } = TimeSpan.FromSeconds(15);
}

/// <summary>
/// Trace context for the hub: W3C <c>traceparent</c> is read from REST requests (ASP.NET Core does that once an Activity
/// listener exists), carried into command frames, and put on log lines. With <see cref="TelemetryOptions.OtlpEndpoint"/> set,
/// spans and metrics are exported over OTLP/HTTP; without it, a listener that records nothing still creates trace ids, so
/// logs and frames carry them.
/// </summary>
internal sealed class Telemetry : IDisposable
{
    private static readonly string[] Sources = [HubMetrics.Activities.Name, "Microsoft.AspNetCore"];
    private readonly IDisposable? _tracer;
    private readonly IDisposable? _meters;
    private readonly ActivityListener? _listener;

    public Telemetry(IOptions<TelemetryOptions> options)
    {
        var o = options.Value;
        if (o.OtlpEndpoint is { Length: > 0 } endpoint)
        {
            var resource = ResourceBuilder.CreateDefault().AddService(o.ServiceName);
            _tracer = Sdk.CreateTracerProviderBuilder()
                .SetResourceBuilder(resource)
                .AddSource(Sources)
                .SetSampler(new ParentBasedSampler(new AlwaysOnSampler()))
                .AddOtlpExporter(e =>
                {
                    e.Endpoint = new Uri(endpoint.TrimEnd('/') + "/v1/traces");
                    e.Protocol = OtlpExportProtocol.HttpProtobuf;
                    e.BatchExportProcessorOptions = new BatchExportProcessorOptions<Activity> { ScheduledDelayMilliseconds = 1000 };
                })
                .Build();
            _meters = Sdk.CreateMeterProviderBuilder()
                .SetResourceBuilder(resource)
                .AddMeter(PrometheusExporter.Meters)
                .AddOtlpExporter((e, reader) =>
                {
                    e.Endpoint = new Uri(endpoint.TrimEnd('/') + "/v1/metrics");
                    e.Protocol = OtlpExportProtocol.HttpProtobuf;
                    reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = (int)o.MetricExportInterval.TotalMilliseconds;
                })
                .Build();
        }
        else
        {
            _listener = new ActivityListener
            {
                ShouldListenTo = s => Sources.Contains(s.Name, StringComparer.Ordinal),
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.PropagationData,
            };
            ActivitySource.AddActivityListener(_listener);
        }
    }

    /// <summary>Exports what is buffered now (tests, shutdown).</summary>
    public void Flush()
    {
        (_tracer as TracerProvider)?.ForceFlush(5000);
        (_meters as MeterProvider)?.ForceFlush(5000);
    }

    /// <summary>The W3C <c>traceparent</c> of the current span, or null outside one.</summary>
    public static string? CurrentTraceParent() => Activity.Current is { IdFormat: ActivityIdFormat.W3C } a ? a.Id : null;

    public void Dispose()
    {
        _tracer?.Dispose();
        _meters?.Dispose();
        _listener?.Dispose();
    }
}
