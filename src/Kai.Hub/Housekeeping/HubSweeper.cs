using Microsoft.Extensions.Options;

namespace Kai.Hub.Housekeeping;

/// <summary>
/// The one scheduler of periodic housekeeping, on <see cref="TimeProvider"/> so tests drive it with a fake clock by calling
/// <see cref="SweepOnceAsync"/>. Each capability owns its chores as an <see cref="IHousekeeping"/> (link liveness and token expiry,
/// agent presence, command deadlines, task leases and schedules, event history, streams, logs, rate buckets); they run in
/// registration order.
/// </summary>
internal sealed partial class HubSweeper(
    TimeProvider time, IOptions<HubOptions> options, ILogger<HubSweeper> logger, IEnumerable<IHousekeeping> housekeeping, IHousekeepingLeadership leadership)
    : BackgroundService
{
    private readonly HubOptions _options = options.Value;

    /// <summary>
    /// One sweep: settles the housekeeping leadership first, then runs every step in order; a store-wide step
    /// (<see cref="IClusterHousekeeping"/>) only on the leader.
    /// </summary>
    public async Task SweepOnceAsync(CancellationToken ct)
    {
        var leads = await leadership.TryLeadAsync(ct);
        foreach (var step in housekeeping)
        {
            if (step is IClusterHousekeeping && !leads)
            {
                continue;
            }
            await step.SweepAsync(ct);
        }
    }

    private volatile bool _running;

    /// <summary>Whether the loop runs (for <c>/ready</c>).</summary>
    public bool IsRunning => _running;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.Links.SweepInterval, time);
        _running = true;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await SweepOnceAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    Log.SweepFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Shutdown.
        }
        finally
        {
            _running = false;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(400, LogLevel.Error, "Housekeeping sweep failed; retrying at the next interval")]
        public static partial void SweepFailed(ILogger logger, Exception ex);
    }
}
