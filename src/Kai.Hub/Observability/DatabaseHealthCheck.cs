using Kai.Hub.Storage;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Kai.Hub.Observability;

/// <summary>Ready when the database answers a query on the migrated schema.</summary>
internal sealed class DatabaseHealthCheck(IHubStore store) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            await store.PingAsync(timeout.Token);
            return HealthCheckResult.Healthy("database answers");
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy("database unavailable", ex);
        }
    }
}
