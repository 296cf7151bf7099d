using System.Net;
using System.Net.Http.Headers;
using Kai.Protocol.Rest;

namespace Kai.Client;

public sealed partial class HubClient
{
    /// <summary>
    /// Uploads a file with <c>POST /api/v1/files/upload</c>, or <c>POST /api/v1/agents/{agentId}/upload</c> to assign it to an agent
    /// (seed 000 "File and Artifact Management"). The content is streamed (never buffered whole); <paramref name="progress"/> hears the bytes
    /// sent so far. Not retried on 429, because the stream cannot be replayed.
    /// </summary>
    /// <param name="content">The bytes to send, read once from its current position.</param>
    /// <param name="filename">The file name: a bare name, no <c>/</c> or <c>\</c>, no control characters, at most 255 UTF-8 bytes.</param>
    /// <param name="mimeType">The media type; <c>application/octet-stream</c> when null.</param>
    /// <param name="agentId">Assign to this agent (the agent gets a <c>file_assigned</c> frame); null for a plain upload.</param>
    /// <param name="expiresIn">Optional lifetime; the hub deletes the file afterwards.</param>
    /// <param name="progress">Optional: bytes of <paramref name="content"/> sent so far.</param>
    /// <param name="ct">Cancellation.</param>
    /// <returns>The stored file (<c>file_id</c>, <c>sha256</c>, <c>url</c>, ...).</returns>
    /// <exception cref="HubApiException">413 <c>PAYLOAD_TOO_LARGE</c> or <c>QUOTA_EXCEEDED</c>; 400 <c>VALIDATION_ERROR</c> (empty file, bad filename or media type); 404 for an agent the caller may not reach.</exception>
    public async Task<FileInfoResponse> UploadFileAsync(Stream content, string filename, string? mimeType = null, string? agentId = null,
        TimeSpan? expiresIn = null, IProgress<long>? progress = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentException.ThrowIfNullOrEmpty(filename);
        var token = await EnsureAccessTokenAsync(ct);
        using var form = new MultipartFormDataContent();
        if (expiresIn is { } e)
        {
            form.Add(new StringContent(((long)e.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture)), "expires_in");
        }
        var file = new ProgressContent(content, progress);
        file.Headers.ContentType = new MediaTypeHeaderValue(mimeType ?? "application/octet-stream");
        file.Headers.ContentDisposition = new ContentDispositionHeaderValue("form-data") { Name = "\"file\"", FileNameStar = filename };
        form.Add(file);
        var path = agentId is null ? "api/v1/files/upload" : $"api/v1/agents/{Uri.EscapeDataString(agentId)}/upload";
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(BaseAddress, path)) { Content = form };
        // Expect: 100-continue (RFC 9110 §10.1.1): the hub refuses a body larger than the limit or the quota before a byte of it is sent.
        // Without it the client is still writing when the 413 arrives and the hub closes the connection; the reset can discard the
        // answer in the client's receive buffer, and the caller would see a connection error instead of PAYLOAD_TOO_LARGE.
        request.Headers.ExpectContinue = true;
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        using var response = await _http.SendAsync(request, ct);
        return await ReadAsync<FileInfoResponse>(response, ct);
    }

    /// <summary>
    /// Uploads a file in chunks that survive an interrupted transfer (issue 13): asks the hub which chunks of <paramref name="uploadId"/> it
    /// already holds (<c>GET /api/v1/files/uploads/{uploadId}</c>), then sends only the missing ones
    /// (<c>PUT /api/v1/files/uploads/{uploadId}/chunks/{index}</c>, raw bytes). Calling it again with the same id after a dropped
    /// connection, a crash or a cancellation resumes from the first missing chunk. The file's SHA-256 is sent with every chunk and the hub
    /// verifies the assembled file against it, so a resumed file is byte-for-byte the local one or is refused.
    /// </summary>
    /// <param name="content">The bytes: a seekable stream (a file), read from position 0; its length fixes the chunk count.</param>
    /// <param name="filename">The file name (as for <see cref="UploadFileAsync"/>).</param>
    /// <param name="uploadId">The client's id for this upload, 1 to 64 letters, digits, <c>-</c> or <c>_</c>; the same id resumes. Ids are per
    /// principal. A completed upload is forgotten by the hub: the same id then starts a new upload.</param>
    /// <param name="chunkSize">Bytes per chunk, 1 KiB to the hub's <c>Kai:Files:MaxChunkBytes</c> (16 MiB by default); 8 MiB when null.
    /// Must be the same when resuming.</param>
    /// <param name="mimeType">The media type; <c>application/octet-stream</c> when null.</param>
    /// <param name="agentId">Assign the finished file to this agent; null for a plain upload.</param>
    /// <param name="progress">Optional: bytes the hub holds so far (chunks held before this call included).</param>
    /// <param name="ct">Cancellation; the chunks acked before it are kept by the hub for resuming.</param>
    /// <returns>The stored file.</returns>
    /// <exception cref="HubApiException">413 <c>PAYLOAD_TOO_LARGE</c>/<c>QUOTA_EXCEEDED</c>; 400 <c>VALIDATION_ERROR</c> (bad name or type, an
    /// upload id in use with another file or chunk count); 422 <c>CHECKSUM_MISMATCH</c> when the assembled file is not the local one.</exception>
    public async Task<FileInfoResponse> UploadFileResumableAsync(Stream content, string filename, string uploadId, int? chunkSize = null, string? mimeType = null,
        string? agentId = null, IProgress<long>? progress = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentException.ThrowIfNullOrEmpty(filename);
        ArgumentException.ThrowIfNullOrEmpty(uploadId);
        if (!content.CanSeek)
        {
            throw new ArgumentException("A resumable upload needs a seekable stream (a file).", nameof(content));
        }
        var size = chunkSize ?? DefaultChunkSize;
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1024, nameof(chunkSize));
        var length = content.Length;
        var total = (int)Math.Max(1, (length + size - 1) / size);
        content.Position = 0;
        var sha = Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(content, ct));
        var id = Uri.EscapeDataString(uploadId);
        IReadOnlyList<int> missing;
        try
        {
            var status = await SendAsync<UploadStatusResponse>(HttpMethod.Get, $"api/v1/files/uploads/{id}", null, ct);
            missing = status.Missing;
        }
        catch (HubApiException e) when (e.Status == 404)
        {
            missing = [.. Enumerable.Range(0, total)];
        }
        long ChunkLength(int i) => Math.Min(size, length - ((long)i * size));
        var held = length - missing.Where(i => i < total).Sum(ChunkLength);
        progress?.Report(held);
        var query = $"total_chunks={total}&filename={Uri.EscapeDataString(filename)}&sha256={sha}"
            + (mimeType is null ? "" : $"&mime_type={Uri.EscapeDataString(mimeType)}") + (agentId is null ? "" : $"&agent_id={Uri.EscapeDataString(agentId)}");
        var buffer = new byte[size];
        Kai.Protocol.Frames.UploadAck? last = null;
        foreach (var index in missing)
        {
            content.Position = (long)index * size;
            var n = (int)ChunkLength(index);
            await content.ReadExactlyAsync(buffer.AsMemory(0, n), ct);
            var token = await EnsureAccessTokenAsync(ct);
            using var request = new HttpRequestMessage(HttpMethod.Put, new Uri(BaseAddress, $"api/v1/files/uploads/{id}/chunks/{index}?{query}"))
            {
                Content = new ByteArrayContent(buffer, 0, n),
            };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            if (token is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }
            using var response = await _http.SendAsync(request, ct);
            last = await ReadAsync<Kai.Protocol.Frames.UploadAck>(response, ct);
            held += n;
            progress?.Report(held);
        }
        return last?.File ?? throw new InvalidOperationException(
            $"The hub did not complete upload '{uploadId}' ({(last is null ? "no chunk was missing" : $"{last.Received} of {last.TotalChunks} chunks held")}).");
    }

    /// <summary>Default chunk size of <see cref="UploadFileResumableAsync"/>: 8 MiB.</summary>
    public const int DefaultChunkSize = 8 << 20;

    /// <summary>
    /// Downloads a file (<c>GET /api/v1/files/{fileId}/download</c>) into <paramref name="destination"/>. With <paramref name="offset"/> &gt; 0
    /// it resumes: only the bytes from <paramref name="offset"/> on are asked for (a Range request, answered 206).
    /// </summary>
    /// <param name="fileId">The file id.</param>
    /// <param name="destination">Where the bytes go, written from its current position.</param>
    /// <param name="offset">Bytes already held (resume point); 0 for the whole file.</param>
    /// <param name="progress">Optional: total bytes held so far, <paramref name="offset"/> included.</param>
    /// <param name="ct">Cancellation.</param>
    /// <returns>The bytes written in this call.</returns>
    /// <exception cref="HubApiException">404 <c>NOT_FOUND</c> for a missing, expired, deleted or not visible file.</exception>
    public async Task<long> DownloadFileAsync(string fileId, Stream destination, long offset = 0, IProgress<long>? progress = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var token = await EnsureAccessTokenAsync(ct);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(BaseAddress, $"api/v1/files/{Uri.EscapeDataString(fileId)}/download"));
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        if (offset > 0)
        {
            request.Headers.Range = new RangeHeaderValue(offset, null);
        }
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            return 0; // already complete
        }
        if (!response.IsSuccessStatusCode)
        {
            await ReadAsync<object>(response, ct);
        }
        if (offset > 0 && response.StatusCode != HttpStatusCode.PartialContent)
        {
            throw new InvalidOperationException("The hub ignored the Range request; cannot resume.");
        }
        await using var body = await response.Content.ReadAsStreamAsync(ct);
        var buffer = new byte[81920];
        long written = 0;
        int n;
        while ((n = await body.ReadAsync(buffer, ct)) > 0)
        {
            await destination.WriteAsync(buffer.AsMemory(0, n), ct);
            written += n;
            progress?.Report(offset + written);
        }
        return written;
    }

    /// <summary>Lists the caller's files (<c>GET /api/v1/files</c>, seed 000), newest first.</summary>
    /// <param name="type">Optional media type or prefix, for example <c>image/</c>.</param>
    /// <param name="agentId">Optional: only files assigned to this agent.</param>
    /// <param name="limit">Page size, 1 to 1000 (default 50).</param>
    /// <param name="offset">Items to skip.</param>
    /// <param name="ct">Cancellation.</param>
    /// <returns>The page, the total, and the storage used and allowed in bytes.</returns>
    public Task<FileListResponse> ListFilesAsync(string? type = null, string? agentId = null, int? limit = null, int? offset = null, CancellationToken ct = default)
    {
        var query = new List<string>();
        void Add(string name, string? value)
        {
            if (value is not null)
            {
                query.Add($"{name}={Uri.EscapeDataString(value)}");
            }
        }
        Add("type", type);
        Add("agent_id", agentId);
        Add("limit", limit?.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Add("offset", offset?.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return SendAsync<FileListResponse>(HttpMethod.Get, "api/v1/files" + (query.Count > 0 ? "?" + string.Join('&', query) : ""), null, ct);
    }

    /// <summary>Deletes one of the caller's files (<c>DELETE /api/v1/files/{fileId}</c>, seed 000).</summary>
    /// <param name="fileId">The file id.</param>
    /// <param name="ct">Cancellation.</param>
    /// <returns><c>deleted</c> and <c>space_freed</c> (bytes).</returns>
    /// <exception cref="HubApiException">404 when missing or not the caller's.</exception>
    public Task<FileDeleteResponse> DeleteFileAsync(string fileId, CancellationToken ct = default) =>
        SendAsync<FileDeleteResponse>(HttpMethod.Delete, $"api/v1/files/{Uri.EscapeDataString(fileId)}", null, ct);

    /// <summary>A short-lived download URL that needs no bearer header (<c>POST /api/v1/files/{fileId}/signed-url</c>).</summary>
    /// <param name="fileId">The file id.</param>
    /// <param name="lifetime">10 seconds to 1 day; the hub's default (5 minutes) when null.</param>
    /// <param name="ct">Cancellation.</param>
    /// <returns>The relative URL and when it expires.</returns>
    public Task<SignedUrlResponse> GetSignedFileUrlAsync(string fileId, TimeSpan? lifetime = null, CancellationToken ct = default) =>
        SendAsync<SignedUrlResponse>(HttpMethod.Post,
            $"api/v1/files/{Uri.EscapeDataString(fileId)}/signed-url" + (lifetime is { } l ? $"?expires_in={(long)l.TotalSeconds}" : ""), null, ct);

    /// <summary>Streams a source to the request, reporting bytes sent.</summary>
    private sealed class ProgressContent(Stream source, IProgress<long>? progress) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken ct)
        {
            var buffer = new byte[81920];
            long sent = 0;
            int n;
            while ((n = await source.ReadAsync(buffer, ct)) > 0)
            {
                await stream.WriteAsync(buffer.AsMemory(0, n), ct);
                sent += n;
                progress?.Report(sent);
            }
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override bool TryComputeLength(out long length)
        {
            if (source.CanSeek)
            {
                length = source.Length - source.Position;
                return true;
            }
            length = 0;
            return false;
        }
    }
}
