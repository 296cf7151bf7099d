namespace Kai.Protocol.Frames;

/// <summary>Frame types of files (seed 000 "Client-to-Server Events", <c>fileUpload</c>).</summary>
public static partial class FrameTypes
{
    /// <summary>Client to hub: one base64 chunk of a file. Payload: <see cref="UploadChunkPayload"/>; ack: <see cref="UploadAck"/>.</summary>
    public const string Upload = "upload";
    /// <summary>Hub to agent: a file was assigned to it (uploaded to <c>POST /api/v1/agents/{id}/upload</c>). Payload: <see cref="FileAssignedPayload"/>.</summary>
    public const string FileAssigned = "file_assigned";
}

/// <summary>
/// Payload of an <c>upload</c> frame (seed 000 <c>fileUpload</c>, plus <c>upload_id</c> and <c>sha256</c>). Chunks of one upload share an
/// <c>upload_id</c>; each is acked with <see cref="UploadAck"/>. The file is assembled when every chunk has arrived, verified, and only then
/// visible. Resending a chunk already received is acked again (idempotent); a chunk with the same index but different bytes is refused.
/// </summary>
/// <param name="UploadId">Client-chosen id tying the chunks together, 1 to 64 characters of letters, digits, <c>-</c> and <c>_</c>. Resume by sending the missing chunks under the same id.</param>
/// <param name="Filename">The file name; sanitized like the multipart upload (no path, no control characters).</param>
/// <param name="Content">The chunk's bytes, base64 (RFC 4648 section 4); 1 byte or more decoded, within the link's frame limit.</param>
/// <param name="MimeType">The media type (<c>type/subtype</c>); the same on every chunk.</param>
/// <param name="ChunkIndex">0-based index of this chunk; 0 when absent.</param>
/// <param name="TotalChunks">How many chunks the file has, 1 to 10000; 1 when absent. The same on every chunk.</param>
/// <param name="Sha256">Optional SHA-256 of the whole file (64 hex digits); the assembled file must match or the upload fails with <c>CHECKSUM_MISMATCH</c>.</param>
public sealed record UploadChunkPayload(
    string UploadId, string Filename, string Content, string? MimeType, int? ChunkIndex, int? TotalChunks, string? Sha256);

/// <summary>The ack of one <c>upload</c> chunk.</summary>
/// <param name="UploadId">The upload.</param>
/// <param name="ChunkIndex">The chunk acked.</param>
/// <param name="Received">How many distinct chunks the hub holds.</param>
/// <param name="TotalChunks">How many the file has.</param>
/// <param name="NextMissing">The first missing chunk index (where to resume); absent once complete.</param>
/// <param name="Complete">True when this chunk completed the file.</param>
/// <param name="File">The stored file, on the completing chunk only.</param>
public sealed record UploadAck(string UploadId, int ChunkIndex, int Received, int TotalChunks, int? NextMissing, bool Complete, Rest.FileInfoResponse? File);

/// <summary>Payload of a <c>file_assigned</c> frame sent to an agent's live link when a file is assigned to it.</summary>
/// <param name="File">The file; the agent downloads it from <c>url</c> with its own token (permission <c>file.read.assigned</c>).</param>
/// <param name="UploadedBy">The user who uploaded it.</param>
public sealed record FileAssignedPayload(Rest.FileInfoResponse File, string UploadedBy);
