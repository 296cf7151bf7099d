namespace Kai.Hub.Storage;

/// <summary>
/// The hub's system of record. SQLite implements it for the single-node default; PostgreSQL will implement
/// the same contract for multi-node, and the same tests run against both.
/// </summary>
/// <remarks>
/// Every method that returns after a write has committed it durably (SQLite WAL with
/// <c>synchronous=FULL</c>): a response sent after it survives <c>kill -9</c>.
/// Methods that change state conditionally return whether they did, so callers can race safely.
/// </remarks>
public partial interface IHubStore
{
    Task MigrateAsync(CancellationToken ct);

    /// <summary>Answers the migrated schema version; throws when the database does not answer.</summary>
    Task<int> PingAsync(CancellationToken ct);

    /// <summary>The schema version this build expects (the last migration step).</summary>
    int ExpectedSchemaVersion { get; }

    // Users and sessions
    Task<bool> TryCreateUserAsync(UserRecord user, CancellationToken ct);
    Task<UserRecord?> GetUserByEmailAsync(string email, CancellationToken ct);
    Task<UserRecord?> GetUserAsync(string userId, CancellationToken ct);
    Task CreateSessionAsync(SessionRecord session, RefreshTokenRecord refresh, CancellationToken ct);
    Task<SessionRecord?> GetSessionAsync(string sessionId, CancellationToken ct);
    Task<RefreshTokenRecord?> GetRefreshTokenAsync(string tokenHash, CancellationToken ct);

    /// <summary>Marks <paramref name="oldHash"/> used and stores <paramref name="replacement"/>, atomically, only if the old token is unused, unexpired and its session live.</summary>
    Task<bool> TryRotateRefreshTokenAsync(string oldHash, RefreshTokenRecord replacement, DateTimeOffset now, CancellationToken ct);

    Task<bool> RevokeSessionAsync(string sessionId, DateTimeOffset now, CancellationToken ct);
    Task<IReadOnlyList<string>> ListRevokedSessionsAsync(DateTimeOffset notExpiredBefore, CancellationToken ct);

    // Agents
    Task<bool> TryCreateAgentAsync(AgentRecord agent, CancellationToken ct);
    Task<AgentRecord?> GetAgentAsync(string agentId, CancellationToken ct);
    Task<(IReadOnlyList<AgentRecord> Items, int Total)> ListAgentsAsync(AgentQuery query, CancellationToken ct);
    Task<bool> UpdateAgentAsync(AgentRecord agent, CancellationToken ct);
    Task UpdatePresenceAsync(AgentPresenceUpdate update, CancellationToken ct);

    /// <summary>Agents without a live link, not offline, whose last heartbeat is older than <paramref name="cutoff"/> (or absent).</summary>
    Task<IReadOnlyList<AgentRecord>> ListStaleAgentsAsync(DateTimeOffset cutoff, CancellationToken ct);

    /// <summary>At start: no link survives a restart, so linked agents become offline and unlinked.</summary>
    Task ResetLinksAsync(DateTimeOffset now, CancellationToken ct);

    /// <summary>Deletes the agent and fails its open commands.</summary>
    Task<bool> DeleteAgentAsync(string agentId, DateTimeOffset now, CancellationToken ct);

    // Commands
    Task CreateCommandAsync(CommandRecord command, CancellationToken ct);
    Task<CommandRecord?> GetCommandAsync(string commandId, CancellationToken ct);

    /// <summary>Open commands (queued or executing) of an agent whose deadline is after <paramref name="now"/>, highest priority first, then oldest.</summary>
    Task<IReadOnlyList<CommandRecord>> ListDeliverableCommandsAsync(string agentId, DateTimeOffset now, CancellationToken ct);

    Task MarkCommandDeliveredAsync(string commandId, DateTimeOffset now, CancellationToken ct);

    /// <summary>Sets a terminal status, only if the command is still open and addressed to <paramref name="agentId"/>.</summary>
    Task<bool> TryCompleteCommandAsync(string commandId, string agentId, string status, string? resultJson, string? error, DateTimeOffset now, CancellationToken ct);

    /// <summary>Fails every open command whose deadline is at or before <paramref name="now"/> and returns them.</summary>
    Task<IReadOnlyList<CommandRecord>> ExpireCommandsAsync(DateTimeOffset now, string error, CancellationToken ct);
}
