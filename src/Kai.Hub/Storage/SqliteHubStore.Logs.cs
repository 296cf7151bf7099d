using Dapper;

namespace Kai.Hub.Storage;

internal sealed partial class SqliteHubStore
{
    public Task AppendLogAsync(LogRecord e, CancellationToken ct) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("""
            INSERT INTO agent_logs (agent_id, level, level_rank, message, component, context, ts, received_at)
            VALUES (@AgentId, @Level, @LevelRank, @Message, @Component, @ContextJson, @Ts, @ReceivedAt)
            """, new { e.AgentId, e.Level, e.LevelRank, e.Message, e.Component, e.ContextJson, Ts = Ms(e.Timestamp), ReceivedAt = Ms(e.ReceivedAt) }, tx), ct);

    public async Task<(IReadOnlyList<LogRecord> Items, int Total)> ListLogsAsync(LogQuery q, CancellationToken ct)
    {
        await using var c = OpenRead();
        var args = new { q.AgentId, Min = q.MinLevelRank, Since = Ms(q.Since), q.Before, q.Limit };
        const string Where = "agent_id = @AgentId AND level_rank >= @Min AND (@Since IS NULL OR ts >= @Since)";
        var rows = await c.QueryAsync<LogRow>(new CommandDefinition($"""
            SELECT log_id, agent_id, level, level_rank, message, component, context, ts, received_at
            FROM agent_logs WHERE {Where} AND (@Before IS NULL OR log_id < @Before)
            ORDER BY log_id DESC LIMIT @Limit
            """, args, cancellationToken: ct));
        var total = await c.ExecuteScalarAsync<int>(new CommandDefinition($"SELECT COUNT(*) FROM agent_logs WHERE {Where}", args, cancellationToken: ct));
        return (rows.Select(r => r.ToRecord()).ToList(), total);
    }

    public Task<int> TrimLogsAsync(DateTimeOffset cutoff, int maxPerAgent, CancellationToken ct) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("DELETE FROM agent_logs WHERE received_at < @Cutoff", new { Cutoff = Ms(cutoff) }, tx)
        + await c.ExecuteAsync("""
            DELETE FROM agent_logs WHERE log_id IN (
                SELECT log_id FROM (
                    SELECT log_id, ROW_NUMBER() OVER (PARTITION BY agent_id ORDER BY log_id DESC) AS rn FROM agent_logs)
                WHERE rn > @Max)
            """, new { Max = maxPerAgent }, tx), ct);

    private sealed class LogRow
    {
        public long LogId { get; set; }
        public string AgentId { get; set; } = "";
        public string Level { get; set; } = "";
        public long LevelRank { get; set; }
        public string Message { get; set; } = "";
        public string? Component { get; set; }
        public string? Context { get; set; }
        public long Ts { get; set; }
        public long ReceivedAt { get; set; }

        public LogRecord ToRecord() => new(LogId, AgentId, Level, (int)LevelRank, Message, Component, Context, FromMs(Ts), FromMs(ReceivedAt));
    }
}
