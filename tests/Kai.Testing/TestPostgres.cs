using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace Kai.Testing;

/// <summary>
/// The PostgreSQL server the tests use: <c>KAI_TEST_POSTGRES</c> (an Npgsql connection string, exported by
/// <c>.ci/setup/80-postgres.sh</c>), else the script's default (<c>kai_test</c> on 127.0.0.1:5432). Each test database is a fresh
/// schema in that database (the connection string's <c>Search Path</c>), dropped afterwards.
/// Set <c>KAI_TEST_STORE=postgres</c> to run every <see cref="TestHub"/> on PostgreSQL instead of SQLite.
/// </summary>
public static class TestPostgres
{
    /// <summary>The script's default, used when <c>KAI_TEST_POSTGRES</c> is not set.</summary>
    public const string DefaultConnectionString = "Host=127.0.0.1;Port=5432;Username=kai_test;Password=kai_test;Database=kai_test;SSL Mode=Disable";

    // A loaded machine (CI on 2 cores) can take seconds to accept a connection: three tries of 15 s before "not there".
    private static readonly Lazy<bool> Reachable = new(() =>
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            try
            {
                using var c = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionString) { Timeout = 15, Pooling = false }.ConnectionString);
                c.Open();
                return true;
            }
            catch (ArgumentException)
            {
                return false;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
            {
                if (ex is NpgsqlException { InnerException: System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionRefused } })
                {
                    return false;
                }
            }
        }
        return false;
    });

    /// <summary>The server's connection string (no schema).</summary>
    public static string ConnectionString => Environment.GetEnvironmentVariable("KAI_TEST_POSTGRES") is { Length: > 0 } s ? s : DefaultConnectionString;

    /// <summary>Whether the server answers.</summary>
    public static bool Available => Reachable.Value;

    /// <summary>Whether <c>KAI_TEST_STORE=postgres</c> asks every <see cref="TestHub"/> to run on PostgreSQL.</summary>
    public static bool HubsOnPostgres => Environment.GetEnvironmentVariable("KAI_TEST_STORE") == "postgres";

    /// <summary>Skips (locally) or fails (in CI) when the server does not answer.</summary>
    public static void Require() =>
        ExternalServers.Require(Available, $"PostgreSQL at {new NpgsqlConnectionStringBuilder(ConnectionString).Host} (apt-get install postgresql; .ci/setup/80-postgres.sh; KAI_TEST_POSTGRES)");

    /// <summary>A schema name derived from <paramref name="key"/> (a data directory, say), so a restart on the same key finds the same schema.</summary>
    public static string SchemaFor(string key) => "kai_t_" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..24];

    /// <summary>Creates <paramref name="schema"/> if missing and returns a connection string whose tables live in it.</summary>
    public static async Task<string> CreateSchemaAsync(string schema)
    {
        await using (var c = new NpgsqlConnection(ConnectionString))
        {
            await c.OpenAsync();
            await using var cmd = new NpgsqlCommand($"CREATE SCHEMA IF NOT EXISTS \"{schema}\"", c);
            await cmd.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(ConnectionString) { SearchPath = schema }.ConnectionString;
    }

    /// <summary>Drops <paramref name="schema"/> and everything in it.</summary>
    public static async Task DropSchemaAsync(string schema)
    {
        NpgsqlConnection.ClearAllPools();
        await using var c = new NpgsqlConnection(ConnectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE", c);
        await cmd.ExecuteNonQueryAsync();
    }
}
