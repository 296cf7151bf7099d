using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Kai.Hub.Observability;

/// <summary>
/// The hub's own instruments (meter <c>Kai.Hub</c>). Names follow Prometheus conventions once exported:
/// dots become underscores, counters get <c>_total</c>, units are seconds and bytes.
/// </summary>
internal sealed class HubMetrics : IDisposable
{
    public const string MeterName = "Kai.Hub";
    public static readonly ActivitySource Activities = new("Kai.Hub");

    private readonly Meter _meter;

    public HubMetrics(IMeterFactory factory)
    {
        _meter = factory.Create(MeterName);
        Connections = _meter.CreateUpDownCounter<long>("kai.connections", description: "Open WebSocket links by kind (agent, observer, events).");
        FramesIn = _meter.CreateCounter<long>("kai.frames.received", description: "Frames received from clients, by type.");
        FramesOut = _meter.CreateCounter<long>("kai.frames.sent", description: "Frames queued to clients, by type.");
        RoutingDuration = _meter.CreateHistogram<double>("kai.routing.duration", unit: "s", description: "Time to route one envelope to its edges, by address kind.");
        SendQueueDrops = _meter.CreateCounter<long>("kai.send_queue.drops", description: "Frames not queued because a link was closing or over its send-queue cap.");
        SlowConsumerDisconnects = _meter.CreateCounter<long>("kai.slow_consumer.disconnects", description: "Links closed with 4008 because they read too slowly.");
        Commands = _meter.CreateCounter<long>("kai.commands", description: "Commands that reached a status, by status.");
        LeaseExpiries = _meter.CreateCounter<long>("kai.tasks.lease_expiries", description: "Task attempts ended by the hub, by reason (lease_expired, timeout).");
    }

    public UpDownCounter<long> Connections { get; }

    public Counter<long> FramesIn { get; }

    public Counter<long> FramesOut { get; }

    public Histogram<double> RoutingDuration { get; }

    public Counter<long> SendQueueDrops { get; }

    public Counter<long> SlowConsumerDisconnects { get; }

    public Counter<long> Commands { get; }

    public Counter<long> LeaseExpiries { get; }

    /// <summary>Registers a gauge with one value per tag set, read at scrape time.</summary>
    public void Gauge(string name, Func<IEnumerable<Measurement<int>>> read, string? description = null) =>
        _meter.CreateObservableGauge(name, read, description: description);

    /// <summary>Registers a gauge read at scrape time.</summary>
    public void Gauge<T>(string name, Func<T> read, string? unit = null, string? description = null) where T : struct =>
        _meter.CreateObservableGauge(name, read, unit, description);

    public void Dispose() => _meter.Dispose();
}
