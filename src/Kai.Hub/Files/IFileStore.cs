namespace Kai.Hub.Files;

/// <summary>A stored file's metadata; the bytes are in the <see cref="IBlobStore"/> under <see cref="Sha256"/>.</summary>
internal sealed record FileRecord(
    string FileId, string OwnerId, string UploadedBy, string? AgentId, string? TaskId, string Filename, string MimeType,
    long Size, string Sha256, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt);

/// <summary>A chunked upload in progress (WebSocket <c>upload</c> frames). <see cref="UploadKey"/> is the owner and the client's upload id.</summary>
internal sealed record UploadRecord(
    string UploadKey, string UploadId, string OwnerId, string UploadedBy, string? AgentId, string Filename, string MimeType,
    int TotalChunks, string? Sha256, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>One received chunk of an upload.</summary>
internal sealed record UploadChunkRecord(int ChunkIndex, long Size, string Sha256);

/// <summary>Filter of <c>GET /api/v1/files</c>.</summary>
internal sealed record FileQuery(string? OwnerId, string? AgentId, string? MimePrefix, int Limit, int Offset);

/// <summary>File metadata storage (the files capability's own store; SQLite in <see cref="SqliteFileStore"/>).</summary>
internal interface IFileStore
{
    /// <summary>Inserts the file unless the owner's usage plus its size would pass <paramref name="storageLimit"/>; false then (nothing stored).</summary>
    Task<bool> TryInsertFileAsync(FileRecord file, long storageLimit, CancellationToken ct);

    Task<FileRecord?> GetFileAsync(string fileId, CancellationToken ct);

    Task<(IReadOnlyList<FileRecord> Items, int Total)> ListFilesAsync(FileQuery query, CancellationToken ct);

    Task<long> StorageUsedAsync(string ownerId, CancellationToken ct);

    /// <summary>Deletes the row; returns it, and whether another row still references the same content.</summary>
    Task<(FileRecord? Deleted, bool ContentStillUsed)> DeleteFileAsync(string fileId, CancellationToken ct);

    Task<IReadOnlyList<string>> FileIdsOfAgentAsync(string agentId, CancellationToken ct);

    Task<IReadOnlyList<string>> FileIdsOfTaskAsync(string taskId, CancellationToken ct);

    Task<IReadOnlyList<string>> ExpiredFileIdsAsync(DateTimeOffset now, int max, CancellationToken ct);

    Task<bool> IsContentReferencedAsync(string sha256, CancellationToken ct);

    /// <summary>Creates the upload, or returns the existing one with the same key.</summary>
    Task<UploadRecord> GetOrCreateUploadAsync(UploadRecord upload, CancellationToken ct);

    /// <summary>The upload in progress with this key, or null.</summary>
    Task<UploadRecord?> GetUploadAsync(string uploadKey, CancellationToken ct);

    Task<IReadOnlyList<UploadChunkRecord>> ChunksAsync(string uploadKey, CancellationToken ct);

    /// <summary>Records a chunk (its bytes are already on disk); false when that index was already recorded.</summary>
    Task<bool> TryAddChunkAsync(string uploadKey, UploadChunkRecord chunk, DateTimeOffset now, CancellationToken ct);

    Task DeleteUploadAsync(string uploadKey, CancellationToken ct);

    Task<IReadOnlyList<string>> StaleUploadKeysAsync(DateTimeOffset updatedBefore, CancellationToken ct);

    /// <summary>Records that work <paramref name="workKind"/>/<paramref name="workId"/> references the files (repeats are ignored).</summary>
    Task AddReferencesAsync(IReadOnlyList<string> fileIds, string workKind, string workId, DateTimeOffset now, CancellationToken ct);

    /// <summary>Forgets the references of work that ended and is never held again (in-memory work: RPC calls, invocations).</summary>
    Task RemoveReferencesAsync(IReadOnlyList<string> fileIds, string workKind, string workId, CancellationToken ct);

    /// <summary>The work that references a file, newest first, at most <paramref name="max"/>.</summary>
    Task<IReadOnlyList<(string WorkKind, string WorkId)>> ReferencesOfFileAsync(string fileId, int max, CancellationToken ct);
}
