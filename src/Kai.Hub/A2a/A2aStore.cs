using System.Data.Common;
using Dapper;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Data.Sqlite;

namespace Kai.Hub.A2a;

/// <summary>
/// A follow-up turn of an A2A task (docs/protocol.md, "A2A", multi-turn): turn <see cref="Turn"/> (1, 2, …) of the A2A task
/// <see cref="TaskId"/> (the hub task of its first message) is the hub task <see cref="HubTaskId"/>; null when the client canceled
/// the task while it waited for input (no hub task was open to cancel).
/// </summary>
internal sealed record A2aTurn(string TaskId, int Turn, string? HubTaskId, DateTimeOffset CreatedAt);

/// <summary>
/// A push-notification config of an A2A task (A2A 1.0 <c>TaskPushNotificationConfig</c>): where to POST the task at each state
/// change, the token to send in <c>X-A2A-Notification-Token</c>, the <c>Authorization</c> scheme and credentials, and the protocol
/// version (<c>1.0</c> or <c>0.3</c>) whose payload shape the receiver expects. <see cref="LastState"/> is the last state whose
/// delivery ended (delivered, or given up after the last retry), null before the first; a node that starts leading reads it, so a
/// restart or a failover does not send a state again.
/// </summary>
internal sealed record A2aPushConfig(
    string TaskId, string ConfigId, string Url, string? Token, string? AuthScheme, string? AuthCredentials, string Version, DateTimeOffset CreatedAt,
    string? LastState = null);

/// <summary>
/// The A2A capability's own storage (migration step <c>a2a_turns</c>): the follow-up turns of multi-turn tasks and the
/// push-notification configs. Rows are keyed by A2A task id only; who may see a task is decided by the task service, so every
/// caller here has already read the task as the caller.
/// </summary>
internal interface IA2aStore
{
    /// <summary>The follow-up turns of <paramref name="taskId"/>, in order (empty for a one-turn task).</summary>
    Task<IReadOnlyList<A2aTurn>> TurnsAsync(string taskId, CancellationToken ct);

    /// <summary>Adds a turn; false when that turn number already exists (another follow-up won the race).</summary>
    Task<bool> TryAddTurnAsync(A2aTurn turn, CancellationToken ct);

    /// <summary>Removes a turn whose hub task could not be created.</summary>
    Task DeleteTurnAsync(string taskId, int turn, CancellationToken ct);

    /// <summary>Creates or replaces (same task and config id) a push config.</summary>
    Task PutPushConfigAsync(A2aPushConfig config, CancellationToken ct);

    Task<A2aPushConfig?> GetPushConfigAsync(string taskId, string configId, CancellationToken ct);

    /// <summary>The task's configs, oldest first.</summary>
    Task<IReadOnlyList<A2aPushConfig>> ListPushConfigsAsync(string taskId, CancellationToken ct);

    /// <summary>Deletes a config; false when there was none.</summary>
    Task<bool> DeletePushConfigAsync(string taskId, string configId, CancellationToken ct);

    /// <summary>The ids of every task with at least one push config (read when a node starts leading, to resume watching them).</summary>
    Task<IReadOnlyList<string>> PushTaskIdsAsync(CancellationToken ct);

    /// <summary>Records the last state whose delivery to a config ended; nothing when the config is gone.</summary>
    Task SetPushStateAsync(string taskId, string configId, string state, CancellationToken ct);
}

/// <inheritdoc />
/// <remarks>One SQL text for both stores: SQLite (<see cref="Sqlite"/>) and PostgreSQL (<see cref="Postgres"/>); times are Unix milliseconds.</remarks>
internal sealed class SqlA2aStore(Func<CancellationToken, Task<DbConnection>> open) : IA2aStore
{
    public static SqlA2aStore Sqlite(Storage.SqliteHubStore db) => new(db.OpenAsync);

    public static SqlA2aStore Postgres(Storage.Postgres.PostgresHubStore db) => new(async ct => await db.OpenAsync(ct));

