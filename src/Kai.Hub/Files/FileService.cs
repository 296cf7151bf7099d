using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Kai.Hub.Agents;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Routing;
using Kai.Hub.Storage;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Kai.Hub.Files;

/// <summary>Who the new file belongs to and what it is.</summary>
internal sealed record FileTarget(KaiPrincipal Uploader, string OwnerId, string? AgentId, string? TaskId);

/// <summary>
/// The files capability: storing (staging, quota, commit), access checks, listing, deletion, serving, signed URLs and telling the
/// assigned agent. Every write of content goes staging (local, fsynced) → blob store (atomic) → metadata row (with the quota check);
/// a file is visible only when its row exists, and a row exists only when its blob is complete.
/// </summary>
internal sealed partial class FileService : IAgentDataOwner, IFileReferences
{
    private readonly ILogger<FileService> _logger;
    private readonly IFileStore _store;
    private readonly IBlobStore _blobs;
    private readonly FilesOptions _options;
    private readonly TimeProvider _time;
    private readonly Router _router;
    private readonly byte[] _urlKey;
    private readonly SemaphoreSlim[] _contentLocks = [.. Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1))];
    private readonly ConcurrentDictionary<string, int> _inFlight = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _staging = new(StringComparer.Ordinal);
    private readonly IServiceProvider _services;
    private Dictionary<string, IWorkHolder>? _holders;

    public FileService(IFileStore store, IBlobStore blobs, IOptions<FilesOptions> options, IOptions<HubOptions> hub, TimeProvider time, Router router, IServiceProvider services,
        ILogger<FileService> logger)
    {
        _logger = logger;
        _services = services;
        _store = store;
        _blobs = blobs;
        _options = options.Value;
        _time = time;
        _router = router;
        var root = Path.Combine(Path.GetFullPath(hub.Value.DataDirectory), "files");
        StagingDirectory = Path.Combine(root, "tmp");
        ChunkDirectory = Path.Combine(root, "partial");
        Directory.CreateDirectory(StagingDirectory);
        Directory.CreateDirectory(ChunkDirectory);
        _urlKey = LoadOrCreateKey(Path.Combine(root, "url-signing.key"));
    }

    public FilesOptions Options => _options;

    public DateTimeOffset Now => _time.GetUtcNow();

    public IFileStore Store => _store;

    public IBlobStore Blobs => _blobs;

    public string StagingDirectory { get; }

    public string ChunkDirectory { get; }

    private static byte[] LoadOrCreateKey(string path)
    {
        if (File.Exists(path))
        {
            return File.ReadAllBytes(path);
        }
        var key = RandomNumberGenerator.GetBytes(32);
        var tmp = path + ".tmp";
        using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        {
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(tmp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
            f.Write(key);
            f.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: false);
        return File.ReadAllBytes(path);
    }

    // ---- staging and commit ----

    /// <summary>A new staging file; disposing it deletes what was not committed.</summary>
    public BlobStaging Stage()
    {
        var staging = new BlobStaging(StagingDirectory, p => _staging.TryRemove(p, out _));
        _staging[staging.Path] = 0;
        return staging;
    }

    /// <summary>Whether a staging file belongs to an upload in progress (the sweeper leaves those alone).</summary>
    public bool IsStaging(string path) => _staging.ContainsKey(path);

    /// <summary>Whether a blob is being committed right now (its row may not exist yet).</summary>
    public bool IsInFlight(string sha256) => _inFlight.ContainsKey(sha256);

    /// <summary>Bytes the owner may still add: the smaller of the file-size limit and what is left of the quota.</summary>
    public async Task<(long Limit, bool ByQuota)> UploadAllowanceAsync(string ownerId, CancellationToken ct)
    {
        var left = Math.Max(0, _options.StorageLimitBytes - await _store.StorageUsedAsync(ownerId, ct));
        return left < _options.MaxFileBytes ? (left, true) : (_options.MaxFileBytes, false);
    }

    public static ApiException TooLarge(long limit, bool byQuota) => byQuota
        ? new ApiException(ErrorCodes.QuotaExceeded, $"The upload would exceed the storage quota; {limit} bytes are left.", new Dictionary<string, long> { ["bytes_left"] = limit })
        : new ApiException(ErrorCodes.PayloadTooLarge, $"The file is larger than the limit of {limit} bytes.", new Dictionary<string, long> { ["max_file_bytes"] = limit });

    internal SemaphoreSlim ContentLock(string sha256) => _contentLocks[Convert.ToInt32(sha256[..2], 16) % _contentLocks.Length];

    /// <summary>
    /// Verifies the staged content (not empty, media type matches), commits the blob and inserts the row under the quota. On any
    /// failure nothing is visible, and a blob no row references is removed again.
    /// </summary>
    public async Task<FileRecord> CommitAsync(StagedBlob staged, FileTarget target, string filename, string mimeType, DateTimeOffset? expiresAt, CancellationToken ct)
    {
        if (staged.Size == 0)
        {
            throw new ApiException(ErrorCodes.ValidationError, "The file is empty.", new Dictionary<string, string[]> { ["file"] = ["must not be empty"] });
        }
        FileRules.CheckContentMatches(mimeType, staged.Head);
        var record = new FileRecord(FileRules.NewFileId(), target.OwnerId, target.Uploader.Id, target.AgentId, target.TaskId, filename, mimeType,
            staged.Size, staged.Sha256, _time.GetUtcNow(), expiresAt);
        var gate = ContentLock(staged.Sha256);
        _inFlight.AddOrUpdate(staged.Sha256, 1, (_, n) => n + 1);
        try
        {
            await _blobs.CommitAsync(staged, ct);
            await gate.WaitAsync(ct);
            try
            {
                if (!await _store.TryInsertFileAsync(record, _options.StorageLimitBytes, CancellationToken.None))
                {
                    if (!await _store.IsContentReferencedAsync(staged.Sha256, CancellationToken.None) && _inFlight[staged.Sha256] == 1)
                    {
                        await _blobs.DeleteAsync(staged.Sha256, CancellationToken.None);
                    }
                    var used = await _store.StorageUsedAsync(target.OwnerId, CancellationToken.None);
                    throw TooLarge(Math.Max(0, _options.StorageLimitBytes - used), byQuota: true);
                }
            }
            finally
            {
                gate.Release();
            }
        }
        finally
        {
            _inFlight.AddOrUpdate(staged.Sha256, 0, (_, n) => n - 1);
            _inFlight.TryRemove(new KeyValuePair<string, int>(staged.Sha256, 0));
        }
        await AnnounceAsync(record, target.Uploader);
        return record;
    }

    /// <summary>Tells the assigned agent (a <c>file_assigned</c> frame on its live link, if it is connected) and the bus (<c>file.uploaded</c>).</summary>
    private async Task AnnounceAsync(FileRecord file, KaiPrincipal uploader)
    {
        var view = View(file);
        if (file.AgentId is { } agentId)
        {
            var frame = Frame.Encode(FrameTypes.FileAssigned, new FileAssignedPayload(view, uploader.Id), timestamp: _time.GetUtcNow());
            await _router.RouteAsync(new Envelope(FrameTypes.FileAssigned, Address.Agent(agentId), frame, uploader), CancellationToken.None);
        }
        await _router.PublishAsync(new SystemEvent("file.uploaded", file.AgentId, view, file.OwnerId, TargetAgent: file.AgentId), KaiPrincipal.System);
    }

    // ---- reading ----

    public static FileInfoResponse View(FileRecord f) =>
        new(f.FileId, f.Filename, f.Size, f.MimeType, $"/api/v1/files/{f.FileId}/download", f.ExpiresAt, f.Sha256, "ready", f.AgentId, f.TaskId, f.CreatedAt);

    /// <summary>
    /// Admins read every file; a user the files of its own tenant (<c>file.download.own</c>); an agent the files assigned to it
    /// (<c>file.read.assigned</c>). Anything else, and an expired file, is 404 like a missing one.
    /// </summary>
    public static bool CanRead(KaiPrincipal p, FileRecord f) => Access.MayReadFile(p, f.OwnerId, f.AgentId);

    public async Task<FileRecord> GetReadableAsync(KaiPrincipal principal, string fileId, CancellationToken ct)
    {
        var file = await GetLiveAsync(fileId, ct);
        if (file is null || !await MayReadAsync(principal, file, ct))
        {
            throw ApiException.NotFound($"File '{Truncate(fileId)}'");
        }
        return file;
    }

    /// <summary>
    /// <see cref="CanRead"/>, and for an agent the work it holds now: a task, command or invocation whose input references the file,
    /// or the task the file is an artifact of (issue 13 item 7). The policy is <see cref="Access.MayReadFile"/>.
    /// </summary>
    public async Task<bool> MayReadAsync(KaiPrincipal principal, FileRecord file, CancellationToken ct)
    {
        if (CanRead(principal, file) || !principal.IsAgent)
        {
            return CanRead(principal, file);
        }
        var work = new List<(string Kind, string Id)>();
        if (file.TaskId is { } artifactOf)
        {
            work.Add((WorkKinds.Task, artifactOf));
        }
        work.AddRange(await _store.ReferencesOfFileAsync(file.FileId, MaxReferencesChecked, ct));
        var held = new List<string>();
        foreach (var (kind, id) in work)
        {
            if (Holders().TryGetValue(kind, out var holder) && await holder.HeldTenantAsync(id, principal.Id, ct) is { } tenant)
            {
                held.Add(tenant);
                break;
            }
        }
        return Access.MayReadFile(principal, file.OwnerId, file.AgentId, held);
    }

    /// <summary>How many of a file's newest references are checked for a holder (a file in more work than this is read through the newest).</summary>
    internal const int MaxReferencesChecked = 200;

    /// <summary>At most this many files may one piece of work reference.</summary>
    internal const int MaxReferencesPerWork = 100;

    // Resolved on first use: the holders are the task, command and invocation services, which themselves use this service.
    private Dictionary<string, IWorkHolder> Holders() =>
        _holders ??= _services.GetServices<IWorkHolder>().ToDictionary(h => h.Kind, StringComparer.Ordinal);

    // ---- references from work (tasks, commands, invocations) ----

    /// <inheritdoc />
    public async Task<IReadOnlyList<string>> ReferenceAsync(KaiPrincipal sender, string kind, string workId, string workTenant, string field, string? json, CancellationToken ct)
    {
        var ids = FileRules.References(json, field, MaxReferencesPerWork);
        if (ids.Count == 0)
        {
            return ids;
        }
        foreach (var id in ids)
        {
            var file = await GetLiveAsync(id, ct);
            if (file is null || !Access.IsTenant(file.OwnerId, workTenant) || !await MayReadAsync(sender, file, ct))
            {
                throw new ApiException(ErrorCodes.ValidationError,
                    $"{field} references file '{Truncate(id)}', which does not exist, has expired, or is not a file this caller may read in the target's tenant.",
                    new Dictionary<string, string[]> { [field] = [$"unknown file '{Truncate(id)}'"] });
            }
        }
        await _store.AddReferencesAsync(ids, kind, workId, _time.GetUtcNow(), ct);
        return ids;
    }

    /// <inheritdoc />
    public async Task ReleaseAsync(IReadOnlyList<string> fileIds, string kind, string workId)
    {
        if (fileIds.Count == 0)
        {
            return;
        }
        try
        {
            await _store.RemoveReferencesAsync(fileIds, kind, workId, CancellationToken.None);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.ReleaseFailed(_logger, e, kind, workId);
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<FileInfoResponse>> ArtifactsAsync(string taskId, CancellationToken ct)
    {
        var list = new List<FileInfoResponse>();
        foreach (var id in await _store.FileIdsOfTaskAsync(taskId, ct))
        {
            if (await GetLiveAsync(id, ct) is { } f)
            {
                list.Add(View(f));
            }
        }
        return list;
    }

    /// <summary>
    /// Whether <paramref name="principal"/> may upload an artifact of task <paramref name="taskId"/> (<see cref="Access.MayAddArtifact"/>),
    /// and the task's tenant; 404 for a task it may not see.
    /// </summary>
    public async Task<string> ArtifactTenantAsync(KaiPrincipal principal, string taskId, CancellationToken ct)
    {
        var tasks = Holders().GetValueOrDefault(WorkKinds.Task);
        var tenant = tasks is null || taskId.Length > 64 ? null : await tasks.TenantAsync(taskId, ct);
        var held = tenant is not null && principal.IsAgent && await tasks!.HeldTenantAsync(taskId, principal.Id, ct) is not null;
        if (tenant is null || !Access.MayAddArtifact(principal, tenant, held))
        {
            throw ApiException.NotFound($"Task '{Truncate(taskId)}'");
        }
        return tenant;
    }

    /// <summary>The file if it exists and has not expired.</summary>
    public async Task<FileRecord?> GetLiveAsync(string fileId, CancellationToken ct)
    {
        if (!FileRules.IsFileId(fileId))
        {
            return null;
        }
        var file = await _store.GetFileAsync(fileId, ct);
        return file is null || file.ExpiresAt <= _time.GetUtcNow() ? null : file;
    }

    private static string Truncate(string s) => s.Length <= 64 ? s : s[..64];

    public async Task<FileListResponse> ListAsync(KaiPrincipal principal, string? type, string? agentId, int? limit, int? offset, CancellationToken ct)
    {
        new Validation()
            .Check(limit is null or (>= 1 and <= 1000), "limit", "must be 1 to 1000")
            .Check(offset is null or >= 0, "offset", "must be 0 or more")
            .Check(type is null or { Length: >= 1 and <= 255 }, "type", "must be 1 to 255 characters (a media type or its prefix, e.g. image/)")
            .Check(agentId is null or { Length: >= 1 and <= 64 }, "agent_id", "must be 1 to 64 characters")
            .ThrowIfInvalid();
        var query = principal switch
        {
            { IsAdmin: true } => new FileQuery(null, agentId, type, limit ?? 50, offset ?? 0),
            { IsAgent: true } => new FileQuery(principal.OwnerId, principal.Id, type, limit ?? 50, offset ?? 0),
            _ => new FileQuery(principal.Id, agentId, type, limit ?? 50, offset ?? 0),
        };
        if (principal.IsAgent && agentId is not null && agentId != principal.Id)
        {
            return new FileListResponse([], 0, 0, _options.StorageLimitBytes);
        }
        var (items, total) = await _store.ListFilesAsync(query, ct);
        var now = _time.GetUtcNow();
        return new FileListResponse([.. items.Where(f => f.ExpiresAt is null || f.ExpiresAt > now).Select(View)], total,
            await _store.StorageUsedAsync(principal.OwnerId, ct), _options.StorageLimitBytes);
    }

    // ---- deleting ----

    /// <summary>Deletes a file the principal owns (or any, for an admin); 404 otherwise.</summary>
    public async Task<FileDeleteResponse> DeleteAsync(KaiPrincipal principal, string fileId, CancellationToken ct)
    {
        var file = await _store.GetFileAsync(FileRules.IsFileId(fileId) ? fileId : "-", ct);
        if (file is null || !Access.MayDeleteFile(principal, file.OwnerId))
        {
            throw ApiException.NotFound($"File '{Truncate(fileId)}'");
        }
        var freed = await DeleteCoreAsync(fileId, CancellationToken.None);
        return new FileDeleteResponse(true, freed);
    }

    /// <summary>Deletes the row, then the blob when no other row uses the same content. Returns the bytes freed (0 if it was gone).</summary>
    public async Task<long> DeleteCoreAsync(string fileId, CancellationToken ct)
    {
        var file = await _store.GetFileAsync(fileId, ct);
        if (file is null)
        {
            return 0;
        }
        var gate = ContentLock(file.Sha256);
        await gate.WaitAsync(ct);
        try
        {
            var (deleted, stillUsed) = await _store.DeleteFileAsync(fileId, ct);
            if (deleted is null)
            {
                return 0;
            }
            if (!stillUsed && !IsInFlight(deleted.Sha256))
            {
                await _blobs.DeleteAsync(deleted.Sha256, ct);
            }
            return deleted.Size;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Agent deletion hook: the agent's files go with it unless <paramref name="preserveData"/>.</summary>
    public async Task AgentDeletedAsync(string agentId, bool preserveData, CancellationToken ct)
    {
        if (preserveData)
        {
            return;
        }
        foreach (var id in await _store.FileIdsOfAgentAsync(agentId, ct))
        {
            await DeleteCoreAsync(id, ct);
        }
    }

    // ---- serving ----

    /// <summary>
    /// Serves the content: Range (206/416), <c>ETag</c> (the sha256) with <c>If-None-Match</c>/<c>If-Range</c>, <c>Last-Modified</c>,
    /// RFC 6266 <c>Content-Disposition</c> with <c>filename*</c>, <c>nosniff</c>, and a sandboxing CSP. Active content is never inline.
    /// </summary>
    public async Task<IResult> ServeAsync(HttpContext http, FileRecord file, bool inline, CancellationToken ct)
    {
        Stream stream;
        try
        {
            stream = await _blobs.OpenReadAsync(file.Sha256, file.Size, ct);
        }
        catch (BlobMissingException)
        {
            throw ApiException.NotFound($"File '{file.FileId}'");
        }
        var disposition = new ContentDispositionHeaderValue(inline && !FileRules.IsActive(file.MimeType) ? "inline" : "attachment");
        disposition.SetHttpFileName(file.Filename);
        var headers = http.Response.Headers;
        headers.ContentDisposition = disposition.ToString();
        headers.XContentTypeOptions = "nosniff";
        // Content-Security-Policy (default-src 'none') and Cache-Control (no-store) come from the security headers middleware.
        return Results.Stream(stream, file.MimeType, fileDownloadName: null, lastModified: file.CreatedAt,
            entityTag: new EntityTagHeaderValue($"\"{file.Sha256}\""), enableRangeProcessing: true);
    }

    // ---- signed URLs ----

    public SignedUrlResponse SignUrl(FileRecord file, TimeSpan? lifetime)
    {
        var expires = _time.GetUtcNow() + (lifetime ?? _options.SignedUrlLifetime);
        var unix = expires.ToUnixTimeSeconds();
        return new SignedUrlResponse($"/api/v1/files/{file.FileId}/content?expires={unix}&sig={Signature(file.FileId, unix)}", DateTimeOffset.FromUnixTimeSeconds(unix));
    }

    private string Signature(string fileId, long expiresUnix) =>
        Base64Url(HMACSHA256.HashData(_urlKey, Encoding.UTF8.GetBytes($"kai-file-url\n{fileId}\n{expiresUnix}")));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>Whether <paramref name="sig"/> is this hub's signature of the file and expiry, and the expiry has not passed.</summary>
    public bool VerifySignedUrl(string fileId, long? expires, string? sig)
    {
        if (expires is not { } unix || sig is null || sig.Length > 64 || unix < _time.GetUtcNow().ToUnixTimeSeconds())
        {
            return false;
        }
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Signature(fileId, unix)), Encoding.ASCII.GetBytes(sig));
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Could not forget the file references of {Kind} {WorkId}; they stay until the files are deleted")]
        public static partial void ReleaseFailed(ILogger logger, Exception e, string kind, string workId);
    }
}
