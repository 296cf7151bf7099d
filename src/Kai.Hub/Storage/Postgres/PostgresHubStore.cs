using System.Text.Json;
using Dapper;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Npgsql;
using static Kai.Hub.Storage.SqliteHubStore;

namespace Kai.Hub.Storage.Postgres;

/// <summary>
/// The multi-node store (<c>Kai:Store=postgres</c>): PostgreSQL through Npgsql and Dapper, one pooled <see cref="NpgsqlDataSource"/>.
/// Every write is one transaction at READ COMMITTED on its own pooled connection; races between nodes are decided the way the
/// SQLite store decides them between callers (conditional statements, row locks where a read decides a write, advisory locks
/// where a check spans rows), so the same contract suite passes on both. A commit is durable when it returns
/// (<c>synchronous_commit=on</c>, PostgreSQL's default).
/// </summary>
/// <remarks>
/// The tables live in the connection's first <c>Search Path</c> schema (default <c>public</c>); advisory lock keys include that
/// schema, so several hubs (or test classes) can share one database in separate schemas without sharing locks.
/// </remarks>
internal sealed partial class PostgresHubStore : IHubStore, IStorageHealth, IDisposable
{
    /// <summary>First key of the two-key advisory locks: migrations.</summary>
    internal const int MigrationLockClass = 0x4B41_0001;

    /// <summary>First key of the two-key advisory locks: housekeeping leadership (<see cref="PostgresHousekeepingLeadership"/>).</summary>
    internal const int HousekeepingLockClass = 0x4B41_0002;

    private readonly NpgsqlDataSource _source;
    private volatile string? _writeFailure;

    static PostgresHubStore()
    {
        DefaultTypeMap.MatchNamesWithUnderscores = true;
    }

    /// <param name="connectionString">An Npgsql connection string (<c>ConnectionStrings:Postgres</c>).</param>
    /// <exception cref="ArgumentException">The connection string does not parse.</exception>
    public PostgresHubStore(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        Target = $"{builder.Host ?? "localhost"}:{builder.Port}/{builder.Database ?? builder.Username}";
        ConnectionString = connectionString;
        _source = NpgsqlDataSource.Create(builder);
    }

    /// <summary>Where the store is, for messages: <c>host:port/database</c> (never the password).</summary>
    public string Target { get; }

    internal string ConnectionString { get; }

    internal NpgsqlDataSource DataSource => _source;

    // ---- lifecycle ----

    /// <summary>
    /// Applies the steps of <see cref="PostgresMigrations"/> not yet applied, each in its own transaction, while holding a
    /// session advisory lock: when several nodes start together, one migrates and the others wait, then find nothing to do.
    /// </summary>
    /// <exception cref="StoreUnavailableException">The server cannot be reached or refuses the login.</exception>
    public async Task MigrateAsync(CancellationToken ct)
    {
        NpgsqlConnection c;
        try
        {
            c = await _source.OpenConnectionAsync(ct);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            throw new StoreUnavailableException($"cannot connect to PostgreSQL at {Target} (ConnectionStrings:Postgres): {ex.Message}", ex);
        }
        await using (c)
        {
            await c.ExecuteAsync("SELECT pg_advisory_lock(@k, hashtext(COALESCE(current_schema(), '')))", new { k = MigrationLockClass });
            try
            {
                await c.ExecuteAsync("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)");
                foreach (var (version, name, sql) in PostgresMigrations.Steps)
                {
                    await using var tx = await c.BeginTransactionAsync(ct);
                    var applied = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM schema_migrations WHERE version = @version", new { version }, tx);
                    if (applied == 0)
                    {
                        try
                        {
                            await c.ExecuteAsync(sql, transaction: tx);
                        }
                        catch (PostgresException ex)
                        {
                            throw new InvalidOperationException($"migration step {version} ({name}) failed on PostgreSQL at {Target}: {ex.MessageText}", ex);
                        }
                        await c.ExecuteAsync("INSERT INTO schema_migrations (version, name, applied_at) VALUES (@version, @name, @now)",
                            new { version, name, now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() }, tx);
                    }
                    await tx.CommitAsync(ct);
                }
            }
            finally
            {
                await c.ExecuteAsync("SELECT pg_advisory_unlock(@k, hashtext(COALESCE(current_schema(), '')))", new { k = MigrationLockClass });
            }
        }
    }

