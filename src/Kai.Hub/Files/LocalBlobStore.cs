namespace Kai.Hub.Files;

/// <summary>
/// The default backend: <c>{data}/files/blobs/{first two hex digits}/{sha256}</c>. A staged file (already fsynced) is renamed into
/// place, so a blob is either absent or complete; the staging directory is on the same filesystem, which makes the rename atomic.
/// </summary>
internal sealed class LocalBlobStore(string root) : IBlobStore
{
    public string Kind => "local";

    public string Root { get; } = root;

    public Task InitializeAsync(CancellationToken ct)
    {
        Directory.CreateDirectory(Root);
        return Task.CompletedTask;
    }

    private string PathOf(string sha256) => Path.Combine(Root, sha256[..2], sha256);

    public Task CommitAsync(StagedBlob staged, CancellationToken ct)
    {
        var target = PathOf(staged.Sha256);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        if (File.Exists(target))
        {
            return Task.CompletedTask; // same content already stored; the staging file is deleted by its owner
        }
        try
        {
            File.Move(staged.Path, target, overwrite: false);
        }
        catch (IOException) when (File.Exists(target))
        {
            // A concurrent upload of the same content won the rename: same bytes, nothing to do.
        }
        return Task.CompletedTask;
    }

    public Task<Stream> OpenReadAsync(string sha256, long size, CancellationToken ct)
    {
        try
        {
            return Task.FromResult<Stream>(new FileStream(PathOf(sha256), FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16,
                System.IO.FileOptions.Asynchronous | System.IO.FileOptions.SequentialScan));
        }
        catch (FileNotFoundException)
        {
            throw new BlobMissingException(sha256);
        }
        catch (DirectoryNotFoundException)
        {
            throw new BlobMissingException(sha256);
        }
    }

    public Task DeleteAsync(string sha256, CancellationToken ct)
    {
        File.Delete(PathOf(sha256));
        return Task.CompletedTask;
    }

    public async IAsyncEnumerable<string> ListAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        await Task.Yield();
        if (!Directory.Exists(Root))
        {
            yield break;
        }
        foreach (var file in Directory.EnumerateFiles(Root, "*", SearchOption.AllDirectories))
        {
            ct.ThrowIfCancellationRequested();
            var name = Path.GetFileName(file);
            if (name.Length == 64 && name.All(char.IsAsciiHexDigitLower))
            {
                yield return name;
            }
        }
    }
}

/// <summary>The metadata names a blob the backend does not have (deleted behind the hub's back).</summary>
internal sealed class BlobMissingException(string sha256) : Exception($"Blob {sha256} is missing from the blob store.");
