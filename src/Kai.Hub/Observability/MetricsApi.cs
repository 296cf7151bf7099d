using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Kai.Hub.Observability;

internal static class MetricsApi
{
    public static void MapMetricsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/metrics", Prometheus).ExcludeFromDescription().AllowAnonymous("Prometheus scrape: aggregate counters only, no ids of other tenants");
        app.MapGet("/api/v1/metrics", SummaryAsync).WithName("getMetrics").WithSummary("A summary of the hub's metrics").WithTags("Metrics").RequirePermission(Permissions.SystemMetricsRead);
    }

    /// <summary>Prometheus text exposition format 0.0.4.</summary>
    private static ContentHttpResult Prometheus(PrometheusExporter exporter) =>
        TypedResults.Text(exporter.Scrape(), "text/plain; version=0.0.4; charset=utf-8");

    /// <summary>Seed 004 "Metrics Collection". Admins get every agent in <c>agent_metrics</c>; others their own.</summary>
    private static async Task<Ok<MetricsSummary>> SummaryAsync(HttpContext http, IMetricsStore store, RequestStats requests, CancellationToken ct)
    {
        var principal = http.Principal();
        var counts = await store.GetMetricsSnapshotAsync(Access.TenantScope(principal), ct);
        var (count, totalMs, errors) = requests.Snapshot();
        var system = new SystemMetrics(
            counts.ActiveAgents, counts.PendingTasks, counts.CompletedWorkflows,
            count == 0 ? 0 : Math.Round(totalMs / count, 3), count == 0 ? 0 : Math.Round((double)errors / count, 4));
        var agents = counts.Agents.ToDictionary(
            a => a.AgentId,
            a => new AgentMetrics(a.Completed, Math.Round(a.AverageSeconds, 3), a.Completed + a.Failed == 0 ? 0 : Math.Round((double)a.Completed / (a.Completed + a.Failed), 4)),
            StringComparer.Ordinal);
        return TypedResults.Ok(new MetricsSummary(system, agents));
    }
}

/// <summary>Counts HTTP requests, their total duration and server errors, for the seed 004 summary.</summary>
internal sealed class RequestStats
{
    private long _count;
    private long _totalTicks;
    private long _errors;

    public void Record(TimeSpan elapsed, int status)
    {
        Interlocked.Increment(ref _count);
        Interlocked.Add(ref _totalTicks, elapsed.Ticks);
        if (status >= 500)
        {
            Interlocked.Increment(ref _errors);
        }
    }

    public (long Count, double TotalMs, long Errors) Snapshot() =>
        (Interlocked.Read(ref _count), TimeSpan.FromTicks(Interlocked.Read(ref _totalTicks)).TotalMilliseconds, Interlocked.Read(ref _errors));
}

/// <param name="ActiveAgents">Agents not offline.</param>
/// <param name="PendingTasks">Open commands and tasks (not yet terminal).</param>
/// <param name="CompletedWorkflows">Workflows that completed.</param>
/// <param name="AverageResponseTime">Mean HTTP response time since start, milliseconds.</param>
/// <param name="ErrorRate">Share of HTTP responses that were 5xx since start, 0 to 1.</param>
internal sealed record SystemMetrics(int ActiveAgents, int PendingTasks, int CompletedWorkflows, double AverageResponseTime, double ErrorRate);

/// <param name="TasksCompleted">Commands and tasks completed.</param>
/// <param name="AverageExecutionTime">Mean seconds from creation to completion.</param>
/// <param name="SuccessRate">Completed over completed plus failed, 0 to 1.</param>
internal sealed record AgentMetrics(int TasksCompleted, double AverageExecutionTime, double SuccessRate);

internal sealed record MetricsSummary(
    SystemMetrics SystemMetrics,
    IReadOnlyDictionary<string, AgentMetrics> AgentMetrics);
