using Dapper;

namespace Kai.Hub.Storage;

internal sealed partial class SqliteHubStore
{
    public async Task<MetricsSnapshot> GetMetricsSnapshotAsync(string? ownerId, CancellationToken ct)
    {
        await using var c = OpenRead();
        var active = await c.ExecuteScalarAsync<int>(new CommandDefinition("SELECT COUNT(*) FROM agents WHERE status <> 'offline'", cancellationToken: ct));
        var pending = await CountOpenCommandsAsync(ct);
        var rows = await c.QueryAsync<(string AgentId, long Completed, long Failed, double? AverageMs)>(new CommandDefinition("""
            SELECT a.agent_id,
                   COUNT(CASE WHEN m.status = 'completed' THEN 1 END),
                   COUNT(CASE WHEN m.status = 'failed' THEN 1 END),
                   AVG(CASE WHEN m.status = 'completed' THEN m.updated_at - m.created_at END)
            FROM agents a LEFT JOIN commands m ON m.agent_id = a.agent_id
            WHERE @ownerId IS NULL OR a.owner_id = @ownerId
            GROUP BY a.agent_id
            ORDER BY a.agent_id
            """, new { ownerId }, cancellationToken: ct));
        return new MetricsSnapshot(active, pending, 0,
            rows.Select(r => new AgentWorkStats(r.AgentId, (int)r.Completed, (int)r.Failed, (r.AverageMs ?? 0) / 1000.0)).ToList());
    }

    public async Task<int> CountOpenCommandsAsync(CancellationToken ct)
    {
        await using var c = OpenRead();
        return await c.ExecuteScalarAsync<int>(new CommandDefinition("SELECT COUNT(*) FROM commands WHERE status IN ('queued', 'executing')", cancellationToken: ct));
    }
}
