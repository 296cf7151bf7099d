using Dapper;
using Kai.Hub.Storage;
using static Kai.Hub.Storage.SqliteHubStore;

namespace Kai.Hub.Invocations.Signing;

/// <summary>One registered public key of an agent (table <c>kail_keys</c>, SQLite step "kail_keys", PostgreSQL step "kail_keys").</summary>
/// <param name="KeyId">The id envelopes name in <c>key_id</c>, unique on the hub.</param>
/// <param name="AgentId">The agent it belongs to.</param>
/// <param name="OwnerId">The agent's owner when the key was registered (a later agent of the same id under another owner cannot use it).</param>
/// <param name="Algorithm"><c>ed25519</c> or <c>es256</c>.</param>
/// <param name="PublicKey">The key: 32 raw bytes (Ed25519) or the DER SubjectPublicKeyInfo (ES256).</param>
/// <param name="CreatedAt">When it was registered.</param>
/// <param name="RevokedAt">When it was revoked, or null.</param>
internal sealed record KailKeyRecord(string KeyId, string AgentId, string OwnerId, string Algorithm, byte[] PublicKey, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

/// <summary>The outcome of <see cref="IKailKeyStore.AddAsync"/>.</summary>
internal enum KeyAddResult
{
    Added,
    /// <summary>The key id is taken (by this agent or another).</summary>
    Conflict,
    /// <summary>The agent already has <see cref="IKailKeyStore.MaxActiveKeys"/> keys that are not revoked.</summary>
    TooMany,
}

/// <summary>The key registry of signed KAIL envelopes (seed 002 §VIII): agents' public keys; revoked keys are kept (marked), never deleted.</summary>
internal interface IKailKeyStore
{
    /// <summary>The most keys an agent may have that are not revoked (rotation needs two at a time; more is a misuse).</summary>
    public const int MaxActiveKeys = 10;

    /// <summary>Registers a key unless its id is taken or the agent has <see cref="MaxActiveKeys"/> active keys (checked in the same transaction).</summary>
    Task<KeyAddResult> AddAsync(KailKeyRecord key, CancellationToken ct);

    /// <summary>One key by id (revoked or not), or null.</summary>
    Task<KailKeyRecord?> GetAsync(string keyId, CancellationToken ct);

    /// <summary>The keys of an agent, newest first.</summary>
    Task<IReadOnlyList<KailKeyRecord>> ListAsync(string agentId, CancellationToken ct);

    /// <summary>Marks a key of the agent revoked at <paramref name="at"/> (a key already revoked keeps its first time); false when the agent has no such key.</summary>
    Task<bool> RevokeAsync(string agentId, string keyId, DateTimeOffset at, CancellationToken ct);
}

/// <summary>SQLite implementation of <see cref="IKailKeyStore"/> on the hub store's single writer.</summary>
internal sealed class SqliteKailKeyStore(SqliteHubStore db) : IKailKeyStore
{
    internal const string Columns = "key_id, agent_id, owner_id, algorithm, public_key, created_at, revoked_at";

    public Task<KeyAddResult> AddAsync(KailKeyRecord k, CancellationToken ct) => db.WriteAsync(async (c, tx) =>
    {
        var active = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM kail_keys WHERE agent_id = @AgentId AND revoked_at IS NULL", new { k.AgentId }, tx);
        if (active >= IKailKeyStore.MaxActiveKeys)
        {
            return KeyAddResult.TooMany;
        }
        var added = await c.ExecuteAsync($"INSERT OR IGNORE INTO kail_keys ({Columns}) VALUES (@KeyId, @AgentId, @OwnerId, @Algorithm, @PublicKey, @CreatedAt, NULL)",
            new { k.KeyId, k.AgentId, k.OwnerId, k.Algorithm, PublicKey = Convert.ToBase64String(k.PublicKey), CreatedAt = Ms(k.CreatedAt) }, tx);
        return added == 1 ? KeyAddResult.Added : KeyAddResult.Conflict;
    }, ct);

    public async Task<KailKeyRecord?> GetAsync(string keyId, CancellationToken ct)
    {
        await using var c = db.OpenRead();
        return (await c.QuerySingleOrDefaultAsync<Row>(new CommandDefinition($"SELECT {Columns} FROM kail_keys WHERE key_id = @keyId", new { keyId }, cancellationToken: ct)))?.ToRecord();
    }

    public async Task<IReadOnlyList<KailKeyRecord>> ListAsync(string agentId, CancellationToken ct)
    {
        await using var c = db.OpenRead();
        var rows = await c.QueryAsync<Row>(new CommandDefinition(
            $"SELECT {Columns} FROM kail_keys WHERE agent_id = @agentId ORDER BY created_at DESC, key_id", new { agentId }, cancellationToken: ct));
        return [.. rows.Select(r => r.ToRecord())];
    }

    public Task<bool> RevokeAsync(string agentId, string keyId, DateTimeOffset at, CancellationToken ct) => db.WriteAsync(async (c, tx) =>
    {
        await c.ExecuteAsync("UPDATE kail_keys SET revoked_at = @at WHERE key_id = @keyId AND agent_id = @agentId AND revoked_at IS NULL", new { keyId, agentId, at = Ms(at) }, tx);
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM kail_keys WHERE key_id = @keyId AND agent_id = @agentId", new { keyId, agentId }, tx) == 1;
    }, ct);

    internal sealed class Row
    {
        public string KeyId { get; set; } = "";
        public string AgentId { get; set; } = "";
        public string OwnerId { get; set; } = "";
        public string Algorithm { get; set; } = "";
        public string PublicKey { get; set; } = "";
        public long CreatedAt { get; set; }
        public long? RevokedAt { get; set; }

        public KailKeyRecord ToRecord() => new(KeyId, AgentId, OwnerId, Algorithm, Convert.FromBase64String(PublicKey), FromMs(CreatedAt),
            RevokedAt is { } r ? FromMs(r) : null);
    }
}

/// <summary>PostgreSQL implementation of <see cref="IKailKeyStore"/> (the same table).</summary>
internal sealed class PostgresKailKeyStore(Storage.Postgres.PostgresHubStore db) : IKailKeyStore
{
    public Task<KeyAddResult> AddAsync(KailKeyRecord k, CancellationToken ct) => db.WriteAsync(async (c, tx) =>
    {
        // One agent's registrations are serialized by a transaction-scoped advisory lock, so two concurrent adds cannot both pass the count.
        await c.ExecuteAsync("SELECT pg_advisory_xact_lock(hashtext('kail_keys:' || @AgentId))", new { k.AgentId }, tx);
        var active = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM kail_keys WHERE agent_id = @AgentId AND revoked_at IS NULL", new { k.AgentId }, tx);
        if (active >= IKailKeyStore.MaxActiveKeys)
        {
            return KeyAddResult.TooMany;
        }
        var added = await c.ExecuteAsync(
            $"INSERT INTO kail_keys ({SqliteKailKeyStore.Columns}) VALUES (@KeyId, @AgentId, @OwnerId, @Algorithm, @PublicKey, @CreatedAt, NULL) ON CONFLICT (key_id) DO NOTHING",
            new { k.KeyId, k.AgentId, k.OwnerId, k.Algorithm, PublicKey = Convert.ToBase64String(k.PublicKey), CreatedAt = k.CreatedAt.ToUnixTimeMilliseconds() }, tx);
        return added == 1 ? KeyAddResult.Added : KeyAddResult.Conflict;
    }, ct);

    public async Task<KailKeyRecord?> GetAsync(string keyId, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return (await c.QuerySingleOrDefaultAsync<SqliteKailKeyStore.Row>(new CommandDefinition(
            $"SELECT {SqliteKailKeyStore.Columns} FROM kail_keys WHERE key_id = @keyId", new { keyId }, cancellationToken: ct)))?.ToRecord();
    }

    public async Task<IReadOnlyList<KailKeyRecord>> ListAsync(string agentId, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var rows = await c.QueryAsync<SqliteKailKeyStore.Row>(new CommandDefinition(
            $"SELECT {SqliteKailKeyStore.Columns} FROM kail_keys WHERE agent_id = @agentId ORDER BY created_at DESC, key_id", new { agentId }, cancellationToken: ct));
        return [.. rows.Select(r => r.ToRecord())];
    }

    public Task<bool> RevokeAsync(string agentId, string keyId, DateTimeOffset at, CancellationToken ct) => db.WriteAsync(async (c, tx) =>
    {
        await c.ExecuteAsync("UPDATE kail_keys SET revoked_at = @at WHERE key_id = @keyId AND agent_id = @agentId AND revoked_at IS NULL",
            new { keyId, agentId, at = at.ToUnixTimeMilliseconds() }, tx);
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM kail_keys WHERE key_id = @keyId AND agent_id = @agentId", new { keyId, agentId }, tx) == 1;
    }, ct);
}
