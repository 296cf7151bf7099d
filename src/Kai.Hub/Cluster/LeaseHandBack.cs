using Kai.Hub.Routing;
using Kai.Hub.Storage;

namespace Kai.Hub.Cluster;

/// <summary>
/// Drain, second half (issue 14 §5): when a cluster node stops (SIGTERM), the task leases of the agents whose links it held are
/// handed back (queued again, the attempt not counted), so another node gives them to the agent (or a sibling) as soon as it
/// reconnects there, instead of after the lease expires. The first half is the edges' 1001 close of every link. Only with a
/// backplane to other nodes (<c>Kai:Backplane=rabbitmq</c>); a single node keeps its leases, as before.
/// </summary>
/// <remarks>
/// The agents are noted when stopping begins (<see cref="IHostApplicationLifetime.ApplicationStopping"/>, while the links are
/// still registered); the hand-back runs in <see cref="StopAsync"/>, after the links were told to go. A completion the agent
/// sends later for a handed-back attempt carries the old fencing token and is refused as superseded; the redelivery is what
/// counts (at least once, as after a lease expiry).
/// </remarks>
internal sealed partial class LeaseHandBack(
    ConnectionRegistry links, ITaskQueueStore tasks, IBackplane backplane, IHostApplicationLifetime lifetime, TimeProvider time, ILogger<LeaseHandBack> logger)
    : IHostedService
{
    private string[] _agents = [];
    private CancellationTokenRegistration _stopping;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (backplane is RabbitMqBackplane)
        {
            _stopping = lifetime.ApplicationStopping.Register(() =>
                _agents = [.. links.AgentLinks.Select(l => l.AgentId).Distinct(StringComparer.Ordinal)]);
        }
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.DisposeAsync();
        var handed = 0;
        foreach (var agent in _agents)
        {
            try
            {
                // In-progress tasks leased to the agent (current_agent), a page at a time; each release is fenced, so an attempt
                // that completed or expired meanwhile is left alone.
                while (!cancellationToken.IsCancellationRequested)
                {
                    var (page, _) = await tasks.ListTasksAsync(new TaskQuery(null, "in_progress", null, agent, null, 100, 0), cancellationToken);
                    var released = 0;
                    foreach (var t in page.Where(t => t.CurrentAgent == agent))
                    {
                        if (await tasks.ReleaseClaimAsync(t.TaskId, t.FencingToken, time.GetUtcNow(), cancellationToken))
                        {
                            released++;
                        }
                    }
                    handed += released;
                    if (page.Count < 100 || released == 0)
                    {
                        break;
                    }
                }
            }
            catch (Exception ex) when (ex is StoreUnavailableException or OperationCanceledException)
            {
                // The store is away or shutdown ran out of time: the leases expire as they would after a crash.
                Log.HandBackFailed(logger, agent, ex.Message);
                return;
            }
        }
        if (_agents.Length > 0)
        {
            Log.HandedBack(logger, handed, _agents.Length);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1401, Level = LogLevel.Information, Message = "Drain: handed back {Count} task leases of {Agents} agents linked to this node")]
        public static partial void HandedBack(ILogger logger, int count, int agents);

        [LoggerMessage(EventId = 1402, Level = LogLevel.Warning, Message = "Drain: could not hand back the leases of {Agent} ({Reason}); they expire instead")]
        public static partial void HandBackFailed(ILogger logger, string agent, string reason);
    }
}
