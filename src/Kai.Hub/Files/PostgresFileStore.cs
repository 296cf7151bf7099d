using Dapper;
using Kai.Hub.Storage.Postgres;
using static Kai.Hub.Storage.SqliteHubStore;

namespace Kai.Hub.Files;

/// <summary>
/// PostgreSQL implementation of <see cref="IFileStore"/> (tables of the PostgreSQL migration <c>hosted_agents_files</c>), on the hub
/// store's connection pool. The quota check and the insert hold a transaction-scoped advisory lock per owner, so two nodes storing
/// files of one owner at once cannot both pass the quota (SQLite gets the same from its single writer).
/// </summary>
internal sealed class PostgresFileStore(PostgresHubStore db) : IFileStore
{
    private const string Columns = "file_id, owner_id, uploaded_by, agent_id, task_id, filename, mime_type, size, sha256, created_at, expires_at";

    public Task<bool> TryInsertFileAsync(FileRecord f, long storageLimit, CancellationToken ct) => db.WriteAsync(async (c, tx) =>
    {
        await c.ExecuteAsync("SELECT pg_advisory_xact_lock(hashtext('kai.files.quota'), hashtext(@OwnerId))", new { f.OwnerId }, tx);
        var used = await c.ExecuteScalarAsync<long>("SELECT COALESCE(SUM(size), 0)::bigint FROM files WHERE owner_id = @OwnerId", new { f.OwnerId }, tx);
        if (used + f.Size > storageLimit)
        {
            return false;
        }
        await c.ExecuteAsync($"""
            INSERT INTO files ({Columns})
            VALUES (@FileId, @OwnerId, @UploadedBy, @AgentId, @TaskId, @Filename, @MimeType, @Size, @Sha256, @CreatedAt, @ExpiresAt)
            """, new { f.FileId, f.OwnerId, f.UploadedBy, f.AgentId, f.TaskId, f.Filename, f.MimeType, f.Size, f.Sha256, CreatedAt = Ms(f.CreatedAt), ExpiresAt = Ms(f.ExpiresAt) }, tx);
        return true;
    }, ct);

    public async Task<FileRecord?> GetFileAsync(string fileId, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<FileRow>(new CommandDefinition($"SELECT {Columns} FROM files WHERE file_id = @fileId", new { fileId }, cancellationToken: ct));
        return row?.ToRecord();
    }

    public async Task<(IReadOnlyList<FileRecord> Items, int Total)> ListFilesAsync(FileQuery q, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var args = new { q.OwnerId, q.AgentId, Mime = q.MimePrefix is null ? null : q.MimePrefix.Replace("%", "").Replace("_", "") + "%", q.Limit, q.Offset };
        const string Where = "(@OwnerId::text IS NULL OR owner_id = @OwnerId) AND (@AgentId::text IS NULL OR agent_id = @AgentId) AND (@Mime::text IS NULL OR mime_type ILIKE @Mime)";
        var rows = await c.QueryAsync<FileRow>(new CommandDefinition(
            $"SELECT {Columns} FROM files WHERE {Where} ORDER BY created_at DESC, file_id DESC LIMIT @Limit OFFSET @Offset", args, cancellationToken: ct));
        var total = await c.ExecuteScalarAsync<int>(new CommandDefinition($"SELECT COUNT(*)::int FROM files WHERE {Where}", args, cancellationToken: ct));
        return (rows.Select(r => r.ToRecord()).ToList(), total);
    }

    public async Task<long> StorageUsedAsync(string ownerId, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COALESCE(SUM(size), 0)::bigint FROM files WHERE owner_id = @ownerId", new { ownerId }, cancellationToken: ct));
    }