    public async Task<IReadOnlyList<A2aTurn>> TurnsAsync(string taskId, CancellationToken ct)
    {
        await using var c = await open(ct);
        var rows = await c.QueryAsync<(string TaskId, long Turn, string? HubTaskId, long CreatedAt)>(new CommandDefinition(
            "SELECT task_id, turn, hub_task_id, created_at FROM a2a_turns WHERE task_id = @taskId ORDER BY turn", new { taskId }, cancellationToken: ct));
        return [.. rows.Select(r => new A2aTurn(r.TaskId, (int)r.Turn, r.HubTaskId, DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt)))];
    }

    public async Task<bool> TryAddTurnAsync(A2aTurn turn, CancellationToken ct)
    {
        await using var c = await open(ct);
        return await c.ExecuteAsync(new CommandDefinition("""
            INSERT INTO a2a_turns (task_id, turn, hub_task_id, created_at) VALUES (@TaskId, @Turn, @HubTaskId, @at)
            ON CONFLICT (task_id, turn) DO NOTHING
            """, new { turn.TaskId, turn.Turn, turn.HubTaskId, at = turn.CreatedAt.ToUnixTimeMilliseconds() }, cancellationToken: ct)) == 1;
    }

    public async Task DeleteTurnAsync(string taskId, int turn, CancellationToken ct)
    {
        await using var c = await open(ct);
        await c.ExecuteAsync(new CommandDefinition("DELETE FROM a2a_turns WHERE task_id = @taskId AND turn = @turn", new { taskId, turn }, cancellationToken: ct));
    }

    public async Task PutPushConfigAsync(A2aPushConfig p, CancellationToken ct)
    {
        await using var c = await open(ct);
        await c.ExecuteAsync(new CommandDefinition("""
            INSERT INTO a2a_push_configs (task_id, config_id, url, token, auth_scheme, auth_credentials, version, created_at)
            VALUES (@TaskId, @ConfigId, @Url, @Token, @AuthScheme, @AuthCredentials, @Version, @at)
            ON CONFLICT (task_id, config_id) DO UPDATE SET url = excluded.url, token = excluded.token, auth_scheme = excluded.auth_scheme,
                auth_credentials = excluded.auth_credentials, version = excluded.version, last_state = NULL
            """, new { p.TaskId, p.ConfigId, p.Url, p.Token, p.AuthScheme, p.AuthCredentials, p.Version, at = p.CreatedAt.ToUnixTimeMilliseconds() },
            cancellationToken: ct));
    }

    public async Task<A2aPushConfig?> GetPushConfigAsync(string taskId, string configId, CancellationToken ct) =>
        (await QueryConfigsAsync("WHERE task_id = @taskId AND config_id = @configId", new { taskId, configId }, ct)).SingleOrDefault();

    public Task<IReadOnlyList<A2aPushConfig>> ListPushConfigsAsync(string taskId, CancellationToken ct) =>
        QueryConfigsAsync("WHERE task_id = @taskId ORDER BY created_at, config_id", new { taskId }, ct);

    public async Task<bool> DeletePushConfigAsync(string taskId, string configId, CancellationToken ct)
    {
        await using var c = await open(ct);
        return await c.ExecuteAsync(new CommandDefinition(
            "DELETE FROM a2a_push_configs WHERE task_id = @taskId AND config_id = @configId", new { taskId, configId }, cancellationToken: ct)) > 0;
    }

    public async Task<IReadOnlyList<string>> PushTaskIdsAsync(CancellationToken ct)
    {
        await using var c = await open(ct);
        return [.. await c.QueryAsync<string>(new CommandDefinition("SELECT DISTINCT task_id FROM a2a_push_configs", cancellationToken: ct))];
    }

    public async Task SetPushStateAsync(string taskId, string configId, string state, CancellationToken ct)
    {
        await using var c = await open(ct);
        await c.ExecuteAsync(new CommandDefinition(
            "UPDATE a2a_push_configs SET last_state = @state WHERE task_id = @taskId AND config_id = @configId", new { taskId, configId, state }, cancellationToken: ct));
    }

    private async Task<IReadOnlyList<A2aPushConfig>> QueryConfigsAsync(string where, object args, CancellationToken ct)
    {
        await using var c = await open(ct);
        var rows = await c.QueryAsync<(string TaskId, string ConfigId, string Url, string? Token, string? AuthScheme, string? AuthCredentials, string Version, long CreatedAt, string? LastState)>(
            new CommandDefinition("SELECT task_id, config_id, url, token, auth_scheme, auth_credentials, version, created_at, last_state FROM a2a_push_configs " + where,
                args, cancellationToken: ct));
        return [.. rows.Select(r => new A2aPushConfig(r.TaskId, r.ConfigId, r.Url, r.Token, r.AuthScheme, r.AuthCredentials, r.Version,
            DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt), r.LastState))];
    }
}

