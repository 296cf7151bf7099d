using System.Net.Sockets;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace Kai.Hub;

/// <summary>
/// Turns a failed start into one line on stderr that names the path or port and the cause, and a sysexits(3) exit code
/// (issue 10 item 10; table in docs/operations.md). The stack trace follows only when <c>Logging:LogLevel:Default</c> is
/// <c>Debug</c> or <c>Trace</c>.
/// </summary>
internal static class StartupFailure
{
    /// <summary>EX_DATAERR: <c>kai.db</c> is corrupt or not a SQLite database.</summary>
    public const int DataError = 65;
    /// <summary>EX_UNAVAILABLE: the listen port is in use, or the backplane's broker (RabbitMQ) cannot be reached.</summary>
    public const int PortInUse = 69;
    /// <summary>EX_UNAVAILABLE: the configured store (PostgreSQL) cannot be reached or refuses the login.</summary>
    public const int Unavailable = 69;
    /// <summary>EX_SOFTWARE: anything not foreseen.</summary>
    public const int Software = 70;
    /// <summary>EX_CANTCREAT: the data directory cannot be created (its path is a file, or the parent is not writable).</summary>
    public const int CannotCreate = 73;
    /// <summary>EX_IOERR: reading or writing the data failed (disk full, I/O error).</summary>
    public const int IoError = 74;
    /// <summary>EX_NOPERM: the data directory exists but cannot be written (read-only, permissions), or the port needs privileges.</summary>
    public const int NoPermission = 77;
    /// <summary>EX_CONFIG: a setting is invalid.</summary>
    public const int Config = 78;

    /// <summary>Writes the line (and at debug level the exception) to <paramref name="error"/>; returns the exit code.</summary>
    public static int Report(Exception ex, string[] args, TextWriter error)
    {
        var config = new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddEnvironmentVariables()
            .AddCommandLine(args)
            .Build();
        var dataDir = Path.GetFullPath(config["Kai:DataDirectory"] ?? new HubOptions().DataDirectory);
        var urls = config["urls"] ?? config["ASPNETCORE_URLS"] ?? HubApplication.DefaultUrl;
        var (code, line) = Classify(ex, dataDir, urls);
        error.WriteLine($"kai-hub: {line}");
        if (config["Logging:LogLevel:Default"] is { } level && (level.Equals("Debug", StringComparison.OrdinalIgnoreCase) || level.Equals("Trace", StringComparison.OrdinalIgnoreCase)))
        {
            error.WriteLine(ex.ToString());
        }
        return code;
    }

    internal static (int Code, string Line) Classify(Exception ex, string dataDir, string urls)
    {
        var chain = Chain(ex).ToList();
        if (chain.OfType<OptionsValidationException>().FirstOrDefault() is { } invalid)
        {
            return (Config, $"invalid configuration: {invalid.Message}");
        }
        if (chain.OfType<Storage.StoreUnavailableException>().FirstOrDefault() is { } unreachable)
        {
            return (Unavailable, unreachable.Message);
        }
        if (chain.OfType<Cluster.BackplaneUnavailableException>().FirstOrDefault() is { } backplane)
        {
            return (Unavailable, backplane.Message);
        }
        if (chain.Any(e => e.GetType().Name == "AddressInUseException" || e is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse }))
        {
            return (PortInUse, $"cannot listen on {urls}: the port is already in use by another process (choose another with --urls)");
        }
        if (chain.OfType<SocketException>().FirstOrDefault(s => s.SocketErrorCode == SocketError.AccessDenied) is not null)
        {
            return (NoPermission, $"cannot listen on {urls}: permission denied (ports below 1024 need privileges)");
        }
        var db = Path.Combine(dataDir, "kai.db");
        if (chain.OfType<SqliteException>().FirstOrDefault(s => s.SqliteErrorCode is 11 or 26) is { } corrupt)
        {
            return (DataError, $"the database {db} is corrupt or not a SQLite database ({corrupt.Message}); restore it from a backup or move it away");
        }
        if (File.Exists(dataDir))
        {
            return (CannotCreate, $"the data directory {dataDir} is a file, not a directory; set Kai:DataDirectory to a directory");
        }
        var storage = chain.FirstOrDefault(e => e is UnauthorizedAccessException or IOException || e is SqliteException { SqliteErrorCode: 8 or 14 or 10 or 13 });
        if (storage is not null)
        {
            if (!Directory.Exists(dataDir))
            {
                return (CannotCreate, $"cannot create the data directory {dataDir}: {Reason(storage)}");
            }
            if (!CanWrite(dataDir) || storage is UnauthorizedAccessException || storage is SqliteException { SqliteErrorCode: 8 or 14 })
            {
                return (NoPermission, $"cannot write to the data directory {dataDir}: it is read-only or not writable by this user ({Reason(storage)})");
            }
            return (IoError, $"cannot read or write {db}: {Reason(storage)}");
        }
        return (Software, $"start-up failed: {ex.GetType().Name}: {ex.Message} (run with --Logging:LogLevel:Default=Debug for details)");
    }

    private static string Reason(Exception e) => e is SqliteException s ? $"SQLite error {s.SqliteErrorCode}: {s.Message.Replace("SQLite Error ", "", StringComparison.Ordinal)}" : e.Message;

    private static bool CanWrite(string dir)
    {
        var probe = Path.Combine(dir, $".kai-write-test-{Environment.ProcessId}");
        try
        {
            File.WriteAllText(probe, "");
            File.Delete(probe);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static IEnumerable<Exception> Chain(Exception ex)
    {
        var stack = new Stack<Exception>([ex]);
        while (stack.TryPop(out var e))
        {
            yield return e;
            if (e is AggregateException agg)
            {
                foreach (var inner in agg.InnerExceptions)
                {
                    stack.Push(inner);
                }
            }
            else if (e.InnerException is { } inner)
            {
                stack.Push(inner);
            }
        }
    }
}
