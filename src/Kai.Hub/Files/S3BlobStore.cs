using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Kai.Hub.Files;

/// <summary>
/// S3-compatible backend (AWSSDK.S3 4.x): blobs are objects <c>{prefix}{sha256}</c> in one bucket. A staged file is sent with one
/// PutObject from disk, so an object is either absent or complete (S3 never shows a partial PUT). Downloads read ranges with
/// ranged GETs through <see cref="S3RangeStream"/>. Checksums are computed only when an operation requires them, because the SDK's
/// default trailing CRC checksums (aws-chunked) are not implemented by every S3-compatible server.
/// </summary>
internal sealed class S3BlobStore : IBlobStore, IDisposable
{
    private readonly AmazonS3Client _client;
    private readonly S3BlobOptions _options;

    public S3BlobStore(S3BlobOptions options)
    {
        _options = options;
        if (string.IsNullOrEmpty(options.ServiceUrl) || string.IsNullOrEmpty(options.AccessKey) || string.IsNullOrEmpty(options.SecretKey))
        {
            throw new InvalidOperationException("Kai:Files:Backend is s3, so Kai:Files:S3:ServiceUrl, AccessKey and SecretKey are required.");
        }
        var config = new AmazonS3Config
        {
            ServiceURL = options.ServiceUrl,
            ForcePathStyle = options.ForcePathStyle,
            AuthenticationRegion = options.Region,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        _client = new AmazonS3Client(new BasicAWSCredentials(options.AccessKey, options.SecretKey), config);
    }

    public string Kind => "s3";

    private string Key(string sha256) => _options.Prefix + sha256;

    public async Task InitializeAsync(CancellationToken ct)
    {
        if (!_options.CreateBucket)
        {
            return;
        }
        try
        {
            await _client.PutBucketAsync(new PutBucketRequest { BucketName = _options.Bucket }, ct);
        }
        catch (AmazonS3Exception ex) when (ex.ErrorCode is "BucketAlreadyOwnedByYou" or "BucketAlreadyExists")
        {
        }
    }

    public async Task CommitAsync(StagedBlob staged, CancellationToken ct)
    {
        await _client.PutObjectAsync(new PutObjectRequest
        {
            BucketName = _options.Bucket,
            Key = Key(staged.Sha256),
            FilePath = staged.Path,
            ContentType = "application/octet-stream",
            // Plain SigV4 over the whole payload, not aws-chunked streaming: the SDK hashes the file (it is on disk) first.
            UseChunkEncoding = false,
        }, ct);
    }

    public Task<Stream> OpenReadAsync(string sha256, long size, CancellationToken ct) =>
        Task.FromResult<Stream>(new S3RangeStream(_client, _options.Bucket, Key(sha256), size));

    public async Task DeleteAsync(string sha256, CancellationToken ct) =>
        await _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _options.Bucket, Key = Key(sha256) }, ct);

    public async IAsyncEnumerable<string> ListAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        string? token = null;
        do
        {
            var page = await _client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = _options.Bucket, Prefix = _options.Prefix, ContinuationToken = token }, ct);
            foreach (var o in page.S3Objects ?? [])
            {
                var name = o.Key[_options.Prefix.Length..];
                if (name.Length == 64)
                {
                    yield return name;
                }
            }
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (token is not null);
    }

    public void Dispose() => _client.Dispose();

    /// <summary>
    /// A seekable read-only view of one object: a read opens a GET from the current position to the end and keeps reading it; a seek
    /// drops it. ASP.NET Core's range processing seeks once per range, so a 206 costs one ranged GET.
    /// </summary>
    private sealed class S3RangeStream(AmazonS3Client client, string bucket, string key, long length) : Stream
    {
        private Stream? _body;
        private GetObjectResponse? _response;
        private long _position;

        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => length;

        public override long Position
        {
            get => _position;
            set => Seek(value, SeekOrigin.Begin);
        }

        public override long Seek(long offset, SeekOrigin origin)
        {
            var target = origin switch { SeekOrigin.Begin => offset, SeekOrigin.Current => _position + offset, _ => length + offset };
            if (target != _position)
            {
                Drop();
                _position = Math.Clamp(target, 0, length);
            }
            return _position;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            if (_position >= length || buffer.Length == 0)
            {
                return 0;
            }
            if (_body is null)
            {
                try
                {
                    _response = await client.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = key, ByteRange = new ByteRange(_position, length - 1) }, ct);
                }
                catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
                {
                    throw new BlobMissingException(key);
                }
                _body = _response.ResponseStream;
            }
            var n = await _body.ReadAsync(buffer, ct);
            _position += n;
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) => ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        private void Drop()
        {
            _body?.Dispose();
            _response?.Dispose();
            _body = null;
            _response = null;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                Drop();
            }
            base.Dispose(disposing);
        }

        public override void Flush() { }
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
