using System.Buffers;
using System.Globalization;
using Kai.Hub.Agents;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Security;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace Kai.Hub.Files;

internal static class FilesApi
{
    /// <summary>Policy of the read routes: <c>file.download.own</c> (users) or <c>file.read.assigned</c> (agents); <see cref="FileService.CanRead"/> decides per file.</summary>
    public const string ReadPolicy = "files.read";

    /// <summary>What the inventory shows for the read routes.</summary>
    public const string ReadPermission = Permissions.FileDownloadOwn + "|" + Permissions.FileReadAssigned;

    /// <summary>Policy of the artifact upload: <c>file.upload</c> (users) or <c>task.execute</c> (agents); <see cref="Access.MayAddArtifact"/> decides per task.</summary>
    public const string ArtifactPolicy = "files.artifact";

    /// <summary>What the inventory shows for the artifact upload.</summary>
    public const string ArtifactPermission = Permissions.FileUpload + "|" + Permissions.TaskExecute;

    /// <summary>Multipart framing allowed on top of the largest file (boundaries, part headers, form fields).</summary>
    public const long MultipartOverhead = 64 * 1024;

    private static readonly string[] Fields = ["expires_in", "expires_at", "mime_type"];

    public static IEndpointRouteBuilder MapFilesApi(this IEndpointRouteBuilder app)
    {
        var options = app.ServiceProvider.GetRequiredService<FileService>().Options;
        var bodyLimit = options.MaxFileBytes + MultipartOverhead;
        var api = app.MapGroup("/api/v1/files").WithTags("Files");
        api.MapPost("/upload", UploadAsync).WithName("uploadFile").WithSummary("Upload a file (multipart/form-data, streamed)").WithErrors(413).RequirePermission(Permissions.FileUpload).WithBodyLimit(bodyLimit).DisableAntiforgery();
        api.MapGet("/", ListAsync).WithName("listFiles").WithSummary("List files with storage used and the quota").RequireAuthorization(ReadPolicy).WithMetadata(new RequiredPermission(ReadPermission));
        api.MapGet("/{fileId}", GetAsync).WithName("getFile").WithSummary("Get a file's metadata").RequireAuthorization(ReadPolicy).WithMetadata(new RequiredPermission(ReadPermission));
        api.MapGet("/{fileId}/download", DownloadAsync).WithName("downloadFile").WithSummary("Download a file (Range, ETag, Last-Modified)").RequireAuthorization(ReadPolicy).WithMetadata(new RequiredPermission(ReadPermission));
        api.MapPost("/{fileId}/signed-url", SignedUrlAsync).WithName("createSignedFileUrl").WithSummary("Create a short-lived signed download URL").RequireAuthorization(ReadPolicy).WithMetadata(new RequiredPermission(ReadPermission));
        api.MapGet("/{fileId}/content", SignedContentAsync).WithName("downloadSignedFile").WithSummary("Download through a signed URL, without a bearer token").AllowAnonymous("signed download URL: the HMAC signature and expiry in the query are the credential");
        api.MapDelete("/{fileId}", DeleteAsync).WithName("deleteFile").WithSummary("Delete a file and free its space").RequirePermission(Permissions.FileUpload);
        app.MapPost("/api/v1/agents/{agentId}/upload", AgentUploadAsync).WithTags("Files").WithName("uploadFileForAgent").WithSummary("Upload a file assigned to an agent (it is told on its live link)").WithErrors(413).RequirePermission(Permissions.FileUpload)
            .WithBodyLimit(bodyLimit).DisableAntiforgery();
        api.MapPut("/uploads/{uploadId}/chunks/{chunkIndex:int}", PutChunkAsync).WithName("putFileUploadChunk")
            .WithSummary("Send one chunk of a resumable upload (raw bytes); the last missing chunk assembles, verifies and stores the file").WithErrors(413)
            .RequirePermission(Permissions.FileUpload).WithBodyLimit(options.MaxChunkBytes).DisableAntiforgery();
        api.MapGet("/uploads/{uploadId}", UploadStatusAsync).WithName("getFileUploadStatus")
            .WithSummary("Which chunks of a resumable upload the hub holds (resume from next_missing)").RequirePermission(Permissions.FileUpload);
        app.MapPost("/api/v1/tasks/{taskId}/artifacts", ArtifactUploadAsync).WithTags("Files").WithName("uploadTaskArtifact")
            .WithSummary("Upload a file as an artifact of a task (the agent working it, or the task's owner); GET /api/v1/tasks/{id} lists them").WithErrors(413)
            .RequireAuthorization(ArtifactPolicy).WithMetadata(new RequiredPermission(ArtifactPermission)).WithBodyLimit(bodyLimit).DisableAntiforgery();
        return app;
    }

