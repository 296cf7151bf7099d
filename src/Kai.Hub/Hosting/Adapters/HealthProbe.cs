using System.Diagnostics;
using Kai.Hub.Routing;
using Kai.Hub.Storage;
using Kai.Protocol;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Hosting.Adapters;

/// <summary>One probe of an agent's <c>health_check_url</c>.</summary>
/// <param name="Healthy">It answered 2xx within the timeout.</param>
/// <param name="Status">Its HTTP status, when it answered.</param>
/// <param name="Error">Why not healthy: <c>"CODE: message"</c> (for example <c>ADAPTER_URL_FORBIDDEN</c>), or the status.</param>
/// <param name="Latency">Time to the answer's headers.</param>
internal sealed record HealthResult(bool Healthy, int? Status, string? Error, TimeSpan Latency);

/// <summary>
/// Seed 004's <c>health_check_url</c>, polled for the running webhook and custom-API agents every
/// <see cref="WebhookAdapterOptions.HealthInterval"/> seconds (0: off) with a GET through the same <see cref="SsrfGuard"/> (an
/// internal URL is refused, never fetched). A 2xx feeds the routing health score as a success with its latency
/// (<see cref="CapabilityResolver.RecordSuccess"/>); anything else as a failure, so capability routing avoids an agent that
/// fails its checks.
/// </summary>
internal sealed partial class HealthProbe(
    AdapterAgents adapters, HostedAgentSupervisor supervisor, IAgentStore store, CapabilityResolver resolver,
    IOptionsMonitor<AdapterOptions> options, TimeProvider time, ILogger<HealthProbe> logger) : BackgroundService
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.CurrentValue.Webhook.HealthInterval;
        if (interval <= 0)
        {
            return;
        }
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(interval), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                foreach (var agentId in supervisor.RunningOfType(t => t is AdapterAgents.WebhookType or AdapterAgents.CustomApiType))
                {
                    if (await store.GetAgentAsync(agentId, stoppingToken) is { HealthCheckUrl: not null } agent)
                    {
                        await ProbeAsync(agent, stoppingToken);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Probes one agent now and feeds the result to the health score; null when it has no <c>health_check_url</c>.</summary>
    public async Task<HealthResult?> ProbeAsync(AgentRecord agent, CancellationToken ct)
    {
        if (agent.HealthCheckUrl is not { } text || !Uri.TryCreate(text, UriKind.Absolute, out var url))
        {
            return null;
        }
        var started = Stopwatch.GetTimestamp();
        HealthResult result;
        using var deadline = new CancellationTokenSource(ProbeTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, deadline.Token);
        try
        {
            // Checked here too (the allow-list may have narrowed, or the row predates the check at registration), then again by
            // the client's handler at connect time (DNS rebinding).
            await adapters.Guard.CheckAsync(url, linked.Token);
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            using var response = await adapters.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token);
            var status = (int)response.StatusCode;
            result = new HealthResult(status is >= 200 and < 300, status, status is >= 200 and < 300 ? null : $"answered {status}", Stopwatch.GetElapsedTime(started));
        }
        catch (Exception e) when (SsrfGuard.Refusal(e) is { } refused)
        {
            result = new HealthResult(false, null, $"{refused.Code}: {refused.Message}", Stopwatch.GetElapsedTime(started));
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            result = new HealthResult(false, null, $"{ErrorCodes.AdapterTimeout}: no answer within {ProbeTimeout.TotalSeconds:0} s", Stopwatch.GetElapsedTime(started));
        }
        catch (HttpRequestException e)
        {
            result = new HealthResult(false, null, $"{ErrorCodes.AdapterUnavailable}: {e.Message}", Stopwatch.GetElapsedTime(started));
        }
        if (result.Healthy)
        {
            resolver.RecordSuccess(agent.AgentId, result.Latency);
        }
        else
        {
            resolver.RecordFailure(agent.AgentId);
            Log.Unhealthy(logger, agent.AgentId, result.Error ?? "");
        }
        return result;
    }

    private static partial class Log
    {
        [LoggerMessage(1121, LogLevel.Warning, "Agent {AgentId} failed its health check: {Error}")]
        public static partial void Unhealthy(ILogger logger, string agentId, string error);
    }
}
