using Microsoft.Data.Sqlite;

namespace Kai.Hub.Storage;

/// <summary>
/// Whether the store can write (issue 10 item 8). A write that fails for lack of space (SQLITE_FULL) or an I/O error marks the
/// store as failing; the next successful write (a client's, or the readiness probe's) clears it. While failing, <c>/ready</c>
/// answers 503 and writes answer 507 <c>INSUFFICIENT_STORAGE</c>.
/// </summary>
internal interface IStorageHealth
{
    /// <summary>The last write failed for lack of space or an I/O error, and none has succeeded since.</summary>
    bool WritesFailing { get; }

    /// <summary>What the last failing write said, for <c>/ready</c> and the logs.</summary>
    string? LastWriteError { get; }

    /// <summary>A minimal write (one page), to learn whether space came back; returns true when it committed.</summary>
    Task<bool> ProbeWriteAsync(CancellationToken ct);
}

/// <summary>Thrown by a store write that failed because the disk is full or failing; the edge answers 507 <c>INSUFFICIENT_STORAGE</c>.</summary>
internal sealed class StorageFullException(string message, Exception inner) : Exception(message, inner)
{
    /// <summary>SQLITE_FULL (13) and SQLITE_IOERR (10), the primary result codes of "no space" and "cannot write".</summary>
    public static bool IsStorageFailure(SqliteException ex) => ex.SqliteErrorCode is 13 or 10;
}
