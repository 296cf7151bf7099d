using Kai.Hub.Housekeeping;

namespace Kai.Hub.Files;

/// <summary>
/// The files capability's sweep (run by <see cref="HubSweeper"/>): expired files are deleted, abandoned chunked uploads dropped, and
/// orphans removed: blobs no row references (left by a crash between commit and insert), staging files of no running upload, and
/// chunk directories of no upload. Orphans are looked for at most every <see cref="OrphanScanInterval"/>.
/// </summary>
internal sealed class FileHousekeeping(FileService files, ChunkedUploads uploads, TimeProvider time, ILogger<FileHousekeeping> logger) : IHousekeeping
{
    public static readonly TimeSpan OrphanScanInterval = TimeSpan.FromMinutes(30);

    private DateTimeOffset _nextOrphanScan = DateTimeOffset.MinValue;

    public async Task SweepAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        foreach (var id in await files.Store.ExpiredFileIdsAsync(now, 1000, ct))
        {
            await files.DeleteCoreAsync(id, ct);
        }
        await uploads.SweepAbandonedAsync(ct);
        if (now >= _nextOrphanScan)
        {
            _nextOrphanScan = now + OrphanScanInterval;
            await SweepOrphansAsync(ct);
        }
    }

    /// <summary>Removes unreferenced blobs and staging leftovers; returns how many blobs went.</summary>
    public async Task<int> SweepOrphansAsync(CancellationToken ct)
    {
        var removed = 0;
        await foreach (var sha in files.Blobs.ListAsync(ct))
        {
            if (files.IsInFlight(sha) || await files.Store.IsContentReferencedAsync(sha, ct))
            {
                continue;
            }
            var gate = files.ContentLock(sha);
            await gate.WaitAsync(ct);
            try
            {
                if (!files.IsInFlight(sha) && !await files.Store.IsContentReferencedAsync(sha, ct))
                {
                    await files.Blobs.DeleteAsync(sha, ct);
                    removed++;
                }
            }
            finally
            {
                gate.Release();
            }
        }
        foreach (var path in Directory.EnumerateFiles(files.StagingDirectory))
        {
            if (!files.IsStaging(path))
            {
                TryDelete(() => File.Delete(path));
            }
        }
        if (removed > 0)
        {
            logger.LogInformation("Removed {Count} orphaned blobs", removed);
        }
        return removed;
    }

    private void TryDelete(Action delete)
    {
        try
        {
            delete();
        }
        catch (IOException ex)
        {
            logger.LogWarning(ex, "Could not remove a files leftover");
        }
    }
}
