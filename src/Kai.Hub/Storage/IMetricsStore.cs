namespace Kai.Hub.Storage;

public sealed record AgentWorkStats(string AgentId, int Completed, int Failed, double AverageSeconds);

public sealed record MetricsSnapshot(int ActiveAgents, int PendingTasks, int CompletedWorkflows, IReadOnlyList<AgentWorkStats> Agents);

/// <summary>Read-only counts across capabilities, for the metrics summary and the gauges.</summary>
public interface IMetricsStore
{
    /// <summary>Counts for the seed 004 metrics summary; <paramref name="ownerId"/> limits the per-agent part (null: all agents).</summary>
    Task<MetricsSnapshot> GetMetricsSnapshotAsync(string? ownerId, CancellationToken ct);

    /// <summary>Tasks per status, for the tasks gauge (statuses with no task are absent).</summary>
    Task<IReadOnlyDictionary<string, int>> CountTasksByStatusAsync(CancellationToken ct);

    /// <summary>Open commands, for the queue-depth gauge.</summary>
    Task<int> CountOpenCommandsAsync(CancellationToken ct);
}
