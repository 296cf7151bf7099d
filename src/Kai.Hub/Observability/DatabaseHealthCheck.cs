using Kai.Hub.Housekeeping;
using Kai.Hub.Storage;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Kai.Hub.Observability;

/// <summary>
/// Ready when the database answers, every migration of this build is applied, and writes work: after a write failed for lack
/// of space, a probe write must succeed again first (issue 10 item 8).
/// </summary>
internal sealed class DatabaseHealthCheck(IStoreLifecycle store) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            if (store is IStorageHealth { WritesFailing: true } health)
            {
                try
                {
                    await health.ProbeWriteAsync(timeout.Token);
                }
                catch (StorageFullException ex)
                {
                    return HealthCheckResult.Unhealthy($"database writes fail (disk full or failing): {ex.InnerException?.Message}");
                }
            }
            var version = await store.PingAsync(timeout.Token);
            return version == store.ExpectedSchemaVersion
                ? HealthCheckResult.Healthy($"database answers at schema version {version}")
                : HealthCheckResult.Unhealthy($"schema version {version}, expected {store.ExpectedSchemaVersion}");
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy("database unavailable", ex);
        }
    }
}

/// <summary>Ready while the in-process bus's housekeeping loop (liveness, deadlines, leases, schedules) runs.</summary>
internal sealed class BusHealthCheck(HubSweeper sweeper) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(sweeper.IsRunning ? HealthCheckResult.Healthy("bus running") : HealthCheckResult.Unhealthy("bus housekeeping loop is not running"));
}