    private static async Task<IResult> UploadAsync(HttpContext http, FileService files, CancellationToken ct)
    {
        var p = http.Principal();
        var file = await ReceiveAsync(http, files, new FileTarget(p, p.OwnerId, null, null), ct);
        return TypedResults.Created(file.Url, file);
    }

    private static async Task<IResult> AgentUploadAsync(string agentId, HttpContext http, FileService files, AgentAccess access, CancellationToken ct)
    {
        var p = http.Principal();
        var agent = await access.GetAsync(p, agentId, ct);
        var file = await ReceiveAsync(http, files, new FileTarget(p, agent.OwnerId, agent.AgentId, null), ct);
        return TypedResults.Created(file.Url, file);
    }

    private static async Task<IResult> ArtifactUploadAsync(string taskId, HttpContext http, FileService files, CancellationToken ct)
    {
        var p = http.Principal();
        var tenant = await files.ArtifactTenantAsync(p, taskId, ct);
        var file = await ReceiveAsync(http, files, new FileTarget(p, tenant, null, taskId), ct);
        return TypedResults.Created(file.Url, file);
    }

    /// <summary>
    /// One chunk of a resumable upload, the REST twin of the <c>upload</c> frame (same store, same ids per principal): the body is the
    /// chunk's raw bytes; <c>total_chunks</c>, <c>filename</c>, <c>mime_type</c>, <c>sha256</c> and <c>agent_id</c> come in the query and must
    /// be the same on every chunk. Answers the chunk's ack (with the file once complete).
    /// </summary>
    private static async Task<IResult> PutChunkAsync(string uploadId, int chunkIndex, [FromQuery(Name = "total_chunks")] int? totalChunks, string? filename,
        [FromQuery(Name = "mime_type")] string? mimeType, string? sha256, [FromQuery(Name = "agent_id")] string? agentId,
        HttpContext http, ChunkedUploads uploads, FileService files, AgentAccess access, CancellationToken ct)
    {
        var p = http.Principal();
        new Validation().Check(totalChunks is not null, "total_chunks", "is required").ThrowIfInvalid();
        if (agentId is not null)
        {
            agentId = (await access.GetAsync(p, agentId, ct)).AgentId;
        }
        var limit = files.Options.MaxChunkBytes;
        if (http.Request.ContentLength > limit)
        {
            throw new ApiException(ErrorCodes.PayloadTooLarge, $"A chunk may be at most {limit} bytes.", new Dictionary<string, long> { ["max_chunk_bytes"] = limit });
        }
        using var body = new MemoryStream(http.Request.ContentLength is { } n ? (int)n : 64 * 1024);
        await http.Request.Body.CopyToAsync(body, ct);
        var ack = await uploads.HandleChunkAsync(p, agentId, new UploadChunkPayload(uploadId, filename!, "", mimeType, chunkIndex, totalChunks, sha256),
            body.GetBuffer().AsMemory(0, (int)body.Length), ct);
        return ack.Complete ? TypedResults.Created(ack.File!.Url, ack) : TypedResults.Ok(ack);
    }

    private static async Task<IResult> UploadStatusAsync(string uploadId, HttpContext http, ChunkedUploads uploads, CancellationToken ct) =>
        await uploads.StatusAsync(http.Principal(), uploadId, ct) is { } status ? TypedResults.Ok(status) : throw ApiException.NotFound($"Upload '{(uploadId.Length > 64 ? uploadId[..64] : uploadId)}'");

    private static async Task<IResult> ListAsync(HttpContext http, FileService files, string? type, [FromQuery(Name = "agent_id")] string? agentId, int? limit, int? offset, CancellationToken ct) =>
        TypedResults.Ok(await files.ListAsync(http.Principal(), type, agentId, limit, offset, ct));

