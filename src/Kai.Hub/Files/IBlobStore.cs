using System.Security.Cryptography;

namespace Kai.Hub.Files;

/// <summary>A file written completely to local staging (fsynced) and hashed, ready to be committed to the blob store.</summary>
internal sealed record StagedBlob(string Path, string Sha256, long Size, byte[] Head);

/// <summary>
/// Where file bytes live, addressed by their SHA-256 (lowercase hex). A blob becomes visible under its hash only once complete
/// (<see cref="CommitAsync"/>); the same content uploaded twice is stored once. Metadata (names, owners, quotas) is in <see cref="IFileStore"/>.
/// </summary>
internal interface IBlobStore
{
    /// <summary><c>local</c> or <c>s3</c>.</summary>
    string Kind { get; }

    /// <summary>Creates what the backend needs (directories, the bucket).</summary>
    Task InitializeAsync(CancellationToken ct);

    /// <summary>Moves the staged file in under its hash, atomically; a blob that already exists is kept and the staged file dropped.</summary>
    Task CommitAsync(StagedBlob staged, CancellationToken ct);

    /// <summary>A seekable read-only stream over the blob (Range requests seek it).</summary>
    Task<Stream> OpenReadAsync(string sha256, long size, CancellationToken ct);

    Task DeleteAsync(string sha256, CancellationToken ct);

    /// <summary>Every blob's hash (for orphan cleanup).</summary>
    IAsyncEnumerable<string> ListAsync(CancellationToken ct);
}

/// <summary>
/// Local staging for uploads: a temp file under <c>{data}/files/tmp</c> written while hashing and counting, fsynced at the end.
/// Staging is always on local disk, whatever the backend, so the body is never held in memory.
/// </summary>
internal sealed class BlobStaging : IDisposable
{
    private readonly FileStream _stream;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly Action<string> _done;
    private readonly byte[] _head = new byte[16];
    private bool _finished;

    public BlobStaging(string directory, Action<string> done)
    {
        Path = System.IO.Path.Combine(directory, Guid.NewGuid().ToString("N") + ".part");
        _done = done;
        _stream = new FileStream(Path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, System.IO.FileOptions.Asynchronous);
    }

    public string Path { get; }

    public long Size { get; private set; }

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        if (Size < _head.Length)
        {
            var n = (int)Math.Min(_head.Length - Size, data.Length);
            data.Span[..n].CopyTo(_head.AsSpan((int)Size));
        }
        _hash.AppendData(data.Span);
        await _stream.WriteAsync(data, ct);
        Size += data.Length;
    }

    /// <summary>Flushes to the device (fsync) and returns the staged blob; the caller commits it or deletes it.</summary>
    public async Task<StagedBlob> FinishAsync(CancellationToken ct)
    {
        await _stream.FlushAsync(ct);
        _stream.Flush(flushToDisk: true);
        await _stream.DisposeAsync();
        _finished = true;
        return new StagedBlob(Path, Convert.ToHexStringLower(_hash.GetHashAndReset()), Size, _head[..(int)Math.Min(Size, _head.Length)]);
    }

    /// <summary>Closes and deletes the staging file if it is still there (a committed blob was moved away already).</summary>
    public void Dispose()
    {
        if (!_finished)
        {
            _stream.Dispose();
        }
        _hash.Dispose();
        try
        {
            File.Delete(Path);
        }
        catch (IOException)
        {
            // The sweeper removes staging leftovers.
        }
        _done(Path);
    }
}