/// <summary>
/// The push configs' secrets (<c>token</c>, <c>authentication.credentials</c>) protected at rest with ASP.NET Core Data Protection
/// (the key ring the hosted agents' API keys use: <c>&lt;data&gt;/keys/dataprotection</c>, shared by every node of a cluster,
/// docs/operations.md). Stored as <c>dp1:</c> + the protected text; a value without the prefix is a row written before this
/// (step 18) and is read as it is. Every other member passes through.
/// </summary>
internal sealed class ProtectedA2aStore(IA2aStore inner, IDataProtectionProvider protection) : IA2aStore
{
    private const string Prefix = "dp1:";
    private readonly IDataProtector _protector = protection.CreateProtector("Kai.Hub.A2a.PushSecrets");

    public Task<IReadOnlyList<A2aTurn>> TurnsAsync(string taskId, CancellationToken ct) => inner.TurnsAsync(taskId, ct);

    public Task<bool> TryAddTurnAsync(A2aTurn turn, CancellationToken ct) => inner.TryAddTurnAsync(turn, ct);

    public Task DeleteTurnAsync(string taskId, int turn, CancellationToken ct) => inner.DeleteTurnAsync(taskId, turn, ct);

    public Task PutPushConfigAsync(A2aPushConfig config, CancellationToken ct) =>
        inner.PutPushConfigAsync(config with { Token = Protect(config.Token), AuthCredentials = Protect(config.AuthCredentials) }, ct);

    public async Task<A2aPushConfig?> GetPushConfigAsync(string taskId, string configId, CancellationToken ct) =>
        await inner.GetPushConfigAsync(taskId, configId, ct) is { } c ? Open(c) : null;

    public async Task<IReadOnlyList<A2aPushConfig>> ListPushConfigsAsync(string taskId, CancellationToken ct) =>
        [.. (await inner.ListPushConfigsAsync(taskId, ct)).Select(Open)];

    public Task<bool> DeletePushConfigAsync(string taskId, string configId, CancellationToken ct) => inner.DeletePushConfigAsync(taskId, configId, ct);

    public Task<IReadOnlyList<string>> PushTaskIdsAsync(CancellationToken ct) => inner.PushTaskIdsAsync(ct);

    public Task SetPushStateAsync(string taskId, string configId, string state, CancellationToken ct) => inner.SetPushStateAsync(taskId, configId, state, ct);

    private string? Protect(string? secret) => secret is null ? null : Prefix + _protector.Protect(secret);

    /// <exception cref="System.Security.Cryptography.CryptographicException">The key ring that protected a secret is not this node's
    /// (a cluster whose nodes do not share <c>keys/dataprotection</c>): the delivery is dropped and logged.</exception>
    private A2aPushConfig Open(A2aPushConfig c) => c with { Token = Unprotect(c.Token), AuthCredentials = Unprotect(c.AuthCredentials) };

    private string? Unprotect(string? stored) =>
        stored is not null && stored.StartsWith(Prefix, StringComparison.Ordinal) ? _protector.Unprotect(stored[Prefix.Length..]) : stored;
}
