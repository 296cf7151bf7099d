using Dapper;
using Microsoft.Data.Sqlite;

namespace Kai.Hub.Hosting;

/// <summary>A hosted agent's own row: whether it starts with the hub, and its inline API key (Data Protection ciphertext).</summary>
internal sealed record HostedAgentRow(string AgentId, bool AutoStart, string? ProtectedApiKey);

/// <summary>
/// Hosting's own storage (migration step <c>hosted_agents</c>), kept apart from <c>IHubStore</c> so it merges alone:
/// hosted-agent rows and the bounded chat history per agent and thread.
/// </summary>
internal interface IHostedAgentStore
{
    Task UpsertAsync(HostedAgentRow row, DateTimeOffset now, CancellationToken ct);

    Task<HostedAgentRow?> GetAsync(string agentId, CancellationToken ct);

    Task<IReadOnlyList<string>> ListAutoStartAsync(CancellationToken ct);

    /// <summary>Removes the row and the agent's whole history.</summary>
    Task DeleteAsync(string agentId, CancellationToken ct);

    /// <summary>The last <paramref name="limit"/> messages of a thread, oldest first.</summary>
    Task<IReadOnlyList<ChatTurn>> HistoryAsync(string agentId, string threadId, int limit, CancellationToken ct);

    /// <summary>Appends turns to a thread and drops all but its newest <paramref name="keep"/> messages, in one transaction.</summary>
    Task AppendAsync(string agentId, string threadId, IReadOnlyList<ChatTurn> turns, int keep, DateTimeOffset now, CancellationToken ct);
}

