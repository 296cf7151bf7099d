using System.Text.Json;
using System.Threading.Channels;
using Dapper;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Microsoft.Data.Sqlite;

namespace Kai.Hub.Storage;

/// <summary>
/// The embedded default store: one SQLite file in WAL mode. Writes go through one connection, drained from a queue in
/// batches that share one transaction (group commit; SQLite has a single writer anyway, and this avoids SQLITE_BUSY storms); reads use pooled connections
/// and see the last committed state (WAL snapshot isolation).
/// </summary>
internal sealed partial class SqliteHubStore : IHubStore, IStorageHealth, IDisposable
{
    private readonly string _connectionString;
    private readonly Channel<PendingWrite> _queue = Channel.CreateUnbounded<PendingWrite>(new UnboundedChannelOptions { SingleReader = true });
    private Task? _drainer;
    private SqliteConnection? _writer;
    private volatile string? _writeFailure;

    static SqliteHubStore()
    {
        SQLitePCL.Batteries_V2.Init();
        DefaultTypeMap.MatchNamesWithUnderscores = true;
    }

    public SqliteHubStore(string databasePath)
    {
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = databasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            DefaultTimeout = 30,
            Pooling = true,
        }.ToString();
    }

    public string ConnectionString => _connectionString;

    public async Task MigrateAsync(CancellationToken ct)
    {
        await WriteAsync(async (c, tx) =>
        {
            await c.ExecuteAsync("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)", transaction: tx);
            return 0;
        }, ct);
        foreach (var (version, name, sql) in SqliteMigrations.Steps)
        {
            await WriteAsync(async (c, tx) =>
            {
                var applied = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM schema_migrations WHERE version = @version", new { version }, tx);
                if (applied == 0)
                {
                    await c.ExecuteAsync(sql, transaction: tx);
                    await c.ExecuteAsync("INSERT INTO schema_migrations (version, name, applied_at) VALUES (@version, @name, @now)",
                        new { version, name, now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() }, tx);
                }
                return 0;
            }, ct);
        }
    }

    public int SchemaVersion()
    {
        using var c = OpenRead();
        return c.ExecuteScalar<int>("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    }

    public async Task<int> PingAsync(CancellationToken ct)
    {
        await using var c = OpenRead();
        return await c.ExecuteScalarAsync<int>(new CommandDefinition("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", cancellationToken: ct));
    }

    public int ExpectedSchemaVersion => SqliteMigrations.Steps.Max(s => s.Version);

    // ---- users and sessions ----

    public Task<bool> TryCreateUserAsync(UserRecord u, CancellationToken ct) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("""
            INSERT INTO users (user_id, email, password_hash, display_name, role, disabled, created_at, username)
            VALUES (@UserId, @Email, @PasswordHash, @DisplayName, @Role, @Disabled, @CreatedAt, @Username)
            ON CONFLICT DO NOTHING
            """, new { u.UserId, u.Email, u.PasswordHash, u.DisplayName, u.Role, u.Disabled, CreatedAt = Ms(u.CreatedAt), u.Username }, tx) == 1, ct);

    public async Task<UserRecord?> GetUserByEmailAsync(string email, CancellationToken ct)
    {
        await using var c = OpenRead();
        var row = await c.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition("SELECT * FROM users WHERE email = @email", new { email }, cancellationToken: ct));
        return row?.ToRecord();
    }

    public async Task<UserRecord?> GetUserByUsernameAsync(string username, CancellationToken ct)
    {
        await using var c = OpenRead();
        var row = await c.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition("SELECT * FROM users WHERE username = @username COLLATE NOCASE", new { username }, cancellationToken: ct));
        return row?.ToRecord();
    }

    public async Task<UserRecord?> GetUserAsync(string userId, CancellationToken ct)
    {
        await using var c = OpenRead();
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

    private static Task<int> InsertRefreshAsync(SqliteConnection c, SqliteTransaction tx, RefreshTokenRecord r) =>
        c.ExecuteAsync("INSERT INTO refresh_tokens (token_hash, session_id, user_id, created_at, expires_at) VALUES (@TokenHash, @SessionId, @UserId, @CreatedAt, @ExpiresAt)",
            new { r.TokenHash, r.SessionId, r.UserId, CreatedAt = Ms(r.CreatedAt), ExpiresAt = Ms(r.ExpiresAt) }, tx);

    public async Task<SessionRecord?> GetSessionAsync(string sessionId, CancellationToken ct)
    {
        await using var c = OpenRead();
        var row = await c.QuerySingleOrDefaultAsync<SessionRow>(new CommandDefinition("SELECT * FROM sessions WHERE session_id = @sessionId", new { sessionId }, cancellationToken: ct));
        return row is null ? null : new SessionRecord(row.SessionId, row.UserId, FromMs(row.CreatedAt), FromMs(row.ExpiresAt), FromMs(row.RevokedAt));
    }

    public async Task<RefreshTokenRecord?> GetRefreshTokenAsync(string tokenHash, CancellationToken ct)
    {
        await using var c = OpenRead();
        var row = await c.QuerySingleOrDefaultAsync<RefreshRow>(new CommandDefinition("SELECT * FROM refresh_tokens WHERE token_hash = @tokenHash", new { tokenHash }, cancellationToken: ct));
        return row is null ? null : new RefreshTokenRecord(row.TokenHash, row.SessionId, row.UserId, FromMs(row.CreatedAt), FromMs(row.ExpiresAt), FromMs(row.UsedAt));
    }

    public Task<bool> TryRotateRefreshTokenAsync(string oldHash, RefreshTokenRecord replacement, DateTimeOffset now, CancellationToken ct) => WriteAsync(async (c, tx) =>
    {
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
        await using var c = OpenRead();
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
        await using var c = OpenRead();
        var row = await c.QuerySingleOrDefaultAsync<AgentRow>(new CommandDefinition("SELECT * FROM agents WHERE agent_id = @agentId", new { agentId }, cancellationToken: ct));
        return row?.ToRecord();
    }

    public async Task<(IReadOnlyList<AgentRecord> Items, int Total)> ListAgentsAsync(AgentQuery q, CancellationToken ct)
    {
        // Only the filters given: "(@x IS NULL OR col = @x)" keeps SQLite from using the indexes (a full scan and sort per request).
        var clauses = new List<string>();
        if (q.OwnerId is not null) clauses.Add("owner_id = @OwnerId");
        if (q.Status is not null) clauses.Add("status = @Status");
        if (q.Type is not null) clauses.Add("type = @Type");
        if (q.Capability is not null) clauses.Add("EXISTS (SELECT 1 FROM json_each(agents.capabilities) WHERE json_each.value = @Capability)");
        var where = clauses.Count == 0 ? "" : "WHERE " + string.Join(" AND ", clauses);
        // The owner's total (or everyone's) is kept by triggers (agent_counts); other filters count.
        var count = clauses.Count == 0 ? "SELECT COALESCE(SUM(n), 0) FROM agent_counts"
            : clauses.Count == 1 && q.OwnerId is not null ? "SELECT COALESCE((SELECT n FROM agent_counts WHERE owner_id = @OwnerId), 0)"
            : $"SELECT COUNT(*) FROM agents {where}";
        await using var c = OpenRead();
        var total = await c.ExecuteScalarAsync<int>(new CommandDefinition(count, q, cancellationToken: ct));
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
                              link_node = CASE WHEN @Linked IS NULL THEN link_node WHEN @Linked = 1 THEN @LinkNode ELSE NULL END
            WHERE agent_id = @AgentId
              AND NOT (COALESCE(@Linked, 1) = 0 AND @LinkNode IS NOT NULL AND linked = 1 AND link_node IS NOT NULL AND link_node <> @LinkNode)
            """, new
        {
            u.AgentId, u.Status, LastActivity = Ms(u.LastActivity), LastHeartbeat = Ms(u.LastHeartbeat),
            u.ReportedStatus, u.CurrentTasks, u.MetricsJson, u.Linked, u.LinkNode,
        }, tx) == 1, ct);
    }

    // A link recorded without a node predates per-node link state; whichever node starts first resets it.
    public Task<int> ResetLinksAsync(string nodeId, DateTimeOffset now, CancellationToken ct) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("""
            UPDATE agents SET linked = 0, link_node = NULL, status = 'offline', last_activity = @now
            WHERE linked = 1 AND (link_node = @nodeId OR link_node IS NULL)
            """, new { nodeId, now = Ms(now) }, tx), ct);

    public Task HeartbeatNodeAsync(string nodeId, DateTimeOffset now, CancellationToken ct) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("""
            INSERT INTO nodes (node_id, first_seen, last_seen) VALUES (@nodeId, @now, @now)
            ON CONFLICT (node_id) DO UPDATE SET last_seen = MAX(last_seen, excluded.last_seen)
            """, new { nodeId, now = Ms(now) }, tx), ct);

    public Task<IReadOnlyList<AgentRecord>> ExpireNodeLinksAsync(DateTimeOffset seenBefore, DateTimeOffset now, CancellationToken ct) => WriteAsync(async (c, tx) =>
    {
        var dead = (await c.QueryAsync<string>("SELECT node_id FROM nodes WHERE last_seen < @t", new { t = Ms(seenBefore) }, tx)).AsList();
        if (dead.Count == 0)
        {
            return (IReadOnlyList<AgentRecord>)[];
        }
        var before = (await c.QueryAsync<AgentRow>("SELECT * FROM agents WHERE linked = 1 AND link_node IN @dead ORDER BY agent_id", new { dead }, tx))
            .Select(r => r.ToRecord()).ToList();
        await c.ExecuteAsync("""
            UPDATE agents SET linked = 0, link_node = NULL, status = 'offline', last_activity = @now
            WHERE linked = 1 AND link_node IN @dead
            """, new { dead, now = Ms(now) }, tx);
        await c.ExecuteAsync("DELETE FROM nodes WHERE node_id IN @dead", new { dead }, tx);
        return (IReadOnlyList<AgentRecord>)before;
    }, ct);

    public async Task<IReadOnlyList<NodeRecord>> ListNodesAsync(CancellationToken ct)
    {
        await using var c = OpenRead();
        var rows = await c.QueryAsync<(string NodeId, long FirstSeen, long LastSeen)>(new CommandDefinition(
            "SELECT node_id, first_seen, last_seen FROM nodes ORDER BY first_seen, node_id", cancellationToken: ct));
        return rows.Select(r => new NodeRecord(r.NodeId, FromMs(r.FirstSeen), FromMs(r.LastSeen))).ToList();
    }

    public async Task<IReadOnlyList<AgentRecord>> ListStaleAgentsAsync(DateTimeOffset cutoff, CancellationToken ct)
    {
        await using var c = OpenRead();
        var rows = await c.QueryAsync<AgentRow>(new CommandDefinition(
            "SELECT * FROM agents WHERE status <> 'offline' AND linked = 0 AND (last_heartbeat IS NULL OR last_heartbeat < @cutoff)",
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
        await using var c = OpenRead();
        var row = await c.QuerySingleOrDefaultAsync<AgentSchemasRow>(new CommandDefinition(
            AgentSchemasRow.SelectOneSql, new { agentId }, cancellationToken: ct));
        return row?.ToRecord();
    }

    public async Task<IReadOnlyList<AgentSchemasRecord>> ListAgentSchemasAsync(string ownerId, CancellationToken ct)
    {
        await using var c = OpenRead();
        var rows = await c.QueryAsync<AgentSchemasRow>(new CommandDefinition(
            AgentSchemasRow.ListByOwnerSql,
            new { ownerId }, cancellationToken: ct));
        return rows.Select(r => r.ToRecord()).ToList();
    }

    // ---- commands ----

    public Task CreateCommandAsync(CommandRecord m, CancellationToken ct) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("""
            INSERT INTO commands (command_id, agent_id, owner_id, requested_by, command, parameters, priority, status, result, error,
                                  correlation_id, traceparent, deliveries, deadline, created_at, updated_at)
            VALUES (@CommandId, @AgentId, @OwnerId, @RequestedBy, @Command, @ParametersJson, @Priority, @Status, @ResultJson, @Error,
                    @CorrelationId, @TraceParent, @Deliveries, @Deadline, @CreatedAt, @UpdatedAt)
            """, new
        {
            m.CommandId, m.AgentId, m.OwnerId, m.RequestedBy, m.Command, m.ParametersJson, Priority = PriorityRank(m.Priority),
            m.Status, m.ResultJson, m.Error, m.CorrelationId, m.TraceParent, m.Deliveries,
            Deadline = Ms(m.Deadline), CreatedAt = Ms(m.CreatedAt), UpdatedAt = Ms(m.UpdatedAt),
        }, tx), ct);

    public Task<(CommandRecord Command, bool Created, bool Conflict)> CreateCommandOnceAsync(
        CommandRecord m, string idempotencyKey, string requestHash, CancellationToken ct) => WriteAsync(async (c, tx) =>
    {
        var existing = await c.QuerySingleOrDefaultAsync<(string CommandId, string? RequestHash)>(
            "SELECT command_id, request_hash FROM commands WHERE requested_by = @RequestedBy AND idempotency_key = @idempotencyKey",
            new { m.RequestedBy, idempotencyKey }, tx);
        if (existing.CommandId is not null)
        {
            var row = await c.QuerySingleAsync<CommandRow>("SELECT * FROM commands WHERE command_id = @CommandId", new { existing.CommandId }, tx);
            return (row.ToRecord(), false, existing.RequestHash != requestHash);
        }
        await c.ExecuteAsync("""
            INSERT INTO commands (command_id, agent_id, owner_id, requested_by, command, parameters, priority, status, result, error,
                                  correlation_id, traceparent, deliveries, deadline, created_at, updated_at, idempotency_key, request_hash)
            VALUES (@CommandId, @AgentId, @OwnerId, @RequestedBy, @Command, @ParametersJson, @Priority, @Status, @ResultJson, @Error,
                    @CorrelationId, @TraceParent, @Deliveries, @Deadline, @CreatedAt, @UpdatedAt, @idempotencyKey, @requestHash)
            """, new
        {
            m.CommandId, m.AgentId, m.OwnerId, m.RequestedBy, m.Command, m.ParametersJson, Priority = PriorityRank(m.Priority),
            m.Status, m.ResultJson, m.Error, m.CorrelationId, m.TraceParent, m.Deliveries,
            Deadline = Ms(m.Deadline), CreatedAt = Ms(m.CreatedAt), UpdatedAt = Ms(m.UpdatedAt), idempotencyKey, requestHash,
        }, tx);
        return (m, true, false);
    }, ct);

    public async Task<CommandRecord?> GetCommandAsync(string commandId, CancellationToken ct)
    {
        await using var c = OpenRead();
        var row = await c.QuerySingleOrDefaultAsync<CommandRow>(new CommandDefinition("SELECT * FROM commands WHERE command_id = @commandId", new { commandId }, cancellationToken: ct));
        return row?.ToRecord();
    }

    public async Task<IReadOnlyList<CommandRecord>> ListDeliverableCommandsAsync(string agentId, DateTimeOffset now, CancellationToken ct)
    {
        await using var c = OpenRead();
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

    internal SqliteConnection OpenRead()
    {
        var c = new SqliteConnection(_connectionString);
        c.Open();
        return c;
    }

    /// <summary>A pooled connection of this database for a capability's own small store (A2A, chat): its statements run in their
    /// own transactions, outside the group commit.</summary>
    internal async Task<System.Data.Common.DbConnection> OpenAsync(CancellationToken ct)
    {
        var c = new SqliteConnection(_connectionString);
        await c.OpenAsync(ct);
        return c;
    }

    /// <summary>Test seam: runs on every newly opened writer connection (a test sets <c>PRAGMA max_page_count</c> to fill the "disk").</summary>
    internal Action<SqliteConnection>? OnWriterOpened { get; set; }

    public bool WritesFailing => _writeFailure is not null;

    public string? LastWriteError => _writeFailure;

    public Task<bool> ProbeWriteAsync(CancellationToken ct) => WriteAsync(async (c, tx) =>
    {
        // Needs new pages (64 KiB), as a real insert does, and leaves nothing behind but free pages that later writes reuse.
        await c.ExecuteAsync("""
            CREATE TABLE IF NOT EXISTS storage_probe (b BLOB);
            INSERT INTO storage_probe (b) VALUES (zeroblob(65536));
            DELETE FROM storage_probe;
            """, transaction: tx);
        return true;
    }, ct);

    /// <summary>
    /// Runs <paramref name="work"/> on the single writer connection and completes after its transaction committed (group commit,
    /// issue 16): writes that arrive while the writer is busy queue up and are drained as one batch, one transaction and one fsync
    /// for all of them, each caller's task completed only after that commit (so a 2xx still follows durability). Within a batch
    /// each write sees the ones before it, exactly as if they ran one after another.
    /// </summary>
    /// <remarks>
    /// <para>When anything in a batch fails (a statement, the commit, a full disk), nothing of it is committed and every write of
    /// the batch runs again alone, in its own transaction, so only the failing write fails. Work must therefore touch nothing
    /// but the database (it may run twice, the first run rolled back); every caller here only reads and writes rows.</para>
    /// <para>Alone, a failing write is rolled back where SQLite has not already done so, and after a SQLite error the connection is
    /// closed and reopened on the next write: after SQLITE_FULL SQLite may have rolled back by itself, and the old connection would
    /// otherwise stay in a "transaction" it no longer has ("cannot rollback", then "nested transactions") until a restart. A full
    /// or failing disk becomes <see cref="StorageFullException"/>; nothing is committed partly.</para>
    /// <para>A canceled <paramref name="ct"/> cancels the write only while it still waits in the queue.</para>
    /// </remarks>
    internal Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, Task<T>> work, CancellationToken ct)
    {
        if (ct.IsCancellationRequested)
        {
            return Task.FromCanceled<T>(ct);
        }
        EnsureDrainer();
        var item = new PendingWrite<T>(work, ct);
        if (!_queue.Writer.TryWrite(item))
        {
            item.Fail(new ObjectDisposedException(nameof(SqliteHubStore)));
        }
        return item.Task;
    }

    /// <summary>Most writes one transaction takes: bounds how long the first caller of a batch waits behind the others.</summary>
    internal const int MaxBatch = 256;

    private void EnsureDrainer()
    {
        if (_drainer is not null)
        {
            return;
        }
        lock (_queue)
        {
            _drainer ??= Task.Run(DrainAsync);
        }
    }

    private async Task DrainAsync()
    {
        var reader = _queue.Reader;
        var batch = new List<PendingWrite>(MaxBatch);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < MaxBatch && reader.TryRead(out var item))
            {
                if (item.TryStart())
                {
                    batch.Add(item);
                }
            }
            try
            {
                if (batch.Count == 1)
                {
                    await RunAloneAsync(batch[0]).ConfigureAwait(false);
                }
                else if (batch.Count > 1)
                {
                    await RunBatchAsync(batch).ConfigureAwait(false);
                }
            }
#pragma warning disable CA1031 // The drainer must outlive any one batch: a caller gets the exception, the queue keeps going.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                foreach (var item in batch)
                {
                    item.Fail(ex);
                }
            }
        }
    }

    private async Task RunBatchAsync(List<PendingWrite> batch)
    {
        SqliteConnection writer;
        SqliteTransaction tx;
        try
        {
            writer = await OpenWriterAsync().ConfigureAwait(false);
            tx = writer.BeginTransaction();
        }
        catch (Exception ex)
        {
            foreach (var item in batch)
            {
                item.Fail(ex);
            }
            return;
        }
        try
        {
            foreach (var item in batch)
            {
                await item.RunAsync(writer, tx).ConfigureAwait(false);
            }
            tx.Commit();
            tx.Dispose();
        }
        catch (Exception ex)
        {
            // One write (or the commit) failed and the whole batch is rolled back: each write runs again alone, so the failure stays its own.
            DiscardTransaction(tx, ex is SqliteException);
            foreach (var item in batch)
            {
                await RunAloneAsync(item).ConfigureAwait(false);
            }
            return;
        }
        _writeFailure = null;
        foreach (var item in batch)
        {
            item.Succeed();
        }
    }

    private async Task RunAloneAsync(PendingWrite item)
    {
        SqliteConnection writer;
        SqliteTransaction tx;
        try
        {
            writer = await OpenWriterAsync().ConfigureAwait(false);
            tx = writer.BeginTransaction();
        }
        catch (Exception ex)
        {
            item.Fail(ex);
            return;
        }
        try
        {
            await item.RunAsync(writer, tx).ConfigureAwait(false);
            tx.Commit();
            tx.Dispose();
            _writeFailure = null;
        }
        catch (Exception ex)
        {
            DiscardTransaction(tx, ex is SqliteException);
            if (ex is SqliteException sqlite && StorageFullException.IsStorageFailure(sqlite))
            {
                _writeFailure = sqlite.Message;
                item.Fail(new StorageFullException($"The hub cannot write to its database: {sqlite.Message}", sqlite));
            }
            else
            {
                item.Fail(ex);
            }
            return;
        }
        item.Succeed();
    }

    private async Task<SqliteConnection> OpenWriterAsync()
    {
        if (_writer is { } open)
        {
            return open;
        }
        var writer = new SqliteConnection(_connectionString);
        try
        {
            await writer.OpenAsync().ConfigureAwait(false);
            // WAL: readers never block the writer. synchronous=FULL: a committed write survives power loss,
            // not only a process crash, which is what "201 means it is on disk" promises.
            await writer.ExecuteAsync("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;").ConfigureAwait(false);
            OnWriterOpened?.Invoke(writer);
        }
        catch
        {
            writer.Dispose();
            throw;
        }
        _writer = writer;
        return writer;
    }

    /// <summary>One queued write: started by the drainer or canceled by its caller, never both.</summary>
    private abstract class PendingWrite
    {
        private int _state; // 0 queued, 1 taken by the drainer, 2 canceled

        public bool TryStart() => Interlocked.CompareExchange(ref _state, 1, 0) == 0;

        protected bool TryCancel() => Interlocked.CompareExchange(ref _state, 2, 0) == 0;

        /// <summary>Runs the work in the open transaction and keeps its result until <see cref="Succeed"/>.</summary>
        public abstract Task RunAsync(SqliteConnection c, SqliteTransaction tx);

        /// <summary>The transaction committed: hands the caller its result.</summary>
        public abstract void Succeed();

        public abstract void Fail(Exception ex);
    }

    private sealed class PendingWrite<T> : PendingWrite
    {
        private readonly Func<SqliteConnection, SqliteTransaction, Task<T>> _work;
        private readonly TaskCompletionSource<T> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly CancellationTokenRegistration _canceled;
        private T? _result;

        public PendingWrite(Func<SqliteConnection, SqliteTransaction, Task<T>> work, CancellationToken ct)
        {
            _work = work;
            if (ct.CanBeCanceled)
            {
                _canceled = ct.Register(static (state, token) =>
                {
                    var self = (PendingWrite<T>)state!;
                    if (self.TryCancel())
                    {
                        self._done.TrySetCanceled(token);
                    }
                }, this);
            }
        }

        public Task<T> Task => _done.Task;

        public override async Task RunAsync(SqliteConnection c, SqliteTransaction tx) => _result = await _work(c, tx).ConfigureAwait(false);

        public override void Succeed()
        {
            _canceled.Dispose();
            _done.TrySetResult(_result!);
        }

        public override void Fail(Exception ex)
        {
            _canceled.Dispose();
            _done.TrySetException(ex);
        }
    }

    private void DiscardTransaction(SqliteTransaction tx, bool resetConnection)
    {
        try
        {
            tx.Rollback();
        }
        catch (Exception ex) when (ex is SqliteException or InvalidOperationException)
        {
            // SQLite rolled back already (SQLITE_FULL does): "cannot rollback - no transaction is active".
        }
        try
        {
            tx.Dispose();
        }
        catch (Exception ex) when (ex is SqliteException or InvalidOperationException)
        {
            // As above.
        }
        if (resetConnection)
        {
            CloseWriter();
        }
    }

    // Commands kept per statement text on the writer connection (issue 16): SQLite compiles each hot statement once instead of on
    // every call (Dapper makes a new command, and so a new prepare, each time). Used only inside write work, which the drainer runs
    // one at a time, so no lock.
    private readonly Dictionary<string, SqliteCommand> _prepared = new(StringComparer.Ordinal);
    private SqliteConnection? _preparedOn;

    /// <summary>The writer's kept command for <paramref name="sql"/>, in <paramref name="tx"/>, with <paramref name="args"/> bound (null as SQL NULL).</summary>
    internal SqliteCommand Prepared(SqliteConnection c, SqliteTransaction tx, string sql, params ReadOnlySpan<(string Name, object? Value)> args)
    {
        if (!ReferenceEquals(_preparedOn, c))
        {
            DisposePrepared();
            _preparedOn = c;
        }
        if (!_prepared.TryGetValue(sql, out var cmd))
        {
            cmd = c.CreateCommand();
            cmd.CommandText = sql;
            _prepared[sql] = cmd;
        }
        cmd.Transaction = tx;
        cmd.Parameters.Clear();
        foreach (var (name, value) in args)
        {
            cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }
        return cmd;
    }

    private void DisposePrepared()
    {
        foreach (var cmd in _prepared.Values)
        {
            try
            {
                cmd.Dispose();
            }
            catch (Exception ex) when (ex is SqliteException or InvalidOperationException)
            {
                // A statement of a connection SQLite gave up on.
            }
        }
        _prepared.Clear();
        _preparedOn = null;
    }

    private void CloseWriter()
    {
        DisposePrepared();
        var writer = _writer;
        _writer = null;
        try
        {
            writer?.Dispose();
        }
        catch (Exception ex) when (ex is SqliteException or InvalidOperationException)
        {
            // A connection SQLite already gave up on; closing it is all that is left.
        }
    }

    public void Dispose()
    {
        // Writes already queued still run (and commit); later ones fail with ObjectDisposedException.
        _queue.Writer.TryComplete();
        Task? drainer;
        lock (_queue)
        {
            drainer = _drainer;
        }
        drainer?.Wait(TimeSpan.FromSeconds(30));
        CloseWriter();
        SqliteConnection.ClearAllPools();
    }

    private static object AgentParams(AgentRecord a) => new
    {
        a.AgentId, a.OwnerId, a.Name, a.Type, a.Version,
        Capabilities = JsonSerializer.Serialize(a.Capabilities, KaiJson.Options),
        a.ConfigJson, a.HealthCheckUrl, a.SecretHash, a.Status, a.ReportedStatus, a.CurrentTasks, a.MetricsJson,
        LastHeartbeat = Ms(a.LastHeartbeat), LastActivity = Ms(a.LastActivity), CreatedAt = Ms(a.CreatedAt), UpdatedAt = Ms(a.UpdatedAt),
    };

    internal static int PriorityRank(string priority) => priority switch { "urgent" => 3, "high" => 2, "low" => 0, _ => 1 };

    internal static long Ms(DateTimeOffset t) => t.ToUnixTimeMilliseconds();
    internal static long? Ms(DateTimeOffset? t) => t?.ToUnixTimeMilliseconds();
    internal static DateTimeOffset FromMs(long t) => DateTimeOffset.FromUnixTimeMilliseconds(t);
    internal static DateTimeOffset? FromMs(long? t) => t is { } v ? DateTimeOffset.FromUnixTimeMilliseconds(v) : null;

    private sealed class UserRow
    {
        public string UserId { get; set; } = "";
        public string Email { get; set; } = "";
        public string PasswordHash { get; set; } = "";
        public string DisplayName { get; set; } = "";
        public string Role { get; set; } = "";
        public long Disabled { get; set; }
        public long CreatedAt { get; set; }
        public string? Username { get; set; }
        public UserRecord ToRecord() => new(UserId, Email, PasswordHash, DisplayName, Role, Disabled != 0, FromMs(CreatedAt), Username);
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
        public long Linked { get; set; }
        public string? LinkNode { get; set; }

        public AgentRecord ToRecord() => new(
            AgentId, OwnerId, Name, Type, Version,
            JsonSerializer.Deserialize<string[]>(Capabilities, KaiJson.Options) ?? [],
            Config, HealthCheckUrl, SecretHash, Status, ReportedStatus, (int)CurrentTasks, Metrics,
            FromMs(LastHeartbeat), FromMs(LastActivity), FromMs(CreatedAt), FromMs(UpdatedAt), Linked != 0, LinkNode);
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

        public CommandRecord ToRecord() => new(
            CommandId, AgentId, OwnerId, RequestedBy, Command, Parameters, CommandStatuses.Priorities[(int)Priority], Status, Result, Error,
            CorrelationId, Traceparent, (int)Deliveries, FromMs(Deadline), FromMs(CreatedAt), FromMs(UpdatedAt));
    }
}

/// <summary>A row of <c>agent_schemas</c> and its statements, shared by the SQLite and PostgreSQL stores (the same columns and SQL in both).</summary>
internal sealed class AgentSchemasRow
{
    public const string UpsertSql = """
        INSERT INTO agent_schemas (agent_id, owner_id, schemas, updated_at) VALUES (@agentId, @owner, @schemasJson, @now)
        ON CONFLICT (agent_id) DO UPDATE SET owner_id = excluded.owner_id, schemas = excluded.schemas, updated_at = excluded.updated_at
        """;

    public const string SelectOneSql = "SELECT agent_id, owner_id, schemas, updated_at FROM agent_schemas WHERE agent_id = @agentId";

    // Oldest change first: the catalog folds them in order, so the latest declaration of a name wins.
    public const string ListByOwnerSql = "SELECT agent_id, owner_id, schemas, updated_at FROM agent_schemas WHERE owner_id = @ownerId ORDER BY updated_at, agent_id";

    public string AgentId { get; set; } = "";
    public string OwnerId { get; set; } = "";
    public string Schemas { get; set; } = "";
    public long UpdatedAt { get; set; }

    public AgentSchemasRecord ToRecord() => new(AgentId, OwnerId, Schemas, DateTimeOffset.FromUnixTimeMilliseconds(UpdatedAt));
}
