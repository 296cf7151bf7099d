using Dapper;

namespace Kai.Hub.Storage;

internal sealed partial class SqliteHubStore
{
    public async Task<MetricsSnapshot> GetMetricsSnapshotAsync(string? ownerId, CancellationToken ct)
    {
        await using var c = OpenRead();
        var active = await c.ExecuteScalarAsync<int>(new CommandDefinition("SELECT COUNT(*) FROM agents WHERE status <> 'offline'", cancellationToken: ct));
        var pending = await CountOpenCommandsAsync(ct)
            + await c.ExecuteScalarAsync<int>(new CommandDefinition("SELECT COUNT(*) FROM tasks WHERE status IN ('pending', 'queued', 'in_progress')", cancellationToken: ct));
        var workflows = await c.ExecuteScalarAsync<int>(new CommandDefinition("SELECT COUNT(*) FROM workflows WHERE status = 'completed'", cancellationToken: ct));
        // Commands and tasks both count as work an agent did; a task is credited to the agent that ran its last attempt.
        var rows = await c.QueryAsync<(string AgentId, long Completed, long Failed, double? AverageMs)>(new CommandDefinition("""
            SELECT a.agent_id,
                   COUNT(CASE WHEN w.status = 'completed' THEN 1 END),
                   COUNT(CASE WHEN w.status = 'failed' THEN 1 END),
                   AVG(CASE WHEN w.status = 'completed' THEN w.updated_at - w.created_at END)
            FROM agents a
            LEFT JOIN (
                SELECT agent_id, status, created_at, updated_at FROM commands
                UNION ALL
                SELECT current_agent, status, created_at, updated_at FROM tasks WHERE current_agent IS NOT NULL
            ) w ON w.agent_id = a.agent_id
            WHERE @ownerId IS NULL OR a.owner_id = @ownerId
            GROUP BY a.agent_id
            ORDER BY a.agent_id
            """, new { ownerId }, cancellationToken: ct));
        return new MetricsSnapshot(active, pending, workflows,
            rows.Select(r => new AgentWorkStats(r.AgentId, (int)r.Completed, (int)r.Failed, (r.AverageMs ?? 0) / 1000.0)).ToList());
    }

    public async Task<IReadOnlyDictionary<string, int>> CountTasksByStatusAsync(CancellationToken ct)
    {
        await using var c = OpenRead();
        var rows = await c.QueryAsync<(string Status, int Count)>(new CommandDefinition("SELECT status, COUNT(*) FROM tasks GROUP BY status", cancellationToken: ct));
        return rows.ToDictionary(r => r.Status, r => r.Count, StringComparer.Ordinal);
    }

    public async Task<int> CountOpenCommandsAsync(CancellationToken ct)
    {
        await using var c = OpenRead();
        return await c.ExecuteScalarAsync<int>(new CommandDefinition("SELECT COUNT(*) FROM commands WHERE status IN ('queued', 'executing')", cancellationToken: ct));
    }
}
