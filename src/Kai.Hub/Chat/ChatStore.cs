using System.Text.Json;
using Dapper;
using Kai.Protocol;
using Kai.Protocol.Chat;
using Microsoft.Data.Sqlite;

namespace Kai.Hub.Chat;

/// <summary>
/// The chat capability's own storage (migration step <c>chat_sessions</c>): sessions with their participants, and every message
/// said in them, in order.
/// </summary>
internal interface IChatStore
{
    Task CreateSessionAsync(ChatSessionRow session, CancellationToken ct);

    Task<ChatSessionRow?> GetSessionAsync(string sessionId, CancellationToken ct);

    /// <summary>Marks an active session ended; false when it was not active (already ended, or unknown).</summary>
    Task<bool> EndSessionAsync(string sessionId, string reason, DateTimeOffset at, CancellationToken ct);

    Task AppendMessageAsync(ChatMessageRow message, CancellationToken ct);

    /// <summary>Up to <paramref name="limit"/> messages after sequence number <paramref name="afterSeq"/>, oldest first.</summary>
    Task<IReadOnlyList<ChatMessageRow>> ListMessagesAsync(string sessionId, long afterSeq, int limit, CancellationToken ct);

    /// <summary>The newest <paramref name="limit"/> messages, oldest first.</summary>
    Task<IReadOnlyList<ChatMessageRow>> LastMessagesAsync(string sessionId, int limit, CancellationToken ct);

    /// <summary>Messages sent by <paramref name="sender"/> in any session.</summary>
    Task<int> CountBySenderAsync(string sender, CancellationToken ct);

    /// <summary>How many messages <paramref name="sender"/> said in one session, and when it last did (null: never).</summary>
    Task<(int Count, DateTimeOffset? Last)> SenderStatsAsync(string sessionId, string sender, CancellationToken ct);

    /// <summary>
    /// Up to <paramref name="limit"/> sessions, newest first: of the tenant <paramref name="ownerId"/> (null: every tenant's), only
    /// active ones when <paramref name="activeOnly"/>.
    /// </summary>
    Task<IReadOnlyList<ChatSessionRow>> ListSessionsAsync(string? ownerId, bool activeOnly, int limit, CancellationToken ct);
}

/// <inheritdoc />
/// <remarks>One SQL text for both stores: SQLite (<see cref="Sqlite"/>) and PostgreSQL (<see cref="Postgres"/>, migration step 7).</remarks>
internal sealed class SqlChatStore(Func<CancellationToken, Task<System.Data.Common.DbConnection>> open) : IChatStore
{
    public static SqlChatStore Sqlite(Storage.SqliteHubStore db) => new(db.OpenAsync);

    public static SqlChatStore Postgres(Storage.Postgres.PostgresHubStore db) => new(async ct => await db.OpenAsync(ct));

    private Task<System.Data.Common.DbConnection> OpenAsync(CancellationToken ct) => open(ct);

    public async Task CreateSessionAsync(ChatSessionRow s, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        await c.ExecuteAsync(new CommandDefinition("""
            INSERT INTO chat_sessions (session_id, owner_id, session_type, status, agents_json, metadata_json, created_at)
            VALUES (@SessionId, @OwnerId, @SessionType, @Status, @agents, @MetadataJson, @created)
            """, new { s.SessionId, s.OwnerId, s.SessionType, s.Status, agents = JsonSerializer.Serialize(s.Agents, KaiJson.Options), s.MetadataJson,
                created = s.CreatedAt.ToUnixTimeMilliseconds() }, cancellationToken: ct));
    }

    private const string SessionColumns = """
        session_id AS SessionId, owner_id AS OwnerId, session_type AS SessionType, status AS Status, agents_json AS AgentsJson,
        metadata_json AS MetadataJson, created_at AS CreatedAt, ended_at AS EndedAt, end_reason AS EndReason
        """;

    public async Task<ChatSessionRow?> GetSessionAsync(string sessionId, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        var r = await c.QuerySingleOrDefaultAsync<SessionRow>(new CommandDefinition(
            $"SELECT {SessionColumns} FROM chat_sessions WHERE session_id = @sessionId", new { sessionId }, cancellationToken: ct));
        return r is null ? null : ToRecord(r);
    }

    public async Task<IReadOnlyList<ChatSessionRow>> ListSessionsAsync(string? ownerId, bool activeOnly, int limit, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        // ix_chat_sessions_owner (owner_id, created_at) serves the tenant's list.
        var where = string.Join(" AND ", new[] { ownerId is null ? null : "owner_id = @ownerId", activeOnly ? "status = 'active'" : null }.OfType<string>());
        var rows = await c.QueryAsync<SessionRow>(new CommandDefinition($"""
            SELECT {SessionColumns} FROM chat_sessions {(where.Length > 0 ? "WHERE " + where : "")}
            ORDER BY created_at DESC, session_id DESC LIMIT @limit
            """, new { ownerId, limit }, cancellationToken: ct));
        return [.. rows.Select(ToRecord)];
    }