    private static async Task<IResult> GetAsync(string fileId, HttpContext http, FileService files, CancellationToken ct) =>
        TypedResults.Ok(FileService.View(await files.GetReadableAsync(http.Principal(), fileId, ct)));

    private static async Task<IResult> DownloadAsync(string fileId, bool? inline, HttpContext http, FileService files, CancellationToken ct)
    {
        var file = await files.GetReadableAsync(http.Principal(), fileId, ct);
        return await files.ServeAsync(http, file, inline == true, ct);
    }

    private static async Task<IResult> SignedUrlAsync(string fileId, [FromQuery(Name = "expires_in")] int? expiresIn, HttpContext http, FileService files, CancellationToken ct)
    {
        new Validation().Check(expiresIn is null or (>= 10 and <= 86400), "expires_in", "must be 10 to 86400 seconds").ThrowIfInvalid();
        var file = await files.GetReadableAsync(http.Principal(), fileId, ct);
        return TypedResults.Ok(files.SignUrl(file, expiresIn is { } s ? TimeSpan.FromSeconds(s) : null));
    }

    private static async Task<IResult> SignedContentAsync(string fileId, long? expires, string? sig, bool? inline, HttpContext http, FileService files, CancellationToken ct)
    {
        if (!files.VerifySignedUrl(fileId, expires, sig))
        {
            throw new ApiException(ErrorCodes.AuthenticationFailed, "The signed URL is invalid or has expired; ask for a new one.");
        }
        var file = await files.GetLiveAsync(fileId, ct) ?? throw ApiException.NotFound($"File '{fileId}'");
        return await files.ServeAsync(http, file, inline == true, ct);
    }

    private static async Task<IResult> DeleteAsync(string fileId, HttpContext http, FileService files, CancellationToken ct) =>
        TypedResults.Ok(await files.DeleteAsync(http.Principal(), fileId, ct));

