using Dapper;
using Kai.Hub.Housekeeping;
using Npgsql;

namespace Kai.Hub.Storage.Postgres;

/// <summary>
/// Housekeeping leadership on PostgreSQL: the leader holds the session advisory lock
/// (<see cref="PostgresHubStore.HousekeepingLockClass"/>, hash of the schema) on a dedicated, unpooled connection. Each sweep checks
/// that connection still answers; a node whose process dies (kill -9) or whose connection breaks loses the lock with its session, and
/// the next node to sweep takes it (<c>pg_try_advisory_lock</c>, never waiting). No lease row, no clock comparison between nodes.
/// </summary>
internal sealed partial class PostgresHousekeepingLeadership(PostgresHubStore store, ILogger<PostgresHousekeepingLeadership> logger)
    : IHousekeepingLeadership, IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private NpgsqlConnection? _held;

    public bool IsLeader => _held is not null;

    public async Task<bool> TryLeadAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            if (_held is not null)
            {
                try
                {
                    await _held.ExecuteScalarAsync<int>(new CommandDefinition("SELECT 1", cancellationToken: ct));
                    return true;
                }
                catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or TimeoutException)
                {
                    Log.LeadershipLost(logger, ex.Message);
                    await DropAsync();
                }
            }
            NpgsqlConnection? c = null;
            try
            {
                c = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(store.ConnectionString) { Pooling = false, TcpKeepAlive = true }.ConnectionString);
                await c.OpenAsync(ct);
                var got = await c.ExecuteScalarAsync<bool>(new CommandDefinition(
                    "SELECT pg_try_advisory_lock(@k, hashtext(COALESCE(current_schema(), '')))", new { k = PostgresHubStore.HousekeepingLockClass }, cancellationToken: ct));
                if (got)
                {
                    _held = c;
                    Log.LeadershipTaken(logger, store.Target);
                    return true;
                }
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
            {
                Log.LeadershipUnavailable(logger, ex.Message);
            }
            if (c is not null)
            {
                await c.DisposeAsync();
            }
            return false;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task DropAsync()
    {
        var held = _held;
        _held = null;
        if (held is not null)
        {
            try
            {
                await held.DisposeAsync();
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
            {
                // Already broken; closing is all that is left.
            }
        }
    }

    /// <summary>Closing the session releases the lock at once, so another node leads from its next sweep.</summary>
    public async ValueTask DisposeAsync()
    {
        await DropAsync();
        _gate.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(1400, LogLevel.Information, "This node now runs the store-wide housekeeping (advisory lock on {Target})")]
        public static partial void LeadershipTaken(ILogger logger, string target);

        [LoggerMessage(1401, LogLevel.Warning, "Housekeeping leadership lost ({Reason}); another node takes over")]
        public static partial void LeadershipLost(ILogger logger, string reason);

        [LoggerMessage(1402, LogLevel.Warning, "Cannot reach PostgreSQL for the housekeeping leadership: {Reason}")]
        public static partial void LeadershipUnavailable(ILogger logger, string reason);
    }
}
