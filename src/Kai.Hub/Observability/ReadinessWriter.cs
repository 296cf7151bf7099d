using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Kai.Hub.Observability;

/// <summary>
/// The body of <c>/ready</c>: <c>Healthy</c> when ready; otherwise <c>Unhealthy</c> and one line per failing check saying why
/// (<c>backplane: RabbitMQ connection lost (320 CONNECTION_FORCED ...); reconnecting</c>), so an operator reading the probe sees the cause.
/// </summary>
internal static class ReadinessWriter
{
    public static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "text/plain; charset=utf-8";
        if (report.Status == HealthStatus.Healthy)
        {
            return context.Response.WriteAsync("Healthy");
        }
        var lines = report.Entries.Where(e => e.Value.Status != HealthStatus.Healthy)
            .Select(e => $"{e.Key}: {e.Value.Description ?? e.Value.Exception?.Message ?? e.Value.Status.ToString()}");
        return context.Response.WriteAsync(report.Status + "\n" + string.Join('\n', lines));
    }
}