    public Task<(FileRecord? Deleted, bool ContentStillUsed)> DeleteFileAsync(string fileId, CancellationToken ct) => db.WriteAsync(async (c, tx) =>
    {
        var row = await c.QuerySingleOrDefaultAsync<FileRow>($"DELETE FROM files WHERE file_id = @fileId RETURNING {Columns}", new { fileId }, tx);
        if (row is null)
        {
            return ((FileRecord?)null, false);
        }
        await c.ExecuteAsync("DELETE FROM file_refs WHERE file_id = @fileId", new { fileId }, tx);
        var others = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM files WHERE sha256 = @Sha256", new { row.Sha256 }, tx);
        return (row.ToRecord(), others > 0);
    }, ct);

    public async Task<IReadOnlyList<string>> FileIdsOfAgentAsync(string agentId, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return [.. await c.QueryAsync<string>(new CommandDefinition("SELECT file_id FROM files WHERE agent_id = @agentId", new { agentId }, cancellationToken: ct))];
    }

    public async Task<IReadOnlyList<string>> FileIdsOfTaskAsync(string taskId, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return [.. await c.QueryAsync<string>(new CommandDefinition("SELECT file_id FROM files WHERE task_id = @taskId ORDER BY created_at", new { taskId }, cancellationToken: ct))];
    }

    public async Task<IReadOnlyList<string>> ExpiredFileIdsAsync(DateTimeOffset now, int max, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return [.. await c.QueryAsync<string>(new CommandDefinition(
            "SELECT file_id FROM files WHERE expires_at IS NOT NULL AND expires_at <= @now ORDER BY expires_at LIMIT @max", new { now = Ms(now), max }, cancellationToken: ct))];
    }

    public async Task<bool> IsContentReferencedAsync(string sha256, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM files WHERE sha256 = @sha256", new { sha256 }, cancellationToken: ct)) > 0;
    }

    public Task<UploadRecord> GetOrCreateUploadAsync(UploadRecord u, CancellationToken ct) => db.WriteAsync(async (c, tx) =>
    {
        await c.ExecuteAsync("""
            INSERT INTO file_uploads (upload_key, upload_id, owner_id, uploaded_by, agent_id, filename, mime_type, total_chunks, sha256, created_at, updated_at)
            VALUES (@UploadKey, @UploadId, @OwnerId, @UploadedBy, @AgentId, @Filename, @MimeType, @TotalChunks, @Sha256, @CreatedAt, @UpdatedAt)
            ON CONFLICT (upload_key) DO NOTHING
            """, new { u.UploadKey, u.UploadId, u.OwnerId, u.UploadedBy, u.AgentId, u.Filename, u.MimeType, TotalChunks = (long)u.TotalChunks, u.Sha256, CreatedAt = Ms(u.CreatedAt), UpdatedAt = Ms(u.UpdatedAt) }, tx);
        var row = await c.QuerySingleAsync<UploadRow>("SELECT * FROM file_uploads WHERE upload_key = @UploadKey", new { u.UploadKey }, tx);
        return row.ToRecord();
    }, ct);

    public async Task<UploadRecord?> GetUploadAsync(string uploadKey, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<UploadRow>(new CommandDefinition("SELECT * FROM file_uploads WHERE upload_key = @uploadKey", new { uploadKey }, cancellationToken: ct));
        return row?.ToRecord();
    }

    public async Task<IReadOnlyList<UploadChunkRecord>> ChunksAsync(string uploadKey, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var rows = await c.QueryAsync<(long ChunkIndex, long Size, string Sha256)>(new CommandDefinition(
            "SELECT chunk_index, size, sha256 FROM file_upload_chunks WHERE upload_key = @uploadKey ORDER BY chunk_index", new { uploadKey }, cancellationToken: ct));
        return [.. rows.Select(r => new UploadChunkRecord((int)r.ChunkIndex, r.Size, r.Sha256))];
    }

