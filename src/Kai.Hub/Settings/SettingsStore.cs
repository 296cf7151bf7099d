using Dapper;
using Microsoft.Data.Sqlite;

namespace Kai.Hub.Settings;

/// <summary>One stored override: a configuration key (<c>Kai:Logs:MaxAge</c>), its value as configuration text, and who set it when.</summary>
internal sealed record SettingRow(string Key, string Value, DateTimeOffset UpdatedAt, string UpdatedBy);

/// <summary>
/// The runtime overrides (migration step <c>runtime_settings</c>), kept apart from the other stores so it merges alone.
/// Every change bumps one revision number, so another node can tell cheaply that it must reload.
/// </summary>
internal interface ISettingsStore
{
    Task<IReadOnlyList<SettingRow>> ListAsync(CancellationToken ct);

    /// <summary>
    /// Applies changes in one transaction: a value is upserted; null deletes the key and every key under it (<c>key:…</c>).
    /// </summary>
    Task ApplyAsync(IReadOnlyDictionary<string, string?> changes, string updatedBy, DateTimeOffset now, CancellationToken ct);

    /// <summary>The revision of the overrides: it grows with every change (0 before the first).</summary>
    Task<long> RevisionAsync(CancellationToken ct);
}

/// <inheritdoc />
internal sealed class SqliteSettingsStore(string databasePath) : ISettingsStore
{
    private readonly string _connectionString = new SqliteConnectionStringBuilder
    {
        DataSource = databasePath,
        Mode = SqliteOpenMode.ReadWrite,
        Cache = SqliteCacheMode.Private,
        DefaultTimeout = 30,
        Pooling = true,
    }.ToString();

    private async Task<SqliteConnection> OpenAsync(CancellationToken ct)
    {
        var c = new SqliteConnection(_connectionString);
        await c.OpenAsync(ct);
        return c;
    }

    public async Task<IReadOnlyList<SettingRow>> ListAsync(CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        var rows = await c.QueryAsync<(string Key, string Value, long UpdatedAt, string UpdatedBy)>(new CommandDefinition(
            "SELECT key, value, updated_at, updated_by FROM runtime_settings ORDER BY key", cancellationToken: ct));
        return rows.Select(r => new SettingRow(r.Key, r.Value, DateTimeOffset.FromUnixTimeMilliseconds(r.UpdatedAt), r.UpdatedBy)).ToList();
    }

    public async Task ApplyAsync(IReadOnlyDictionary<string, string?> changes, string updatedBy, DateTimeOffset now, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var revision = await c.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COALESCE((SELECT revision FROM runtime_settings_revision WHERE id = 1), 0) + 1", transaction: tx, cancellationToken: ct));
        foreach (var (key, value) in changes)
        {
            if (value is null)
            {
                await c.ExecuteAsync(new CommandDefinition(
                    "DELETE FROM runtime_settings WHERE key = @key COLLATE NOCASE OR key LIKE @prefix ESCAPE '\\'",
                    new { key, prefix = key.Replace("\\", "\\\\").Replace("%", "\\%").Replace("_", "\\_") + ":%" }, tx, cancellationToken: ct));
            }
            else
            {
                await c.ExecuteAsync(new CommandDefinition("""
                    INSERT INTO runtime_settings (key, value, updated_at, updated_by, revision) VALUES (@key, @value, @now, @updatedBy, @revision)
                    ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by, revision = excluded.revision
                    """, new { key, value, now = now.ToUnixTimeMilliseconds(), updatedBy, revision }, tx, cancellationToken: ct));
            }
        }
        // The revision has its own row, so a change that only deleted overrides moves it too.
        await c.ExecuteAsync(new CommandDefinition("""
            INSERT INTO runtime_settings_revision (id, revision) VALUES (1, @revision)
            ON CONFLICT (id) DO UPDATE SET revision = excluded.revision
            """, new { revision }, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
    }

    public async Task<long> RevisionAsync(CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        return await c.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COALESCE((SELECT revision FROM runtime_settings_revision WHERE id = 1), 0)", cancellationToken: ct));
    }
}

/// <inheritdoc />
/// <remarks>Keys are stored as the API wrote them; the service compares them without case, as configuration does.</remarks>
internal sealed class PostgresSettingsStore(Storage.Postgres.PostgresHubStore db) : ISettingsStore
{
    public async Task<IReadOnlyList<SettingRow>> ListAsync(CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var rows = await c.QueryAsync<(string Key, string Value, long UpdatedAt, string UpdatedBy)>(new CommandDefinition(
            "SELECT key, value, updated_at, updated_by FROM runtime_settings ORDER BY key", cancellationToken: ct));
        return rows.Select(r => new SettingRow(r.Key, r.Value, DateTimeOffset.FromUnixTimeMilliseconds(r.UpdatedAt), r.UpdatedBy)).ToList();
    }

    public Task ApplyAsync(IReadOnlyDictionary<string, string?> changes, string updatedBy, DateTimeOffset now, CancellationToken ct) => db.WriteAsync(async (c, tx) =>
    {
        // The revision row is locked for the transaction, so two nodes changing settings at once get two revisions.
        await c.ExecuteAsync("INSERT INTO runtime_settings_revision (id, revision) VALUES (1, 0) ON CONFLICT (id) DO NOTHING", transaction: tx);
        var revision = await c.ExecuteScalarAsync<long>(
            "UPDATE runtime_settings_revision SET revision = revision + 1 WHERE id = 1 RETURNING revision", transaction: tx);
        foreach (var (key, value) in changes)
        {
            if (value is null)
            {
                await c.ExecuteAsync("DELETE FROM runtime_settings WHERE lower(key) = lower(@key) OR lower(key) LIKE lower(@prefix) ESCAPE '\\'",
                    new { key, prefix = key.Replace("\\", "\\\\").Replace("%", "\\%").Replace("_", "\\_") + ":%" }, tx);
            }
            else
            {
                await c.ExecuteAsync("DELETE FROM runtime_settings WHERE lower(key) = lower(@key)", new { key }, tx);
                await c.ExecuteAsync("""
                    INSERT INTO runtime_settings (key, value, updated_at, updated_by, revision) VALUES (@key, @value, @now, @updatedBy, @revision)
                    """, new { key, value, now = now.ToUnixTimeMilliseconds(), updatedBy, revision }, tx);
            }
        }
        return revision;
    }, ct);

    public async Task<long> RevisionAsync(CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return await c.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COALESCE((SELECT revision FROM runtime_settings_revision WHERE id = 1), 0)", cancellationToken: ct));
    }
}
