using Dapper;
using static Kai.Hub.Storage.SqliteHubStore;

namespace Kai.Hub.Storage.Postgres;

// Audit, logs, metrics, and the user/secret/magic-link parts of IAuthStore and IAgentStore.
internal sealed partial class PostgresHubStore
{
    public Task AppendAuditAsync(AuditRecord e, CancellationToken ct) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("""
            INSERT INTO audit_log (audit_id, at, actor_id, actor_role, action, target, outcome, ip, details)
            VALUES (@AuditId, @At, @ActorId, @ActorRole, @Action, @Target, @Outcome, @Ip, @DetailsJson)
            """, new { e.AuditId, At = Ms(e.At), e.ActorId, e.ActorRole, e.Action, e.Target, e.Outcome, e.Ip, e.DetailsJson }, tx), ct);

    public async Task<(IReadOnlyList<AuditRecord> Items, int Total)> ListAuditAsync(AuditQuery q, CancellationToken ct)
    {
        const string where = """
            WHERE (@ActorId::text IS NULL OR actor_id = @ActorId)
              AND (@Action::text IS NULL OR action = @Action)
              AND (@From::bigint IS NULL OR at >= @From)
              AND (@To::bigint IS NULL OR at < @To)
            """;
        var p = new { q.ActorId, q.Action, From = Ms(q.From), To = Ms(q.To), q.Limit, q.Offset };
        await using var c = await OpenAsync(ct);
        var total = await c.ExecuteScalarAsync<int>(new CommandDefinition($"SELECT COUNT(*)::int FROM audit_log {where}", p, cancellationToken: ct));
        var rows = await c.QueryAsync<AuditRow>(new CommandDefinition(
            $"SELECT * FROM audit_log {where} ORDER BY seq DESC LIMIT @Limit OFFSET @Offset", p, cancellationToken: ct));
        return (rows.Select(r => r.ToRecord()).ToList(), total);
    }

    public async Task<(IReadOnlyList<UserRecord> Items, int Total)> ListUsersAsync(int limit, int offset, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        var total = await c.ExecuteScalarAsync<int>(new CommandDefinition("SELECT COUNT(*)::int FROM users", cancellationToken: ct));
        var rows = await c.QueryAsync<UserRow>(new CommandDefinition(
            "SELECT * FROM users ORDER BY created_at, user_id LIMIT @limit OFFSET @offset", new { limit, offset }, cancellationToken: ct));
        return (rows.Select(r => r.ToRecord()).ToList(), total);
    }

    public Task<bool> SetUserRoleAsync(string userId, string role, CancellationToken ct) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("UPDATE users SET role = @role WHERE user_id = @userId", new { userId, role }, tx) == 1, ct);

    public Task<bool> SetUserDisabledAsync(string userId, bool disabled, CancellationToken ct) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("UPDATE users SET disabled = @disabled WHERE user_id = @userId", new { userId, disabled }, tx) == 1, ct);

    public Task<IReadOnlyList<string>> RevokeUserSessionsAsync(string userId, DateTimeOffset now, CancellationToken ct) => WriteAsync(async (c, tx) =>
    {
        var ids = (await c.QueryAsync<string>("""
            UPDATE sessions SET revoked_at = @now WHERE user_id = @userId AND revoked_at IS NULL RETURNING session_id
            """, new { userId, now = Ms(now) }, tx)).AsList();
        return (IReadOnlyList<string>)ids;
    }, ct);

    public Task RecordRevokedSessionAsync(string sessionId, string userId, DateTimeOffset now, DateTimeOffset expiresAt, CancellationToken ct) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("""
            INSERT INTO sessions (session_id, user_id, created_at, expires_at, revoked_at) VALUES (@sessionId, @userId, @now, @expires, @now)
            ON CONFLICT (session_id) DO UPDATE SET revoked_at = COALESCE(sessions.revoked_at, excluded.revoked_at)
            """, new { sessionId, userId, now = Ms(now), expires = Ms(expiresAt) }, tx), ct);

    public Task<bool> SetAgentSecretAsync(string agentId, string secretHash, DateTimeOffset now, CancellationToken ct) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("UPDATE agents SET secret_hash = @secretHash, updated_at = @now WHERE agent_id = @agentId",
            new { agentId, secretHash, now = Ms(now) }, tx) == 1, ct);

    public Task CreateMagicLinkAsync(MagicLinkRecord m, CancellationToken ct) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("""
            INSERT INTO magic_links (token_hash, email, user_id, created_at, expires_at) VALUES (@TokenHash, @Email, @UserId, @CreatedAt, @ExpiresAt)
            """, new { m.TokenHash, m.Email, m.UserId, CreatedAt = Ms(m.CreatedAt), ExpiresAt = Ms(m.ExpiresAt) }, tx), ct);

    public Task<MagicLinkRecord?> TryConsumeMagicLinkAsync(string tokenHash, DateTimeOffset now, CancellationToken ct) => WriteAsync(async (c, tx) =>
    {
        var row = await c.QuerySingleOrDefaultAsync<MagicRow>("""
            UPDATE magic_links SET used_at = @now WHERE token_hash = @tokenHash AND used_at IS NULL AND expires_at > @now
            RETURNING token_hash, email, user_id, created_at, expires_at, used_at
            """, new { tokenHash, now = Ms(now) }, tx);
        return row is null ? null : new MagicLinkRecord(row.TokenHash, row.Email, row.UserId, FromMs(row.CreatedAt), FromMs(row.ExpiresAt), FromMs(row.UsedAt));
    }, ct);

    // ---- logs ----

    public Task AppendLogAsync(LogRecord e, CancellationToken ct) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("""
            INSERT INTO agent_logs (agent_id, level, level_rank, message, component, context, ts, received_at)
            VALUES (@AgentId, @Level, @LevelRank, @Message, @Component, @ContextJson, @Ts, @ReceivedAt)
            """, new { e.AgentId, e.Level, LevelRank = (long)e.LevelRank, e.Message, e.Component, e.ContextJson, Ts = Ms(e.Timestamp), ReceivedAt = Ms(e.ReceivedAt) }, tx), ct);

    public async Task<(IReadOnlyList<LogRecord> Items, int Total)> ListLogsAsync(LogQuery q, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        var args = new { q.AgentId, Min = (long)q.MinLevelRank, Since = Ms(q.Since), q.Before, q.Limit };
        const string Where = "agent_id = @AgentId AND level_rank >= @Min AND (@Since::bigint IS NULL OR ts >= @Since)";
        var rows = await c.QueryAsync<LogRow>(new CommandDefinition($"""
            SELECT log_id, agent_id, level, level_rank, message, component, context, ts, received_at
            FROM agent_logs WHERE {Where} AND (@Before::bigint IS NULL OR log_id < @Before)
            ORDER BY log_id DESC LIMIT @Limit
            """, args, cancellationToken: ct));
        var total = await c.ExecuteScalarAsync<int>(new CommandDefinition($"SELECT COUNT(*)::int FROM agent_logs WHERE {Where}", args, cancellationToken: ct));
        return (rows.Select(r => r.ToRecord()).ToList(), total);
    }

    public Task<int> TrimLogsAsync(DateTimeOffset cutoff, int maxPerAgent, CancellationToken ct) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("DELETE FROM agent_logs WHERE received_at < @Cutoff", new { Cutoff = Ms(cutoff) }, tx)
        + await c.ExecuteAsync("""
            DELETE FROM agent_logs WHERE log_id IN (
                SELECT log_id FROM (
                    SELECT log_id, ROW_NUMBER() OVER (PARTITION BY agent_id ORDER BY log_id DESC) AS rn FROM agent_logs) AS ranked
                WHERE rn > @Max)
            """, new { Max = (long)maxPerAgent }, tx), ct);

    // ---- metrics ----

    public async Task<MetricsSnapshot> GetMetricsSnapshotAsync(string? ownerId, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        var active = await c.ExecuteScalarAsync<int>(new CommandDefinition("SELECT COUNT(*)::int FROM agents WHERE status <> 'offline'", cancellationToken: ct));
        var pending = await CountOpenCommandsAsync(ct)
            + await c.ExecuteScalarAsync<int>(new CommandDefinition("SELECT COUNT(*)::int FROM tasks WHERE status IN ('pending', 'queued', 'in_progress')", cancellationToken: ct));
        var workflows = await c.ExecuteScalarAsync<int>(new CommandDefinition("SELECT COUNT(*)::int FROM workflows WHERE status = 'completed'", cancellationToken: ct));
        var rows = await c.QueryAsync<(string AgentId, long Completed, long Failed, double? AverageMs)>(new CommandDefinition("""
            SELECT a.agent_id,
                   COUNT(CASE WHEN w.status = 'completed' THEN 1 END),
                   COUNT(CASE WHEN w.status = 'failed' THEN 1 END),
                   AVG(CASE WHEN w.status = 'completed' THEN w.updated_at - w.created_at END)::float8
            FROM agents a
            LEFT JOIN (
                SELECT agent_id, status, created_at, updated_at FROM commands
                UNION ALL
                SELECT current_agent, status, created_at, updated_at FROM tasks WHERE current_agent IS NOT NULL
            ) w ON w.agent_id = a.agent_id
            WHERE @ownerId::text IS NULL OR a.owner_id = @ownerId
            GROUP BY a.agent_id
            ORDER BY a.agent_id
            """, new { ownerId }, cancellationToken: ct));
        return new MetricsSnapshot(active, pending, workflows,
            rows.Select(r => new AgentWorkStats(r.AgentId, (int)r.Completed, (int)r.Failed, (r.AverageMs ?? 0) / 1000.0)).ToList());
    }

    public async Task<IReadOnlyDictionary<string, int>> CountTasksByStatusAsync(CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        var rows = await c.QueryAsync<(string Status, int Count)>(new CommandDefinition("SELECT status, COUNT(*)::int FROM tasks GROUP BY status", cancellationToken: ct));
        return rows.ToDictionary(r => r.Status, r => r.Count, StringComparer.Ordinal);
    }

    public async Task<int> CountOpenCommandsAsync(CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        return await c.ExecuteScalarAsync<int>(new CommandDefinition("SELECT COUNT(*)::int FROM commands WHERE status IN ('queued', 'executing')", cancellationToken: ct));
    }

    private sealed class AuditRow
    {
        public long Seq { get; set; }
        public string AuditId { get; set; } = "";
        public long At { get; set; }
        public string? ActorId { get; set; }
        public string? ActorRole { get; set; }
        public string Action { get; set; } = "";
        public string? Target { get; set; }
        public string Outcome { get; set; } = "";
        public string? Ip { get; set; }
        public string Details { get; set; } = "{}";
        public AuditRecord ToRecord() => new(Seq, AuditId, FromMs(At), ActorId, ActorRole, Action, Target, Outcome, Ip, Details);
    }

    private sealed class MagicRow
    {
        public string TokenHash { get; set; } = "";
        public string Email { get; set; } = "";
        public string UserId { get; set; } = "";
        public long CreatedAt { get; set; }
        public long ExpiresAt { get; set; }
        public long? UsedAt { get; set; }
    }

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
