using Dapper;

namespace Kai.Hub.Storage;

internal sealed partial class SqliteHubStore
{
    public Task AppendAuditAsync(AuditRecord e, CancellationToken ct) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("""
            INSERT INTO audit_log (audit_id, at, actor_id, actor_role, action, target, outcome, ip, details)
            VALUES (@AuditId, @At, @ActorId, @ActorRole, @Action, @Target, @Outcome, @Ip, @DetailsJson)
            """, new { e.AuditId, At = Ms(e.At), e.ActorId, e.ActorRole, e.Action, e.Target, e.Outcome, e.Ip, e.DetailsJson }, tx), ct);

    public async Task<(IReadOnlyList<AuditRecord> Items, int Total)> ListAuditAsync(AuditQuery q, CancellationToken ct)
    {
        const string where = """
            WHERE (@ActorId IS NULL OR actor_id = @ActorId)
              AND (@Action IS NULL OR action = @Action)
              AND (@From IS NULL OR at >= @From)
              AND (@To IS NULL OR at < @To)
            """;
        var p = new { q.ActorId, q.Action, From = Ms(q.From), To = Ms(q.To), q.Limit, q.Offset };
        await using var c = OpenRead();
        var total = await c.ExecuteScalarAsync<int>(new CommandDefinition($"SELECT COUNT(*) FROM audit_log {where}", p, cancellationToken: ct));
        var rows = await c.QueryAsync<AuditRow>(new CommandDefinition(
            $"SELECT * FROM audit_log {where} ORDER BY seq DESC LIMIT @Limit OFFSET @Offset", p, cancellationToken: ct));
        return (rows.Select(r => r.ToRecord()).ToList(), total);
    }

    public async Task<(IReadOnlyList<UserRecord> Items, int Total)> ListUsersAsync(int limit, int offset, CancellationToken ct)
    {
        await using var c = OpenRead();
        var total = await c.ExecuteScalarAsync<int>(new CommandDefinition("SELECT COUNT(*) FROM users", cancellationToken: ct));
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
            ON CONFLICT (session_id) DO UPDATE SET revoked_at = COALESCE(revoked_at, excluded.revoked_at)
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
}
