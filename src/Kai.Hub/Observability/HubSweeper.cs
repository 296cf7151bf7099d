using Kai.Hub.Agents;
using Kai.Hub.Commands;
using Kai.Hub.Messaging;
using Kai.Hub.Tasks;
using Kai.Protocol;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Observability;

/// <summary>
/// The periodic housekeeping of liveness and deadlines, on <see cref="TimeProvider"/> so tests drive it with a fake
/// clock by calling <see cref="SweepOnceAsync"/>: agent links silent for three heartbeat intervals are closed
/// (4005), links whose access token expired are closed (4002), agents without link or heartbeat go offline,
/// commands past their deadline fail with <c>TASK_TIMEOUT</c>,
/// and durable tasks get their lease, timeout, retry, delay and schedule housekeeping.
/// </summary>
internal sealed partial class HubSweeper(
    ConnectionRegistry links, AgentPresence presence, CommandService commands, TimeProvider time, IOptions<HubOptions> options, ILogger<HubSweeper> logger,
    IEnumerable<IHousekeeping> housekeeping, Security.WebSocketGate gate, Auth.SessionRevocations revocations)
    : BackgroundService
{
    private readonly HubOptions _options = options.Value;

    public async Task SweepOnceAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var silentSince = now - _options.Links.OfflineAfter;
        foreach (var link in links.AgentLinks)
        {
            if (link.LastInbound < silentSince)
            {
                link.RequestClose(CloseCodes.HeartbeatTimeout, "no frame for three heartbeat intervals");
            }
        }
        foreach (var link in links.All)
        {
            if (link.Principal.ExpiresAt + _options.Auth.ClockSkew < now)
            {
                link.RequestClose(CloseCodes.SessionExpired, "access token expired; reconnect with a fresh token");
            }
            else if (revocations.IsRevoked(link.Principal.SessionId))
            {
                link.RequestClose(CloseCodes.SessionExpired, "session revoked");
            }
        }
        // Observer links have no heartbeat duty; one that sends nothing for the idle timeout is closed (4000).
        var idleSince = now - gate.IdleTimeout;
        foreach (var link in links.ObserverLinks)
        {
            if (link.LastInbound < idleSince)
            {
                link.RequestClose(CloseCodes.GenericError, "idle timeout");
            }
        }
        await presence.SweepAsync(ct);
        await commands.ExpireAsync(ct);
        foreach (var step in housekeeping)
        {
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
