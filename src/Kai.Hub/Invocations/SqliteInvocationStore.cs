using Dapper;
using Kai.Hub.Storage;
using static Kai.Hub.Storage.SqliteHubStore;

namespace Kai.Hub.Invocations;

/// <summary>SQLite implementation of <see cref="IInvocationStore"/> on the hub store's single writer and pooled readers (tables of migration "kail_invocations").</summary>
internal sealed class SqliteInvocationStore(SqliteHubStore db) : IInvocationStore
{
    private const string Columns = "invocation_id, owner_id, sender, target, intent, status, error_code, agent, depth, stack_json, result_json, created_at, completed_at";

    public Task AppendAsync(InvocationLogRecord r, CancellationToken ct) => db.WriteAsync(async (c, tx) =>
    {
        await c.ExecuteAsync($"""
            INSERT INTO kail_invocation_log ({Columns})
            VALUES (@InvocationId, @OwnerId, @Sender, @Target, @Intent, @Status, @ErrorCode, @Agent, @Depth, @StackJson, @ResultJson, @CreatedAt, @CompletedAt)
            """, new
        {
            r.InvocationId, r.OwnerId, r.Sender, r.Target, r.Intent, r.Status, r.ErrorCode, r.Agent, r.Depth, r.StackJson, r.ResultJson,
            CreatedAt = Ms(r.CreatedAt), CompletedAt = Ms(r.CompletedAt),
        }, tx);
        return true;
    }, ct);

    public async Task<InvocationLogRecord?> GetAsync(string invocationId, CancellationToken ct)
    {
        await using var c = db.OpenRead();
        var row = await c.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(
            $"SELECT {Columns} FROM kail_invocation_log WHERE invocation_id = @invocationId", new { invocationId }, cancellationToken: ct));
        return row?.ToRecord();
    }

    public Task<bool> TryAddNonceAsync(string nonce, DateTimeOffset now, DateTimeOffset expiresAt, CancellationToken ct) => db.WriteAsync(async (c, tx) =>
    {
        // An expired row of the same nonce is replaced; a live one makes the insert a no-op (0 rows): a replay.
        await c.ExecuteAsync("DELETE FROM kail_nonces WHERE nonce = @nonce AND expires_at <= @now", new { nonce, now = Ms(now) }, tx);
        var added = await c.ExecuteAsync("INSERT OR IGNORE INTO kail_nonces (nonce, expires_at) VALUES (@nonce, @expires)", new { nonce, expires = Ms(expiresAt) }, tx);
        return added == 1;
    }, ct);

    public Task RemoveNonceAsync(string nonce, CancellationToken ct) => db.WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("DELETE FROM kail_nonces WHERE nonce = @nonce", new { nonce }, tx), ct);

    public Task<int> PurgeNoncesAsync(DateTimeOffset now, CancellationToken ct) => db.WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("DELETE FROM kail_nonces WHERE expires_at <= @now", new { now = Ms(now) }, tx), ct);

    internal sealed class Row
    {
        public string InvocationId { get; set; } = "";
        public string OwnerId { get; set; } = "";
        public string Sender { get; set; } = "";
        public string Target { get; set; } = "";
        public string Intent { get; set; } = "";
        public string Status { get; set; } = "";
        public string? ErrorCode { get; set; }
        public string? Agent { get; set; }
        public long Depth { get; set; }
        public string StackJson { get; set; } = "";
        public string ResultJson { get; set; } = "";
        public long CreatedAt { get; set; }
        public long CompletedAt { get; set; }

        public InvocationLogRecord ToRecord() => new(InvocationId, OwnerId, Sender, Target, Intent, Status, ErrorCode, Agent, (int)Depth, StackJson, ResultJson,
            FromMs(CreatedAt), FromMs(CompletedAt));
    }
}

/// <summary>PostgreSQL implementation of <see cref="IInvocationStore"/> (PostgreSQL migration step 6, the same tables and triggers).</summary>
internal sealed class PostgresInvocationStore(Storage.Postgres.PostgresHubStore db) : IInvocationStore
{
    private const string Columns = "invocation_id, owner_id, sender, target, intent, status, error_code, agent, depth, stack_json, result_json, created_at, completed_at";

    public Task AppendAsync(InvocationLogRecord r, CancellationToken ct) => db.WriteAsync(async (c, tx) =>
        await c.ExecuteAsync($"""
            INSERT INTO kail_invocation_log ({Columns})
            VALUES (@InvocationId, @OwnerId, @Sender, @Target, @Intent, @Status, @ErrorCode, @Agent, @Depth, @StackJson, @ResultJson, @CreatedAt, @CompletedAt)
            """, new
        {
            r.InvocationId, r.OwnerId, r.Sender, r.Target, r.Intent, r.Status, r.ErrorCode, r.Agent, Depth = (long)r.Depth, r.StackJson, r.ResultJson,
            CreatedAt = r.CreatedAt.ToUnixTimeMilliseconds(), CompletedAt = r.CompletedAt.ToUnixTimeMilliseconds(),
        }, tx), ct);

    public async Task<InvocationLogRecord?> GetAsync(string invocationId, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<SqliteInvocationStore.Row>(new CommandDefinition(
            $"SELECT {Columns} FROM kail_invocation_log WHERE invocation_id = @invocationId", new { invocationId }, cancellationToken: ct));
        return row?.ToRecord();
    }

    public Task<bool> TryAddNonceAsync(string nonce, DateTimeOffset now, DateTimeOffset expiresAt, CancellationToken ct) => db.WriteAsync(async (c, tx) =>
    {
        await c.ExecuteAsync("DELETE FROM kail_nonces WHERE nonce = @nonce AND expires_at <= @now", new { nonce, now = now.ToUnixTimeMilliseconds() }, tx);
        var added = await c.ExecuteAsync("INSERT INTO kail_nonces (nonce, expires_at) VALUES (@nonce, @expires) ON CONFLICT (nonce) DO NOTHING",
            new { nonce, expires = expiresAt.ToUnixTimeMilliseconds() }, tx);
        return added == 1;
    }, ct);

    public Task RemoveNonceAsync(string nonce, CancellationToken ct) => db.WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("DELETE FROM kail_nonces WHERE nonce = @nonce", new { nonce }, tx), ct);

    public Task<int> PurgeNoncesAsync(DateTimeOffset now, CancellationToken ct) => db.WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("DELETE FROM kail_nonces WHERE expires_at <= @now", new { now = now.ToUnixTimeMilliseconds() }, tx), ct);
}
