using System.ComponentModel.DataAnnotations;

namespace Kai.Hub.Files;

/// <summary>The <c>Kai:Files</c> configuration section (docs/operations.md, "Files").</summary>
public sealed class FilesOptions
{
    public const string Section = HubOptions.Section + ":Files";

    /// <summary><c>local</c> (default: a directory under the data directory) or <c>s3</c> (any S3-compatible server, see <see cref="S3"/>).</summary>
    [RegularExpression("^(local|s3)$")]
    public string Backend { get; set; } = "local";

    /// <summary>Largest file accepted, in bytes. 1 byte to 1 TiB. Default: 5 GiB. The upload routes' body limit is this plus 64 KiB of multipart framing.</summary>
    [Range(1L, 1L << 40)]
    public long MaxFileBytes { get; set; } = 5L << 30;

    /// <summary>Per-user quota (<c>storage_limit</c>): the sum of the sizes of a user's files, agents' files included. Default: 10 GiB.</summary>
    [Range(1L, long.MaxValue)]
    public long StorageLimitBytes { get; set; } = 10L << 30;

    /// <summary>Longest <c>expires_in</c> accepted. Default: 365 days.</summary>
    public TimeSpan MaxExpiry { get; set; } = TimeSpan.FromDays(365);

    /// <summary>Lifetime of a signed download URL when the request names none. Default: 5 minutes.</summary>
    [Range(typeof(TimeSpan), "00:00:10", "1.00:00:00")]
    public TimeSpan SignedUrlLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>A chunked (WebSocket) upload with no new chunk for this long is abandoned and swept. Default: 1 hour.</summary>
    [Range(typeof(TimeSpan), "00:00:10", "7.00:00:00")]
    public TimeSpan AbandonedUploadAfter { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Most chunks one WebSocket upload may have. Default: 10000.</summary>
    [Range(1, 1_000_000)]
    public int MaxChunks { get; set; } = 10_000;

    /// <summary>Largest chunk <c>PUT /api/v1/files/uploads/{id}/chunks/{index}</c> accepts (it is held in memory while stored). Default: 16 MiB.</summary>
    [Range(1024, 256L << 20)]
    public long MaxChunkBytes { get; set; } = 16L << 20;

    public S3BlobOptions S3 { get; set; } = new();
}

/// <summary>The <c>Kai:Files:S3</c> section, read when <see cref="FilesOptions.Backend"/> is <c>s3</c>.</summary>
public sealed class S3BlobOptions
{
    /// <summary>The endpoint, for example <c>http://127.0.0.1:4568</c> or <c>https://s3.eu-west-1.amazonaws.com</c>.</summary>
    public string? ServiceUrl { get; set; }

    /// <summary>The bucket. Default: <c>kai-files</c>.</summary>
    public string Bucket { get; set; } = "kai-files";

    /// <summary>The region used for signing. Default: <c>us-east-1</c>.</summary>
    public string Region { get; set; } = "us-east-1";

    /// <summary>Access key id. Required for <c>s3</c>.</summary>
    public string? AccessKey { get; set; }

    /// <summary>Secret access key. Required for <c>s3</c>.</summary>
    public string? SecretKey { get; set; }

    /// <summary>Path-style addressing (<c>http://host/bucket/key</c>), which most S3-compatible servers need. Default: true.</summary>
    public bool ForcePathStyle { get; set; } = true;

    /// <summary>Create the bucket at start when it does not exist. Default: true.</summary>
    public bool CreateBucket { get; set; } = true;

    /// <summary>Key prefix of the blobs. Default: <c>blobs/</c>.</summary>
    public string Prefix { get; set; } = "blobs/";
}