    private static ChatSessionRow ToRecord(SessionRow r) =>
        new(r.SessionId, r.OwnerId, r.SessionType, r.Status, JsonSerializer.Deserialize<Dictionary<string, ChatSessionAgent>>(r.AgentsJson, KaiJson.Options)!, r.MetadataJson,
            DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt), r.EndedAt is { } e ? DateTimeOffset.FromUnixTimeMilliseconds(e) : null, r.EndReason);

    public async Task<bool> EndSessionAsync(string sessionId, string reason, DateTimeOffset at, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        return await c.ExecuteAsync(new CommandDefinition("""
            UPDATE chat_sessions SET status = 'ended', ended_at = @at, end_reason = @reason WHERE session_id = @sessionId AND status = 'active'
            """, new { sessionId, reason, at = at.ToUnixTimeMilliseconds() }, cancellationToken: ct)) == 1;
    }

    public async Task AppendMessageAsync(ChatMessageRow m, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        await c.ExecuteAsync(new CommandDefinition("""
            INSERT INTO chat_messages (message_id, session_id, type, sender, receiver, content, metadata_json, created_at)
            VALUES (@MessageId, @SessionId, @Type, @Sender, @Receiver, @Content, @MetadataJson, @created)
            """, new { m.MessageId, m.SessionId, m.Type, m.Sender, m.Receiver, m.Content, m.MetadataJson, created = m.CreatedAt.ToUnixTimeMilliseconds() },
            cancellationToken: ct));
    }

    private const string MessageColumns = """
        seq AS Seq, message_id AS MessageId, session_id AS SessionId, type AS Type, sender AS Sender, receiver AS Receiver, content AS Content,
        metadata_json AS MetadataJson, created_at AS CreatedAt
        """;

    public async Task<IReadOnlyList<ChatMessageRow>> ListMessagesAsync(string sessionId, long afterSeq, int limit, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        var rows = await c.QueryAsync<MessageRow>(new CommandDefinition(
            $"SELECT {MessageColumns} FROM chat_messages WHERE session_id = @sessionId AND seq > @afterSeq ORDER BY seq LIMIT @limit",
            new { sessionId, afterSeq, limit }, cancellationToken: ct));
        return [.. rows.Select(ToRecord)];
    }

    public async Task<IReadOnlyList<ChatMessageRow>> LastMessagesAsync(string sessionId, int limit, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        var rows = await c.QueryAsync<MessageRow>(new CommandDefinition(
            $"SELECT * FROM (SELECT {MessageColumns} FROM chat_messages WHERE session_id = @sessionId ORDER BY seq DESC LIMIT @limit) AS recent ORDER BY Seq",
            new { sessionId, limit }, cancellationToken: ct));
        return [.. rows.Select(ToRecord)];
    }

    public async Task<int> CountBySenderAsync(string sender, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        return (int)await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM chat_messages WHERE sender = @sender", new { sender }, cancellationToken: ct));
    }

    public async Task<(int Count, DateTimeOffset? Last)> SenderStatsAsync(string sessionId, string sender, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        var r = await c.QuerySingleAsync<StatsRow>(new CommandDefinition(
            "SELECT COUNT(*) AS Count, MAX(created_at) AS Last FROM chat_messages WHERE session_id = @sessionId AND sender = @sender",
            new { sessionId, sender }, cancellationToken: ct));
        return ((int)r.Count, r.Last is { } last ? DateTimeOffset.FromUnixTimeMilliseconds(last) : null);
    }

    private static ChatMessageRow ToRecord(MessageRow r) =>
        new(r.Seq, r.MessageId, r.SessionId, r.Type, r.Sender, r.Receiver, r.Content, r.MetadataJson, DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt));

    private sealed class SessionRow
    {
        public string SessionId { get; set; } = "";
        public string OwnerId { get; set; } = "";
        public string SessionType { get; set; } = "";
        public string Status { get; set; } = "";
        public string AgentsJson { get; set; } = "";
        public string? MetadataJson { get; set; }
        public long CreatedAt { get; set; }
        public long? EndedAt { get; set; }
        public string? EndReason { get; set; }
    }

    private sealed class StatsRow
    {
        public long Count { get; set; }
        public long? Last { get; set; }
    }

    private sealed class MessageRow
    {
        public long Seq { get; set; }
        public string MessageId { get; set; } = "";
        public string SessionId { get; set; } = "";
        public string Type { get; set; } = "";
        public string Sender { get; set; } = "";
        public string Receiver { get; set; } = "";
        public string Content { get; set; } = "";
        public string? MetadataJson { get; set; }
        public long CreatedAt { get; set; }
    }
}
