using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Storage;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;

namespace Kai.Hub.Files;

/// <summary>
/// The WebSocket <c>upload</c> frame (seed 000 <c>fileUpload</c>): base64 chunks tied by <c>upload_id</c>, each stored (fsynced) on local
/// disk and recorded, then acked. Chunks may come in any order; a resent chunk with the same bytes is acked again, with other bytes
/// refused. When the last missing chunk arrives the file is assembled in index order, verified (size limit, quota, <c>sha256</c> if
/// given, media type) and committed like a multipart upload; only then is it visible. Abandoned uploads are swept after
/// <see cref="FilesOptions.AbandonedUploadAfter"/> without a new chunk.
/// </summary>
internal sealed partial class ChunkedUploads(FileService files, IAgentStore hub, TimeProvider time)
{
    private readonly SemaphoreSlim[] _locks = [.. Enumerable.Range(0, 32).Select(_ => new SemaphoreSlim(1, 1))];

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex UploadIdPattern();

    [GeneratedRegex("^[0-9a-fA-F]{64}$")]
    private static partial Regex Sha256Pattern();

    /// <summary>Handles one chunk sent on the link of <paramref name="agentId"/>; the finished file is assigned to that agent.</summary>
    /// <returns>The ack payload.</returns>
    public async Task<UploadAck> HandleAsync(KaiPrincipal principal, string agentId, UploadChunkPayload p, CancellationToken ct)
    {
        new Validation().Check(!string.IsNullOrEmpty(p.Content), "content", "must be base64 of 1 byte or more").ThrowIfInvalid();
        var bytes = new byte[p.Content.Length / 4 * 3 + 3];
        if (!Convert.TryFromBase64String(p.Content, bytes, out var length) || length == 0)
        {
            throw new ApiException(ErrorCodes.ValidationError, "The content is not valid base64 of 1 byte or more.", new Dictionary<string, string[]> { ["content"] = ["must be base64"] });
        }
        return await HandleChunkAsync(principal, agentId, p, bytes.AsMemory(0, length), ct);
    }