    public async Task<int> PingAsync(CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        return await c.ExecuteScalarAsync<int>(new CommandDefinition("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", cancellationToken: ct));
    }

    public int ExpectedSchemaVersion => PostgresMigrations.Steps.Max(s => s.Version);

    // ---- users and sessions ----

    public Task<bool> TryCreateUserAsync(UserRecord u, CancellationToken ct) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("""
            INSERT INTO users (user_id, email, password_hash, display_name, role, disabled, created_at, username)
            VALUES (@UserId, @Email, @PasswordHash, @DisplayName, @Role, @Disabled, @CreatedAt, @Username)
            ON CONFLICT DO NOTHING
            """, new { u.UserId, u.Email, u.PasswordHash, u.DisplayName, u.Role, u.Disabled, CreatedAt = Ms(u.CreatedAt), u.Username }, tx) == 1, ct);

    public async Task<UserRecord?> GetUserByEmailAsync(string email, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition("SELECT * FROM users WHERE lower(email) = lower(@email)", new { email }, cancellationToken: ct));
        return row?.ToRecord();
    }

    public async Task<UserRecord?> GetUserByUsernameAsync(string username, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition("SELECT * FROM users WHERE lower(username) = lower(@username)", new { username }, cancellationToken: ct));
        return row?.ToRecord();
    }

    public async Task<UserRecord?> GetUserAsync(string userId, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition("SELECT * FROM users WHERE user_id = @userId", new { userId }, cancellationToken: ct));
        return row?.ToRecord();
    }

    public Task CreateSessionAsync(SessionRecord s, RefreshTokenRecord r, CancellationToken ct) => WriteAsync(async (c, tx) =>
    {
        await c.ExecuteAsync("INSERT INTO sessions (session_id, user_id, created_at, expires_at) VALUES (@SessionId, @UserId, @CreatedAt, @ExpiresAt)",
            new { s.SessionId, s.UserId, CreatedAt = Ms(s.CreatedAt), ExpiresAt = Ms(s.ExpiresAt) }, tx);
        await InsertRefreshAsync(c, tx, r);
        return 0;
    }, ct);

    private static Task<int> InsertRefreshAsync(NpgsqlConnection c, NpgsqlTransaction tx, RefreshTokenRecord r) =>
        c.ExecuteAsync("INSERT INTO refresh_tokens (token_hash, session_id, user_id, created_at, expires_at) VALUES (@TokenHash, @SessionId, @UserId, @CreatedAt, @ExpiresAt)",
            new { r.TokenHash, r.SessionId, r.UserId, CreatedAt = Ms(r.CreatedAt), ExpiresAt = Ms(r.ExpiresAt) }, tx);

    public async Task<SessionRecord?> GetSessionAsync(string sessionId, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<SessionRow>(new CommandDefinition("SELECT * FROM sessions WHERE session_id = @sessionId", new { sessionId }, cancellationToken: ct));
        return row is null ? null : new SessionRecord(row.SessionId, row.UserId, FromMs(row.CreatedAt), FromMs(row.ExpiresAt), FromMs(row.RevokedAt));
    }

    public async Task<RefreshTokenRecord?> GetRefreshTokenAsync(string tokenHash, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<RefreshRow>(new CommandDefinition("SELECT * FROM refresh_tokens WHERE token_hash = @tokenHash", new { tokenHash }, cancellationToken: ct));
        return row is null ? null : new RefreshTokenRecord(row.TokenHash, row.SessionId, row.UserId, FromMs(row.CreatedAt), FromMs(row.ExpiresAt), FromMs(row.UsedAt));
    }

    public Task<bool> TryRotateRefreshTokenAsync(string oldHash, RefreshTokenRecord replacement, DateTimeOffset now, CancellationToken ct) => WriteAsync(async (c, tx) =>
    {
        // One conditional UPDATE: of two nodes rotating the same token, the second finds used_at set (it waits on the row lock).
        var changed = await c.ExecuteAsync("""
            UPDATE refresh_tokens SET used_at = @now
            WHERE token_hash = @oldHash AND used_at IS NULL AND expires_at > @now
              AND EXISTS (SELECT 1 FROM sessions s WHERE s.session_id = refresh_tokens.session_id AND s.revoked_at IS NULL)
            """, new { oldHash, now = Ms(now) }, tx);
        if (changed != 1)
        {
            return false;
        }
        await InsertRefreshAsync(c, tx, replacement);
        return true;
    }, ct);

    public Task<bool> RevokeSessionAsync(string sessionId, DateTimeOffset now, CancellationToken ct) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("UPDATE sessions SET revoked_at = @now WHERE session_id = @sessionId AND revoked_at IS NULL", new { sessionId, now = Ms(now) }, tx) == 1, ct);

    public async Task<IReadOnlyList<string>> ListRevokedSessionsAsync(DateTimeOffset notExpiredBefore, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        var rows = await c.QueryAsync<string>(new CommandDefinition(
            "SELECT session_id FROM sessions WHERE revoked_at IS NOT NULL AND expires_at > @t", new { t = Ms(notExpiredBefore) }, cancellationToken: ct));
        return rows.AsList();
    }

    // ---- agents ----

    public Task<bool> TryCreateAgentAsync(AgentRecord a, CancellationToken ct) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("""
            INSERT INTO agents (agent_id, owner_id, name, type, version, capabilities, config, health_check_url, secret_hash, status,
                                reported_status, current_tasks, metrics, last_heartbeat, last_activity, created_at, updated_at)
            VALUES (@AgentId, @OwnerId, @Name, @Type, @Version, @Capabilities, @ConfigJson, @HealthCheckUrl, @SecretHash, @Status,
                    @ReportedStatus, @CurrentTasks, @MetricsJson, @LastHeartbeat, @LastActivity, @CreatedAt, @UpdatedAt)
            ON CONFLICT DO NOTHING
            """, AgentParams(a), tx) == 1, ct);

    public async Task<AgentRecord?> GetAgentAsync(string agentId, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<AgentRow>(new CommandDefinition("SELECT * FROM agents WHERE agent_id = @agentId", new { agentId }, cancellationToken: ct));
        return row?.ToRecord();
    }

    public async Task<(IReadOnlyList<AgentRecord> Items, int Total)> ListAgentsAsync(AgentQuery q, CancellationToken ct)
    {
        var clauses = new List<string>();
        if (q.OwnerId is not null) clauses.Add("owner_id = @OwnerId");
        if (q.Status is not null) clauses.Add("status = @Status");
        if (q.Type is not null) clauses.Add("type = @Type");
        if (q.Capability is not null) clauses.Add("jsonb_exists(capabilities::jsonb, @Capability)");
        var where = clauses.Count == 0 ? "" : "WHERE " + string.Join(" AND ", clauses);
        await using var c = await OpenAsync(ct);
        var total = await c.ExecuteScalarAsync<int>(new CommandDefinition($"SELECT COUNT(*)::int FROM agents {where}", q, cancellationToken: ct));
        var rows = await c.QueryAsync<AgentRow>(new CommandDefinition(
            $"SELECT * FROM agents {where} ORDER BY created_at, agent_id LIMIT @Limit OFFSET @Offset", q, cancellationToken: ct));
        return (rows.Select(r => r.ToRecord()).ToList(), total);
    }

    public Task<bool> UpdateAgentAsync(AgentRecord a, CancellationToken ct) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("""
            UPDATE agents SET name = @Name, type = @Type, version = @Version, capabilities = @Capabilities, config = @ConfigJson,
                              health_check_url = @HealthCheckUrl, secret_hash = @SecretHash, updated_at = @UpdatedAt
            WHERE agent_id = @AgentId
            """, AgentParams(a), tx) == 1, ct);

    public Task<bool> UpdatePresenceAsync(AgentPresenceUpdate u, CancellationToken ct)
    {
        if (u.Linked == true && string.IsNullOrEmpty(u.LinkNode))
        {
            throw new ArgumentException("a live link needs the node holding it (LinkNode)", nameof(u));
        }
        // An unlink by a node that no longer holds the link (another node took it over) changes nothing.
        return WriteAsync(async (c, tx) => await c.ExecuteAsync("""
            UPDATE agents SET status = @Status, last_activity = @LastActivity,
                              last_heartbeat = COALESCE(@LastHeartbeat, last_heartbeat),
                              reported_status = COALESCE(@ReportedStatus, reported_status),
                              current_tasks = COALESCE(@CurrentTasks, current_tasks),
                              metrics = COALESCE(@MetricsJson, metrics),
                              linked = COALESCE(@Linked, linked),
                              link_node = CASE WHEN @Linked IS NULL THEN link_node WHEN @Linked THEN @LinkNode ELSE NULL END
            WHERE agent_id = @AgentId
              AND NOT (NOT COALESCE(@Linked, TRUE) AND @LinkNode IS NOT NULL AND linked AND link_node IS NOT NULL AND link_node <> @LinkNode)
            """, new
        {
            u.AgentId, u.Status, LastActivity = Ms(u.LastActivity), LastHeartbeat = Ms(u.LastHeartbeat),
            u.ReportedStatus, CurrentTasks = (long?)u.CurrentTasks, u.MetricsJson, u.Linked, u.LinkNode,
        }, tx) == 1, ct);
    }

    public Task<int> ResetLinksAsync(string nodeId, DateTimeOffset now, CancellationToken ct) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("""
            UPDATE agents SET linked = FALSE, link_node = NULL, status = 'offline', last_activity = @now
            WHERE linked AND (link_node = @nodeId OR link_node IS NULL)
            """, new { nodeId, now = Ms(now) }, tx), ct);

    public Task HeartbeatNodeAsync(string nodeId, DateTimeOffset now, CancellationToken ct) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("""
            INSERT INTO nodes (node_id, first_seen, last_seen) VALUES (@nodeId, @now, @now)
            ON CONFLICT (node_id) DO UPDATE SET last_seen = GREATEST(nodes.last_seen, excluded.last_seen)
            """, new { nodeId, now = Ms(now) }, tx), ct);

    public Task<IReadOnlyList<AgentRecord>> ExpireNodeLinksAsync(DateTimeOffset seenBefore, DateTimeOffset now, CancellationToken ct) => WriteAsync(async (c, tx) =>
    {
        // Deleting the node rows first (RETURNING) makes two nodes expiring at once each handle a node once.
        var dead = (await c.QueryAsync<string>("DELETE FROM nodes WHERE last_seen < @t RETURNING node_id", new { t = Ms(seenBefore) }, tx)).ToArray();
        if (dead.Length == 0)
        {
            return (IReadOnlyList<AgentRecord>)[];
        }
        var before = (await c.QueryAsync<AgentRow>("SELECT * FROM agents WHERE linked AND link_node = ANY(@dead) ORDER BY agent_id FOR UPDATE", new { dead }, tx))
            .Select(r => r.ToRecord()).ToList();
        await c.ExecuteAsync("""
            UPDATE agents SET linked = FALSE, link_node = NULL, status = 'offline', last_activity = @now
            WHERE linked AND link_node = ANY(@dead)
            """, new { dead, now = Ms(now) }, tx);
        return (IReadOnlyList<AgentRecord>)before;
    }, ct);

    public async Task<IReadOnlyList<NodeRecord>> ListNodesAsync(CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        var rows = await c.QueryAsync<(string NodeId, long FirstSeen, long LastSeen)>(new CommandDefinition(
            "SELECT node_id, first_seen, last_seen FROM nodes ORDER BY first_seen, node_id", cancellationToken: ct));
        return rows.Select(r => new NodeRecord(r.NodeId, FromMs(r.FirstSeen), FromMs(r.LastSeen))).ToList();
    }

    public async Task<IReadOnlyList<AgentRecord>> ListStaleAgentsAsync(DateTimeOffset cutoff, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        var rows = await c.QueryAsync<AgentRow>(new CommandDefinition(
            "SELECT * FROM agents WHERE status <> 'offline' AND NOT linked AND (last_heartbeat IS NULL OR last_heartbeat < @cutoff)",
            new { cutoff = Ms(cutoff) }, cancellationToken: ct));
        return rows.Select(r => r.ToRecord()).ToList();
    }

    public Task<bool> DeleteAgentAsync(string agentId, DateTimeOffset now, CancellationToken ct) => WriteAsync(async (c, tx) =>
    {
        await c.ExecuteAsync("""
            UPDATE commands SET status = 'failed', error = 'agent deleted', updated_at = @now
            WHERE agent_id = @agentId AND status IN ('queued', 'executing')
            """, new { agentId, now = Ms(now) }, tx);
        await c.ExecuteAsync("DELETE FROM agent_schemas WHERE agent_id = @agentId", new { agentId }, tx);
        return await c.ExecuteAsync("DELETE FROM agents WHERE agent_id = @agentId", new { agentId }, tx) == 1;
    }, ct);

    // ---- agent schema declarations ----

    public Task<bool> SetAgentSchemasAsync(string agentId, string? schemasJson, DateTimeOffset now, CancellationToken ct) => WriteAsync(async (c, tx) =>
    {
        var owner = await c.QuerySingleOrDefaultAsync<string>("SELECT owner_id FROM agents WHERE agent_id = @agentId", new { agentId }, tx);
        if (owner is null)
        {
            return false;
        }
        if (schemasJson is null)
        {
            await c.ExecuteAsync("DELETE FROM agent_schemas WHERE agent_id = @agentId", new { agentId }, tx);
            return true;
        }
        await c.ExecuteAsync(AgentSchemasRow.UpsertSql, new { agentId, owner, schemasJson, now = Ms(now) }, tx);
        return true;
    }, ct);

    public async Task<AgentSchemasRecord?> GetAgentSchemasAsync(string agentId, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<AgentSchemasRow>(new CommandDefinition(
            AgentSchemasRow.SelectOneSql, new { agentId }, cancellationToken: ct));
        return row?.ToRecord();
    }

    public async Task<IReadOnlyList<AgentSchemasRecord>> ListAgentSchemasAsync(string ownerId, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        var rows = await c.QueryAsync<AgentSchemasRow>(new CommandDefinition(
            AgentSchemasRow.ListByOwnerSql,
            new { ownerId }, cancellationToken: ct));
        return rows.Select(r => r.ToRecord()).ToList();
    }

    // ---- commands ----

    private const string InsertCommandSql = """
        INSERT INTO commands (command_id, agent_id, owner_id, requested_by, command, parameters, priority, status, result, error,
                              correlation_id, traceparent, deliveries, deadline, created_at, updated_at, idempotency_key, request_hash)
        VALUES (@CommandId, @AgentId, @OwnerId, @RequestedBy, @Command, @ParametersJson, @Priority, @Status, @ResultJson, @Error,
                @CorrelationId, @TraceParent, @Deliveries, @Deadline, @CreatedAt, @UpdatedAt, @idempotencyKey, @requestHash)
        """;

    private static object CommandParams(CommandRecord m, string? idempotencyKey, string? requestHash) => new
    {
        m.CommandId, m.AgentId, m.OwnerId, m.RequestedBy, m.Command, m.ParametersJson, Priority = (long)PriorityRank(m.Priority),
        m.Status, m.ResultJson, m.Error, m.CorrelationId, m.TraceParent, Deliveries = (long)m.Deliveries,
        Deadline = Ms(m.Deadline), CreatedAt = Ms(m.CreatedAt), UpdatedAt = Ms(m.UpdatedAt), idempotencyKey, requestHash,
    };

    public Task CreateCommandAsync(CommandRecord m, CancellationToken ct) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync(InsertCommandSql, CommandParams(m, null, null), tx), ct);

    public Task<(CommandRecord Command, bool Created, bool Conflict)> CreateCommandOnceAsync(
        CommandRecord m, string idempotencyKey, string requestHash, CancellationToken ct) => WriteAsync(async (c, tx) =>
    {
        const string Existing = "SELECT * FROM commands WHERE requested_by = @RequestedBy AND idempotency_key = @idempotencyKey";
        var existing = await c.QuerySingleOrDefaultAsync<CommandRow>(Existing, new { m.RequestedBy, idempotencyKey }, tx);
        if (existing is null)
        {
            // The unique index decides between two nodes storing the same key at once: the loser inserts nothing and reads the winner's.
            if (await c.ExecuteAsync(InsertCommandSql + " ON CONFLICT (requested_by, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING",
                    CommandParams(m, idempotencyKey, requestHash), tx) == 1)
            {
                return (m, true, false);
            }
            existing = await c.QuerySingleAsync<CommandRow>(Existing, new { m.RequestedBy, idempotencyKey }, tx);
        }
        return (existing.ToRecord(), false, existing.RequestHash != requestHash);
    }, ct);

    public async Task<CommandRecord?> GetCommandAsync(string commandId, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<CommandRow>(new CommandDefinition("SELECT * FROM commands WHERE command_id = @commandId", new { commandId }, cancellationToken: ct));
        return row?.ToRecord();
    }

    public async Task<IReadOnlyList<CommandRecord>> ListDeliverableCommandsAsync(string agentId, DateTimeOffset now, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        var rows = await c.QueryAsync<CommandRow>(new CommandDefinition("""
            SELECT * FROM commands
            WHERE agent_id = @agentId AND status IN ('queued', 'executing') AND deadline > @now
            ORDER BY priority DESC, created_at, command_id
            """, new { agentId, now = Ms(now) }, cancellationToken: ct));
        return rows.Select(r => r.ToRecord()).ToList();
    }

    public Task MarkCommandDeliveredAsync(string commandId, DateTimeOffset now, CancellationToken ct) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("""
            UPDATE commands SET status = 'executing', deliveries = deliveries + 1, updated_at = @now
            WHERE command_id = @commandId AND status IN ('queued', 'executing')
            """, new { commandId, now = Ms(now) }, tx), ct);

    public Task<bool> TryCompleteCommandAsync(string commandId, string agentId, string status, string? resultJson, string? error, DateTimeOffset now, CancellationToken ct) =>
        WriteAsync(async (c, tx) => await c.ExecuteAsync("""
            UPDATE commands SET status = @status, result = @resultJson, error = @error, updated_at = @now
            WHERE command_id = @commandId AND agent_id = @agentId AND status IN ('queued', 'executing')
            """, new { commandId, agentId, status, resultJson, error, now = Ms(now) }, tx) == 1, ct);

    public Task<IReadOnlyList<CommandRecord>> ExpireCommandsAsync(DateTimeOffset now, string error, CancellationToken ct) => WriteAsync(async (c, tx) =>
    {
        var rows = await c.QueryAsync<CommandRow>("""
            UPDATE commands SET status = 'failed', error = @error, updated_at = @now
            WHERE status IN ('queued', 'executing') AND deadline <= @now
            RETURNING *
            """, new { now = Ms(now), error }, tx);
        return (IReadOnlyList<CommandRecord>)rows.Select(r => r.ToRecord()).ToList();
    }, ct);

    // ---- plumbing ----

    /// <summary>A pooled connection for reads (and for the capability stores that share this database).</summary>
    /// <exception cref="StoreUnavailableException">The server cannot be reached.</exception>
    internal async Task<NpgsqlConnection> OpenAsync(CancellationToken ct)
    {
        try
        {
            return await _source.OpenConnectionAsync(ct);
        }
        catch (Exception ex) when (IsUnreachable(ex))
        {
            throw Unavailable(ex);
        }
    }

    /// <summary>A lost or refused connection, not an error of the statement: the server is down, restarting or unreachable.</summary>
    internal static bool IsUnreachable(Exception ex) => ex switch
    {
        PostgresException pg => pg.SqlState.StartsWith("08", StringComparison.Ordinal) || pg.SqlState is "57P01" or "57P02" or "57P03",
        NpgsqlException => true,
        _ => false,
    };

    private StoreUnavailableException Unavailable(Exception ex)
    {
        // Idle pooled connections to a server that went away are dead too: drop them, so the first request after it returns works.
        _source.Clear();
        return new($"PostgreSQL at {Target} is unavailable: {ex.Message}", ex);
    }

    public bool WritesFailing => _writeFailure is not null;

    public string? LastWriteError => _writeFailure;

    public Task<bool> ProbeWriteAsync(CancellationToken ct) => WriteAsync(async (c, tx) =>
    {
        await c.ExecuteAsync("""
            CREATE TEMP TABLE IF NOT EXISTS storage_probe (b BYTEA) ON COMMIT DELETE ROWS;
            INSERT INTO storage_probe (b) VALUES (decode(repeat('00', 65536), 'hex'));
            """, transaction: tx);
        return true;
    }, ct);

    /// <summary>
    /// Runs <paramref name="work"/> in one transaction on a pooled connection and commits it. A deadlock or serialization failure
    /// (SQLSTATE 40P01, 40001) retries the whole transaction (three tries); a full disk (class 53) becomes
    /// <see cref="StorageFullException"/>, as on SQLite, so the edges answer 507.
    /// </summary>
    internal async Task<T> WriteAsync<T>(Func<NpgsqlConnection, NpgsqlTransaction, Task<T>> work, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var c = await OpenAsync(ct);
                await using var tx = await c.BeginTransactionAsync(ct);
                var result = await work(c, tx);
                await tx.CommitAsync(ct);
                _writeFailure = null;
                return result;
            }
            catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure && attempt < 3)
            {
                // Another node's transaction won; ours changed nothing. Run it again.
            }
            catch (PostgresException ex) when (ex.SqlState.StartsWith("53", StringComparison.Ordinal))
            {
                _writeFailure = ex.MessageText;
                throw new StorageFullException($"The hub cannot write to its database: {ex.MessageText}", ex);
            }
            catch (Exception ex) when (ex is not StoreUnavailableException && IsUnreachable(ex) && !ct.IsCancellationRequested)
            {
                // The connection broke during the transaction (a restart, a failover): whether a COMMIT in flight landed is unknown.
                throw Unavailable(ex);
            }
        }
    }

    public void Dispose() => _source.Dispose();

    private static object AgentParams(AgentRecord a) => new
    {
        a.AgentId, a.OwnerId, a.Name, a.Type, a.Version,
        Capabilities = JsonSerializer.Serialize(a.Capabilities, KaiJson.Options),
        a.ConfigJson, a.HealthCheckUrl, a.SecretHash, a.Status, a.ReportedStatus, CurrentTasks = (long)a.CurrentTasks, a.MetricsJson,
        LastHeartbeat = Ms(a.LastHeartbeat), LastActivity = Ms(a.LastActivity), CreatedAt = Ms(a.CreatedAt), UpdatedAt = Ms(a.UpdatedAt),
    };

    private sealed class UserRow
    {
        public string UserId { get; set; } = "";
        public string Email { get; set; } = "";
        public string PasswordHash { get; set; } = "";
        public string DisplayName { get; set; } = "";
        public string Role { get; set; } = "";
        public bool Disabled { get; set; }
        public long CreatedAt { get; set; }
        public string? Username { get; set; }
        public UserRecord ToRecord() => new(UserId, Email, PasswordHash, DisplayName, Role, Disabled, FromMs(CreatedAt), Username);
    }

    private sealed class SessionRow
    {
        public string SessionId { get; set; } = "";
        public string UserId { get; set; } = "";
        public long CreatedAt { get; set; }
        public long ExpiresAt { get; set; }
        public long? RevokedAt { get; set; }
    }

    private sealed class RefreshRow
    {
        public string TokenHash { get; set; } = "";
        public string SessionId { get; set; } = "";
        public string UserId { get; set; } = "";
        public long CreatedAt { get; set; }
        public long ExpiresAt { get; set; }
        public long? UsedAt { get; set; }
    }

    private sealed class AgentRow
    {
        public string AgentId { get; set; } = "";
        public string OwnerId { get; set; } = "";
        public string Name { get; set; } = "";
        public string Type { get; set; } = "";
        public string? Version { get; set; }
        public string Capabilities { get; set; } = "[]";
        public string Config { get; set; } = "{}";
        public string? HealthCheckUrl { get; set; }
        public string SecretHash { get; set; } = "";
        public string Status { get; set; } = "";
        public string? ReportedStatus { get; set; }
        public long CurrentTasks { get; set; }
        public string? Metrics { get; set; }
        public long? LastHeartbeat { get; set; }
        public long? LastActivity { get; set; }
        public long CreatedAt { get; set; }
        public long UpdatedAt { get; set; }
        public bool Linked { get; set; }
        public string? LinkNode { get; set; }

        public AgentRecord ToRecord() => new(
            AgentId, OwnerId, Name, Type, Version,
            JsonSerializer.Deserialize<string[]>(Capabilities, KaiJson.Options) ?? [],
            Config, HealthCheckUrl, SecretHash, Status, ReportedStatus, (int)CurrentTasks, Metrics,
            FromMs(LastHeartbeat), FromMs(LastActivity), FromMs(CreatedAt), FromMs(UpdatedAt), Linked, LinkNode);
    }

    private sealed class CommandRow
    {
        public string CommandId { get; set; } = "";
        public string AgentId { get; set; } = "";
        public string OwnerId { get; set; } = "";
        public string RequestedBy { get; set; } = "";
        public string Command { get; set; } = "";
        public string Parameters { get; set; } = "{}";
        public long Priority { get; set; }
        public string Status { get; set; } = "";
        public string? Result { get; set; }
        public string? Error { get; set; }
        public string? CorrelationId { get; set; }
        public string? Traceparent { get; set; }
        public long Deliveries { get; set; }
        public long Deadline { get; set; }
        public long CreatedAt { get; set; }
        public long UpdatedAt { get; set; }
        public string? IdempotencyKey { get; set; }
        public string? RequestHash { get; set; }

        public CommandRecord ToRecord() => new(
            CommandId, AgentId, OwnerId, RequestedBy, Command, Parameters, CommandStatuses.Priorities[(int)Priority], Status, Result, Error,
            CorrelationId, Traceparent, (int)Deliveries, FromMs(Deadline), FromMs(CreatedAt), FromMs(UpdatedAt));
    }
}