    public Task<bool> TryAddChunkAsync(string uploadKey, UploadChunkRecord chunk, DateTimeOffset now, CancellationToken ct) => db.WriteAsync(async (c, tx) =>
    {
        var added = await c.ExecuteAsync("""
            INSERT INTO file_upload_chunks (upload_key, chunk_index, size, sha256) VALUES (@uploadKey, @ChunkIndex, @Size, @Sha256)
            ON CONFLICT DO NOTHING
            """, new { uploadKey, ChunkIndex = (long)chunk.ChunkIndex, chunk.Size, chunk.Sha256 }, tx) == 1;
        await c.ExecuteAsync("UPDATE file_uploads SET updated_at = @now WHERE upload_key = @uploadKey", new { uploadKey, now = Ms(now) }, tx);
        return added;
    }, ct);

    public Task DeleteUploadAsync(string uploadKey, CancellationToken ct) => db.WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("DELETE FROM file_upload_chunks WHERE upload_key = @uploadKey", new { uploadKey }, tx)
        + await c.ExecuteAsync("DELETE FROM file_uploads WHERE upload_key = @uploadKey", new { uploadKey }, tx), ct);

    public async Task<IReadOnlyList<string>> StaleUploadKeysAsync(DateTimeOffset updatedBefore, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return [.. await c.QueryAsync<string>(new CommandDefinition("SELECT upload_key FROM file_uploads WHERE updated_at < @t", new { t = Ms(updatedBefore) }, cancellationToken: ct))];
    }

    public Task AddReferencesAsync(IReadOnlyList<string> fileIds, string workKind, string workId, DateTimeOffset now, CancellationToken ct) => db.WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("""
            INSERT INTO file_refs (file_id, work_kind, work_id, created_at) VALUES (@fileId, @workKind, @workId, @now)
            ON CONFLICT DO NOTHING
            """, fileIds.Select(fileId => new { fileId, workKind, workId, now = Ms(now) }), tx), ct);

    public Task RemoveReferencesAsync(IReadOnlyList<string> fileIds, string workKind, string workId, CancellationToken ct) => db.WriteAsync(async (c, tx) =>
        await c.ExecuteAsync("DELETE FROM file_refs WHERE file_id = @fileId AND work_kind = @workKind AND work_id = @workId",
            fileIds.Select(fileId => new { fileId, workKind, workId }), tx), ct);

    public async Task<IReadOnlyList<(string WorkKind, string WorkId)>> ReferencesOfFileAsync(string fileId, int max, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return [.. await c.QueryAsync<(string, string)>(new CommandDefinition(
            "SELECT work_kind, work_id FROM file_refs WHERE file_id = @fileId ORDER BY created_at DESC, work_id DESC LIMIT @max", new { fileId, max }, cancellationToken: ct))];
    }

    private sealed class FileRow
    {
        public string FileId { get; set; } = "";
        public string OwnerId { get; set; } = "";
        public string UploadedBy { get; set; } = "";
        public string? AgentId { get; set; }
        public string? TaskId { get; set; }
        public string Filename { get; set; } = "";
        public string MimeType { get; set; } = "";
        public long Size { get; set; }
        public string Sha256 { get; set; } = "";
        public long CreatedAt { get; set; }
        public long? ExpiresAt { get; set; }

        public FileRecord ToRecord() => new(FileId, OwnerId, UploadedBy, AgentId, TaskId, Filename, MimeType, Size, Sha256, FromMs(CreatedAt), FromMs(ExpiresAt));
    }

    private sealed class UploadRow
    {
        public string UploadKey { get; set; } = "";
        public string UploadId { get; set; } = "";
        public string OwnerId { get; set; } = "";
        public string UploadedBy { get; set; } = "";
        public string? AgentId { get; set; }
        public string Filename { get; set; } = "";
        public string MimeType { get; set; } = "";
        public long TotalChunks { get; set; }
        public string? Sha256 { get; set; }
        public long CreatedAt { get; set; }
        public long UpdatedAt { get; set; }

        public UploadRecord ToRecord() => new(UploadKey, UploadId, OwnerId, UploadedBy, AgentId, Filename, MimeType, (int)TotalChunks, Sha256, FromMs(CreatedAt), FromMs(UpdatedAt));
    }
}
