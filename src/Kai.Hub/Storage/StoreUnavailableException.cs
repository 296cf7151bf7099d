namespace Kai.Hub.Storage;

/// <summary>
/// The configured store cannot be reached (PostgreSQL down, restarting, wrong host, login refused). At start: one line, exit 69
/// (<see cref="StartupFailure"/>). While running: REST answers 503 <c>STORE_UNAVAILABLE</c>; a write in flight may or may not have
/// committed.
/// </summary>
internal sealed class StoreUnavailableException(string message, Exception inner) : Exception(message, inner)
{
    /// <summary>
    /// Whether <paramref name="ex"/> says the store is unreachable: this exception, or a PostgreSQL connection that broke in the
    /// middle of a statement. For the latter, the idle pooled connections (dead as well) are dropped, so the first request after
    /// the server returns works.
    /// </summary>
    public static bool Matches(Exception ex)
    {
        if (ex is StoreUnavailableException)
        {
            return true;
        }
        if (!Postgres.PostgresHubStore.IsUnreachable(ex))
        {
            return false;
        }
        Npgsql.NpgsqlConnection.ClearAllPools();
        return true;
    }
}
