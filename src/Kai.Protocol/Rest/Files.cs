namespace Kai.Protocol.Rest;

/// <summary>
/// Answer of <c>POST /api/v1/files/upload</c>, <c>POST /api/v1/agents/{agent_id}/upload</c> and of the last chunk of a WebSocket
/// <c>upload</c> (seed 000 "File and Artifact Management"), and one item of <see cref="FileListResponse.Files"/>.
/// </summary>
/// <param name="FileId">The file id, <c>file_</c> followed by 32 hex digits.</param>
/// <param name="Filename">The sanitized file name as stored (no directory part, no control characters, at most 255 UTF-8 bytes).</param>
/// <param name="Size">Size in bytes (at least 1).</param>
/// <param name="MimeType">The media type, for example <c>application/pdf</c>; <c>application/octet-stream</c> when none was given.</param>
/// <param name="Url">Path of the download route, <c>/api/v1/files/{file_id}/download</c>, relative to the hub's base URL (needs a bearer token).</param>
/// <param name="ExpiresAt">When the file expires and is deleted by the sweeper (ISO 8601 UTC); absent when it never expires.</param>
/// <param name="Sha256">SHA-256 of the content, 64 lowercase hex digits; also the download's <c>ETag</c>.</param>
/// <param name="ProcessingStatus">Always <c>ready</c>: a file becomes visible only once it is completely stored and verified.</param>
/// <param name="AgentId">The agent the file is assigned to, if any.</param>
/// <param name="TaskId">The task the file is an artifact of, if any.</param>
/// <param name="CreatedAt">When the upload completed (ISO 8601 UTC).</param>
public sealed record FileInfoResponse(
    string FileId, string Filename, long Size, string MimeType, string Url, DateTimeOffset? ExpiresAt, string Sha256, string ProcessingStatus,
    string? AgentId, string? TaskId, DateTimeOffset CreatedAt);

/// <summary>Answer of <c>GET /api/v1/files?type=&amp;agent_id=&amp;limit=&amp;offset=</c> (seed 000).</summary>
/// <param name="Files">The page of files, newest first.</param>
/// <param name="Total">How many files match the filter in all.</param>
/// <param name="StorageUsed">Bytes used by the caller's owner (the sum of the sizes of its files).</param>
/// <param name="StorageLimit">The per-user quota in bytes (<c>Kai:Files:StorageLimitBytes</c>).</param>
public sealed record FileListResponse(IReadOnlyList<FileInfoResponse> Files, int Total, long StorageUsed, long StorageLimit);

/// <summary>Answer of <c>DELETE /api/v1/files/{file_id}</c> (seed 000).</summary>
/// <param name="Deleted">Always true (a missing file is 404).</param>
/// <param name="SpaceFreed">Bytes no longer counted against the owner's quota (the file's size).</param>
public sealed record FileDeleteResponse(bool Deleted, long SpaceFreed);

/// <summary>Answer of <c>POST /api/v1/files/{file_id}/signed-url</c>: a short-lived download URL that needs no bearer header.</summary>
/// <param name="Url">Path and query, <c>/api/v1/files/{file_id}/content?expires=&amp;sig=</c>, relative to the hub's base URL.</param>
/// <param name="ExpiresAt">When the URL stops working (ISO 8601 UTC).</param>
public sealed record SignedUrlResponse(string Url, DateTimeOffset ExpiresAt);

/// <summary>
/// Answer of <c>GET /api/v1/files/uploads/{upload_id}</c>: what the hub holds of a chunked upload in progress (the <c>upload</c> frame or
/// <c>PUT /api/v1/files/uploads/{upload_id}/chunks/{index}</c>; upload ids are per principal), so an interrupted upload resumes from
/// <see cref="NextMissing"/> (issue 13). A completed, failed or swept upload is 404.
/// </summary>
/// <param name="UploadId">The client's upload id.</param>
/// <param name="Filename">The file name the chunks carry.</param>
/// <param name="MimeType">The media type the chunks carry.</param>
/// <param name="TotalChunks">How many chunks the file has.</param>
/// <param name="Received">How many distinct chunks the hub holds (each stored durably and acked).</param>
/// <param name="NextMissing">The first missing chunk index: where to resume.</param>
/// <param name="Missing">Every missing chunk index, ascending.</param>
/// <param name="Sha256">The SHA-256 of the whole file given with the chunks, if any; the assembled file must match it.</param>
/// <param name="AgentId">The agent the file will be assigned to, if any.</param>
/// <param name="AbandonedAt">When the upload is swept unless another chunk arrives (ISO 8601 UTC; <c>Kai:Files:AbandonedUploadAfter</c> after the last chunk).</param>
public sealed record UploadStatusResponse(
    string UploadId, string Filename, string MimeType, int TotalChunks, int Received, int? NextMissing, IReadOnlyList<int> Missing, string? Sha256,
    string? AgentId, DateTimeOffset AbandonedAt);
