using Dapper;
using Kai.Hub.Storage;
using Microsoft.Data.Sqlite;

namespace Kai.Hub.Tests.Storage;

/// <summary>
/// Issue 16: the SQLite writer commits the writes queued behind a busy writer as one transaction (group commit). Each caller is
/// answered only after the commit, a write that fails fails alone, and a write canceled while it waits never runs.
/// </summary>
public sealed class GroupCommitTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "kai-tests", "group-" + Guid.NewGuid().ToString("N"));
    private readonly SqliteHubStore _store;

    public GroupCommitTests()
    {
        Directory.CreateDirectory(_directory);
        _store = new SqliteHubStore(Path.Combine(_directory, "kai.db"));
    }

    [Fact]
    public async Task Writes_queued_behind_a_busy_writer_commit_together_and_a_failing_one_fails_alone()
    {
        await _store.WriteAsync(async (c, tx) => await c.ExecuteAsync("CREATE TABLE items (id INTEGER PRIMARY KEY, note TEXT NOT NULL)", transaction: tx), CancellationToken.None);

        // Hold the writer so the next writes queue up and are drained as one batch.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var holding = _store.WriteAsync(async (c, tx) =>
        {
            started.SetResult();
            await gate.Task;
            return await c.ExecuteAsync("INSERT INTO items (id, note) VALUES (0, 'first')", transaction: tx);
        }, CancellationToken.None);
        await started.Task;
        var good = Enumerable.Range(1, 20).Select(i => _store.WriteAsync(async (c, tx) =>
            await c.ExecuteAsync("INSERT INTO items (id, note) VALUES (@i, 'ok')", new { i }, tx), CancellationToken.None)).ToList();
        // A duplicate key in the middle of the batch: SQLite refuses that statement.
        var bad = _store.WriteAsync(async (c, tx) => await c.ExecuteAsync("INSERT INTO items (id, note) VALUES (5, 'duplicate')", transaction: tx), CancellationToken.None);
        var more = Enumerable.Range(21, 20).Select(i => _store.WriteAsync(async (c, tx) =>
            await c.ExecuteAsync("INSERT INTO items (id, note) VALUES (@i, 'ok')", new { i }, tx), CancellationToken.None)).ToList();
        // Each write sees the ones queued before it, as if they ran one after another.
        var seen = _store.WriteAsync(async (c, tx) => await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM items", transaction: tx), CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var canceled = _store.WriteAsync(async (c, tx) => await c.ExecuteAsync("INSERT INTO items (id, note) VALUES (1000, 'canceled')", transaction: tx), cancel.Token);
        await cancel.CancelAsync();
        Assert.False(holding.IsCompleted);
        gate.SetResult();

        Assert.Equal(1, await holding);
        foreach (var write in good.Concat(more))
        {
            Assert.Equal(1, await write);
        }
        var error = await Assert.ThrowsAsync<SqliteException>(() => bad);
        Assert.Equal(19, error.SqliteErrorCode); // SQLITE_CONSTRAINT
        Assert.Equal(41, await seen);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => canceled);

        // What each caller was told is what is on disk, read through another connection.
        await using var read = _store.OpenRead();
        var rows = (await read.QueryAsync<(long Id, string Note)>("SELECT id, note FROM items ORDER BY id")).ToList();
        Assert.Equal(Enumerable.Range(0, 41).Select(i => (long)i), rows.Select(r => r.Id));
        Assert.Equal("first", rows[0].Note);
        Assert.Equal("ok", rows[5].Note);
        Assert.DoesNotContain(rows, r => r.Note is "duplicate" or "canceled");
    }

    [Fact]
    public async Task A_write_after_dispose_fails_clearly_and_queued_writes_still_commit()
    {
        await _store.WriteAsync(async (c, tx) => await c.ExecuteAsync("CREATE TABLE items (id INTEGER PRIMARY KEY)", transaction: tx), CancellationToken.None);
        var queued = Enumerable.Range(1, 10).Select(i => _store.WriteAsync(async (c, tx) =>
            await c.ExecuteAsync("INSERT INTO items (id) VALUES (@i)", new { i }, tx), CancellationToken.None)).ToList();
        _store.Dispose();
        foreach (var write in queued)
        {
            Assert.Equal(1, await write);
        }
        await Assert.ThrowsAsync<ObjectDisposedException>(() => _store.WriteAsync((c, tx) => Task.FromResult(0), CancellationToken.None));
        await using var c = new SqliteConnection(_store.ConnectionString);
        await c.OpenAsync();
        Assert.Equal(10, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM items"));
    }

    public void Dispose()
    {
        _store.Dispose();
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still open somewhere; the temp directory is cleaned eventually.
        }
    }
}