    /// <summary>
    /// Streams one multipart/form-data body: at most one file part (any field name, with a <c>filename</c>), and the optional fields
    /// <c>expires_in</c> (seconds), <c>expires_at</c> (ISO 8601) and <c>mime_type</c> (overrides the part's Content-Type). The file is
    /// staged on local disk 64 KiB at a time and counted; crossing the size limit or the quota answers 413 at once.
    /// </summary>
    private static async Task<FileInfoResponse> ReceiveAsync(HttpContext http, FileService files, FileTarget target, CancellationToken ct)
    {
        var request = http.Request;
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType)
            || !contentType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(ErrorCodes.UnsupportedMediaType, "Send the file as multipart/form-data.");
        }
        var boundary = HeaderUtilities.RemoveQuotes(contentType.Boundary).Value;
        if (string.IsNullOrEmpty(boundary) || boundary.Length > 70)
        {
            throw Malformed("the multipart boundary is missing or longer than 70 characters");
        }
        var (allowance, byQuota) = await files.UploadAllowanceAsync(target.OwnerId, ct);
        if (request.ContentLength is { } declared && declared > allowance + MultipartOverhead)
        {
            if (!request.Headers.Expect.ToString().Contains("100-continue", StringComparison.OrdinalIgnoreCase))
            {
                // The client is sending the body anyway; reading some of it lets the 413 reach a client that reads only after writing.
                // A client that asked to continue has sent nothing yet: reading would invite the body, so answer at once.
                await DrainAsync(request.Body, ct);
            }
            throw FileService.TooLarge(allowance, byQuota);
        }

        var reader = new MultipartReader(boundary, request.Body) { BodyLengthLimit = null, HeadersLengthLimit = 16 * 1024 };
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        BlobStaging? staging = null;
        StagedBlob? staged = null;
        string? filename = null;
        string? partType = null;
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            while (await reader.ReadNextSectionAsync(ct) is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var cd) || !cd.DispositionType.Equals("form-data", StringComparison.OrdinalIgnoreCase))
                {
                    throw Malformed("every part needs Content-Disposition: form-data");
                }
                if (cd.IsFileDisposition())
                {
                    if (staging is not null)
                    {
                        throw Malformed("send one file per upload");
                    }
                    filename = FileRules.Filename(cd.FileNameStar.HasValue ? cd.FileNameStar.Value : HeaderUtilities.RemoveQuotes(cd.FileName).Value);
                    partType = section.ContentType;
                    staging = files.Stage();
                    int n;
                    while ((n = await section.Body.ReadAsync(buffer, ct)) > 0)
                    {
                        if (staging.Size + n > allowance)
                        {
                            await DrainAsync(request.Body, ct);
                            throw FileService.TooLarge(allowance, byQuota);
                        }
                        await staging.WriteAsync(buffer.AsMemory(0, n), ct);
                    }
                    staged = await staging.FinishAsync(ct);
                }
                else
                {
                    var name = HeaderUtilities.RemoveQuotes(cd.Name).Value ?? "";
                    if (!Fields.Contains(name) || fields.ContainsKey(name))
                    {
                        throw Malformed($"unexpected or repeated form field '{(name.Length > 32 ? name[..32] : name)}' (accepted: a file part, {string.Join(", ", Fields)})");
                    }
                    using var sr = new StreamReader(section.Body);
                    var chars = new char[1025];
                    var len = await sr.ReadBlockAsync(chars, ct);
                    if (len > 1024)
                    {
                        throw Malformed($"form field '{name}' is longer than 1024 characters");
                    }
                    fields[name] = new string(chars, 0, len);
                }
            }
            if (staged is null || filename is null)
            {
                throw new ApiException(ErrorCodes.ValidationError, "The body has no file part (a form-data part with a filename).",
                    new Dictionary<string, string[]> { ["file"] = ["is required"] });
            }
            var mime = FileRules.MimeType(fields.GetValueOrDefault("mime_type") ?? partType);
            var expiresAt = Expiry(fields, files);
            var record = await files.CommitAsync(staged, target, filename, mime, expiresAt, ct);
            return FileService.View(record);
        }
        catch (BadHttpRequestException)
        {
            throw; // Kestrel's own (body limit, aborted request): the error middleware maps it
        }
        catch (IOException ex) when (!http.RequestAborted.IsCancellationRequested)
        {
            throw Malformed($"the multipart body ended early or is malformed ({ex.Message})");
        }
        catch (InvalidDataException ex)
        {
            throw Malformed(ex.Message);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            staging?.Dispose();
        }
    }

    /// <summary>
    /// Reads and discards up to 1 MiB more of a refused body, nothing stored, so that a client which is still sending a little reads the
    /// 413 instead of a connection reset. A larger remainder is not read: the connection is closed after the answer.
    /// </summary>
    private static async Task DrainAsync(Stream body, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            long total = 0;
            int n;
            while (total < DrainLimit && (n = await body.ReadAsync(buffer, ct)) > 0)
            {
                total += n;
            }
        }
        catch (IOException)
        {
            // The client gave up or the body is malformed: the 413 stands.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private const long DrainLimit = 1024 * 1024;

    private static DateTimeOffset? Expiry(Dictionary<string, string> fields, FileService files)
    {
        var now = files.Now;
        var max = files.Options.MaxExpiry;
        var hasIn = fields.TryGetValue("expires_in", out var inText);
        var hasAt = fields.TryGetValue("expires_at", out var atText);
        var v = new Validation().Check(!(hasIn && hasAt), "expires_in", "give expires_in or expires_at, not both");
        DateTimeOffset? result = null;
        if (hasIn)
        {
            var ok = long.TryParse(inText, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds >= 1 && seconds <= max.TotalSeconds;
            v.Check(ok, "expires_in", $"must be 1 to {(long)max.TotalSeconds} seconds");
            result = ok ? now.AddSeconds(seconds) : null;
        }
        else if (hasAt)
        {
            var ok = DateTimeOffset.TryParse(atText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) && at > now && at <= now + max;
            v.Check(ok, "expires_at", "must be an ISO 8601 time in the future, within the maximum expiry");
            result = ok ? at.ToUniversalTime() : null;
        }
        v.ThrowIfInvalid();
        return result;
    }

    private static ApiException Malformed(string problem) =>
        new(ErrorCodes.ValidationError, $"The upload is malformed: {problem}.", new Dictionary<string, string[]> { ["body"] = [problem] });
}