    /// <summary>
    /// Handles one chunk of raw bytes (the <c>upload</c> frame after base64, or <c>PUT /api/v1/files/uploads/{id}/chunks/{index}</c>);
    /// <see cref="UploadChunkPayload.Content"/> is not read. The finished file is assigned to <paramref name="agentId"/>, or to nobody (a
    /// file of the principal's tenant) when null.
    /// </summary>
    public async Task<UploadAck> HandleChunkAsync(KaiPrincipal principal, string? agentId, UploadChunkPayload p, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        var options = files.Options;
        var index = p.ChunkIndex ?? 0;
        var total = p.TotalChunks ?? 1;
        new Validation()
            .Check(p.UploadId is not null && UploadIdPattern().IsMatch(p.UploadId), "upload_id", "must be 1 to 64 letters, digits, - or _")
            .Check(total >= 1 && total <= options.MaxChunks, "total_chunks", $"must be 1 to {options.MaxChunks}")
            .Check(index >= 0 && index < total, "chunk_index", "must be 0 to total_chunks - 1")
            .Check(p.Sha256 is null || Sha256Pattern().IsMatch(p.Sha256), "sha256", "must be 64 hex digits")
            .Check(data.Length > 0, "content", "must be 1 byte or more")
            .ThrowIfInvalid();
        var filename = FileRules.Filename(p.Filename);
        var mime = FileRules.MimeType(p.MimeType);
        var length = data.Length;
        var (ownerId, assignee) = agentId is null ? (principal.OwnerId, (string?)null)
            : await hub.GetAgentAsync(agentId, ct) is { } agent ? (agent.OwnerId, agent.AgentId) : throw ApiException.AgentNotFound(agentId);
        var key = principal.Id + "\n" + p.UploadId;
        var gate = _locks[(int)((uint)StringComparer.Ordinal.GetHashCode(key) % _locks.Length)];
        await gate.WaitAsync(ct);
        try
        {
            var now = time.GetUtcNow();
            var upload = await files.Store.GetOrCreateUploadAsync(new UploadRecord(key, p.UploadId!, ownerId, principal.Id, assignee, filename, mime, total,
                p.Sha256?.ToLowerInvariant(), now, now), ct);
            if (upload.AgentId != assignee || upload.Filename != filename || upload.MimeType != mime || upload.TotalChunks != total
                || (p.Sha256 is not null && upload.Sha256 != p.Sha256.ToLowerInvariant()))
            {
                throw new ApiException(ErrorCodes.ValidationError,
                    "This upload_id is in use with another agent, filename, mime_type, total_chunks or sha256; every chunk must repeat them.",
                    new Dictionary<string, string[]> { ["upload_id"] = ["conflicts with the upload in progress"] });
            }
            var chunks = await files.Store.ChunksAsync(key, ct);
            var chunkSha = Convert.ToHexStringLower(SHA256.HashData(data.Span));
            if (chunks.FirstOrDefault(c => c.ChunkIndex == index) is { } existing)
            {
                if (existing.Sha256 != chunkSha)
                {
                    throw new ApiException(ErrorCodes.ValidationError, $"Chunk {index} was already received with different content.",
                        new Dictionary<string, string[]> { ["chunk_index"] = ["already received with other bytes"] });
                }
                return Ack(upload, index, chunks, null);
            }
            var (allowance, byQuota) = await files.UploadAllowanceAsync(ownerId, ct);
            if (chunks.Sum(c => c.Size) + length > allowance)
            {
                await DropAsync(key, CancellationToken.None);
                throw FileService.TooLarge(allowance, byQuota);
            }
            var dir = DirectoryOf(key);
            Directory.CreateDirectory(dir);
            await WriteDurablyAsync(Path.Combine(dir, index.ToString(System.Globalization.CultureInfo.InvariantCulture)), data, ct);
            await files.Store.TryAddChunkAsync(key, new UploadChunkRecord(index, length, chunkSha), now, ct);
            chunks = await files.Store.ChunksAsync(key, ct);
            if (chunks.Count < total)
            {
                return Ack(upload, index, chunks, null);
            }
            try
            {
                var record = await AssembleAsync(principal, upload, dir, ct);
                return Ack(upload, index, chunks, FileService.View(record));
            }
            finally
            {
                // Complete or failed verification: either way the upload is over and its chunks go.
                await DropAsync(key, CancellationToken.None);
            }
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Which chunks of upload <paramref name="uploadId"/> (of this principal) the hub holds, so an interrupted upload resumes from the
    /// first missing one; null when there is no such upload in progress (never started, completed, failed verification, or swept).
    /// </summary>
    public async Task<UploadStatusResponse?> StatusAsync(KaiPrincipal principal, string uploadId, CancellationToken ct)
    {
        if (!UploadIdPattern().IsMatch(uploadId))
        {
            return null;
        }
        var key = principal.Id + "\n" + uploadId;
        var upload = await files.Store.GetUploadAsync(key, ct);
        if (upload is null)
        {
            return null;
        }
        var have = (await files.Store.ChunksAsync(key, ct)).Select(c => c.ChunkIndex).ToHashSet();
        var missing = Enumerable.Range(0, upload.TotalChunks).Where(i => !have.Contains(i)).ToList();
        return new UploadStatusResponse(upload.UploadId, upload.Filename, upload.MimeType, upload.TotalChunks, have.Count, missing.Count > 0 ? missing[0] : null, missing,
            upload.Sha256, upload.AgentId, upload.UpdatedAt + files.Options.AbandonedUploadAfter);
    }

    private async Task<FileRecord> AssembleAsync(KaiPrincipal principal, UploadRecord upload, string dir, CancellationToken ct)
    {
        using var staging = files.Stage();
        for (var i = 0; i < upload.TotalChunks; i++)
        {
            var chunk = await File.ReadAllBytesAsync(Path.Combine(dir, i.ToString(System.Globalization.CultureInfo.InvariantCulture)), ct);
            await staging.WriteAsync(chunk, ct);
        }
        var staged = await staging.FinishAsync(ct);
        if (staged.Size > files.Options.MaxFileBytes)
        {
            throw FileService.TooLarge(files.Options.MaxFileBytes, byQuota: false);
        }
        if (upload.Sha256 is not null && upload.Sha256 != staged.Sha256)
        {
            throw new ApiException(ErrorCodes.ChecksumMismatch, "The assembled file does not match the sha256 given; nothing was stored. Upload it again.",
                new Dictionary<string, string> { ["expected"] = upload.Sha256, ["actual"] = staged.Sha256 });
        }
        return await files.CommitAsync(staged, new FileTarget(principal, upload.OwnerId, upload.AgentId, null), upload.Filename, upload.MimeType, null, ct);
    }

    private static UploadAck Ack(UploadRecord upload, int index, IReadOnlyList<UploadChunkRecord> chunks, Kai.Protocol.Rest.FileInfoResponse? file)
    {
        var have = chunks.Select(c => c.ChunkIndex).ToHashSet();
        int? next = file is not null ? null : Enumerable.Range(0, upload.TotalChunks).Cast<int?>().FirstOrDefault(i => !have.Contains(i!.Value));
        return new UploadAck(upload.UploadId, index, chunks.Count, upload.TotalChunks, next, file is not null, file);
    }

    private static async Task WriteDurablyAsync(string path, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        var tmp = path + ".tmp";
        await using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 4096, System.IO.FileOptions.Asynchronous))
        {
            await f.WriteAsync(data, ct);
            await f.FlushAsync(ct);
            f.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }

    private string DirectoryOf(string key) =>
        Path.Combine(files.ChunkDirectory, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..32]);

    /// <summary>Forgets an upload: its rows, then its chunk files.</summary>
    public async Task DropAsync(string key, CancellationToken ct)
    {
        await files.Store.DeleteUploadAsync(key, ct);
        try
        {
            Directory.Delete(DirectoryOf(key), recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    /// <summary>Sweeps uploads without a new chunk for <see cref="FilesOptions.AbandonedUploadAfter"/>; returns how many.</summary>
    public async Task<int> SweepAbandonedAsync(CancellationToken ct)
    {
        var stale = await files.Store.StaleUploadKeysAsync(time.GetUtcNow() - files.Options.AbandonedUploadAfter, ct);
        foreach (var key in stale)
        {
            var gate = _locks[(int)((uint)StringComparer.Ordinal.GetHashCode(key) % _locks.Length)];
            await gate.WaitAsync(ct);
            try
            {
                await DropAsync(key, ct);
            }
            finally
            {
                gate.Release();
            }
        }
        return stale.Count;
    }
}
