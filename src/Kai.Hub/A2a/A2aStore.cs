using System.Data.Common;
using Dapper;
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
/// version (<c>1.0</c> or <c>0.3</c>) whose payload shape the receiver expects.
/// </summary>
internal sealed record A2aPushConfig(
    string TaskId, string ConfigId, string Url, string? Token, string? AuthScheme, string? AuthCredentials, string Version, DateTimeOffset CreatedAt);

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

    /// <summary>The ids of every task with at least one push config (read at start, to resume watching them).</summary>
    Task<IReadOnlyList<string>> PushTaskIdsAsync(CancellationToken ct);
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
                auth_credentials = excluded.auth_credentials, version = excluded.version
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

    private async Task<IReadOnlyList<A2aPushConfig>> QueryConfigsAsync(string where, object args, CancellationToken ct)
    {
        await using var c = await open(ct);
        var rows = await c.QueryAsync<(string TaskId, string ConfigId, string Url, string? Token, string? AuthScheme, string? AuthCredentials, string Version, long CreatedAt)>(
            new CommandDefinition("SELECT task_id, config_id, url, token, auth_scheme, auth_credentials, version, created_at FROM a2a_push_configs " + where,
                args, cancellationToken: ct));
        return [.. rows.Select(r => new A2aPushConfig(r.TaskId, r.ConfigId, r.Url, r.Token, r.AuthScheme, r.AuthCredentials, r.Version,
            DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt)))];
    }
}