/// <inheritdoc />
internal sealed class SqliteHostedAgentStore(string databasePath) : IHostedAgentStore
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

    public async Task UpsertAsync(HostedAgentRow row, DateTimeOffset now, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        await c.ExecuteAsync(new CommandDefinition("""
            INSERT INTO hosted_agents (agent_id, auto_start, protected_api_key, updated_at) VALUES (@AgentId, @AutoStart, @ProtectedApiKey, @now)
            ON CONFLICT (agent_id) DO UPDATE SET auto_start = excluded.auto_start, protected_api_key = excluded.protected_api_key, updated_at = excluded.updated_at
            """, new { row.AgentId, row.AutoStart, row.ProtectedApiKey, now = now.ToUnixTimeMilliseconds() }, cancellationToken: ct));
    }

    public async Task<HostedAgentRow?> GetAsync(string agentId, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(
            "SELECT agent_id AS AgentId, auto_start AS AutoStart, protected_api_key AS ProtectedApiKey FROM hosted_agents WHERE agent_id = @agentId",
            new { agentId }, cancellationToken: ct));
        return row is null ? null : new HostedAgentRow(row.AgentId, row.AutoStart != 0, row.ProtectedApiKey);
    }

    public async Task<IReadOnlyList<string>> ListAutoStartAsync(CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        return [.. await c.QueryAsync<string>(new CommandDefinition(
            "SELECT h.agent_id FROM hosted_agents h JOIN agents a ON a.agent_id = h.agent_id WHERE h.auto_start = 1 ORDER BY h.agent_id", cancellationToken: ct))];
    }

    public async Task DeleteAsync(string agentId, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        await c.ExecuteAsync(new CommandDefinition("DELETE FROM hosted_chat_messages WHERE agent_id = @agentId", new { agentId }, tx, cancellationToken: ct));
        await c.ExecuteAsync(new CommandDefinition("DELETE FROM hosted_agents WHERE agent_id = @agentId", new { agentId }, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
    }

    public async Task<IReadOnlyList<ChatTurn>> HistoryAsync(string agentId, string threadId, int limit, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        var rows = await c.QueryAsync<(string Role, string Content)>(new CommandDefinition("""
            SELECT role, content FROM (
                SELECT message_id, role, content FROM hosted_chat_messages WHERE agent_id = @agentId AND thread_id = @threadId
                ORDER BY message_id DESC LIMIT @limit)
            ORDER BY message_id
            """, new { agentId, threadId, limit }, cancellationToken: ct));
        return [.. rows.Select(r => new ChatTurn(r.Role, r.Content))];
    }

    public async Task AppendAsync(string agentId, string threadId, IReadOnlyList<ChatTurn> turns, int keep, DateTimeOffset now, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        foreach (var t in turns)
        {
            await c.ExecuteAsync(new CommandDefinition("""
                INSERT INTO hosted_chat_messages (agent_id, thread_id, role, content, created_at) VALUES (@agentId, @threadId, @Role, @Content, @now)
                """, new { agentId, threadId, t.Role, t.Content, now = now.ToUnixTimeMilliseconds() }, tx, cancellationToken: ct));
        }
        await c.ExecuteAsync(new CommandDefinition("""
            DELETE FROM hosted_chat_messages WHERE agent_id = @agentId AND thread_id = @threadId AND message_id NOT IN (
                SELECT message_id FROM hosted_chat_messages WHERE agent_id = @agentId AND thread_id = @threadId ORDER BY message_id DESC LIMIT @keep)
            """, new { agentId, threadId, keep }, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
    }

    private sealed class Row
    {
        public string AgentId { get; set; } = "";
        public long AutoStart { get; set; }
        public string? ProtectedApiKey { get; set; }
    }
}

/// <summary>PostgreSQL implementation of <see cref="IHostedAgentStore"/> (tables of the PostgreSQL migration <c>hosted_agents_files</c>).</summary>
internal sealed class PostgresHostedAgentStore(Storage.Postgres.PostgresHubStore db) : IHostedAgentStore
{
    public Task UpsertAsync(HostedAgentRow row, DateTimeOffset now, CancellationToken ct) => db.WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("""
            INSERT INTO hosted_agents (agent_id, auto_start, protected_api_key, updated_at) VALUES (@AgentId, @AutoStart, @ProtectedApiKey, @now)
            ON CONFLICT (agent_id) DO UPDATE SET auto_start = excluded.auto_start, protected_api_key = excluded.protected_api_key, updated_at = excluded.updated_at
            """, new { row.AgentId, row.AutoStart, row.ProtectedApiKey, now = now.ToUnixTimeMilliseconds() }, tx), ct);

    public async Task<HostedAgentRow?> GetAsync(string agentId, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<PgRow>(new CommandDefinition(
            "SELECT agent_id AS AgentId, auto_start AS AutoStart, protected_api_key AS ProtectedApiKey FROM hosted_agents WHERE agent_id = @agentId",
            new { agentId }, cancellationToken: ct));
        return row is null ? null : new HostedAgentRow(row.AgentId, row.AutoStart, row.ProtectedApiKey);
    }

    public async Task<IReadOnlyList<string>> ListAutoStartAsync(CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return [.. await c.QueryAsync<string>(new CommandDefinition(
            "SELECT h.agent_id FROM hosted_agents h JOIN agents a ON a.agent_id = h.agent_id WHERE h.auto_start ORDER BY h.agent_id", cancellationToken: ct))];
    }

    public Task DeleteAsync(string agentId, CancellationToken ct) => db.WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("DELETE FROM hosted_chat_messages WHERE agent_id = @agentId", new { agentId }, tx)
        + await c.ExecuteAsync("DELETE FROM hosted_agents WHERE agent_id = @agentId", new { agentId }, tx), ct);

    public async Task<IReadOnlyList<ChatTurn>> HistoryAsync(string agentId, string threadId, int limit, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var rows = await c.QueryAsync<(string Role, string Content)>(new CommandDefinition("""
            SELECT role, content FROM (
                SELECT message_id, role, content FROM hosted_chat_messages WHERE agent_id = @agentId AND thread_id = @threadId
                ORDER BY message_id DESC LIMIT @limit) AS recent
            ORDER BY message_id
            """, new { agentId, threadId, limit }, cancellationToken: ct));
        return [.. rows.Select(r => new ChatTurn(r.Role, r.Content))];
    }

    public Task AppendAsync(string agentId, string threadId, IReadOnlyList<ChatTurn> turns, int keep, DateTimeOffset now, CancellationToken ct) => db.WriteAsync(async (c, tx) =>
    {
        foreach (var t in turns)
        {
            await c.ExecuteAsync("""
                INSERT INTO hosted_chat_messages (agent_id, thread_id, role, content, created_at) VALUES (@agentId, @threadId, @Role, @Content, @now)
                """, new { agentId, threadId, t.Role, t.Content, now = now.ToUnixTimeMilliseconds() }, tx);
        }
        return await c.ExecuteAsync("""
            DELETE FROM hosted_chat_messages WHERE agent_id = @agentId AND thread_id = @threadId AND message_id NOT IN (
                SELECT message_id FROM hosted_chat_messages WHERE agent_id = @agentId AND thread_id = @threadId ORDER BY message_id DESC LIMIT @keep)
            """, new { agentId, threadId, keep }, tx);
    }, ct);

    private sealed class PgRow
    {
        public string AgentId { get; set; } = "";
        public bool AutoStart { get; set; }
        public string? ProtectedApiKey { get; set; }
    }
}
