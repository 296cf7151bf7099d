using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Kai.Hub.Tests.Observability;

/// <summary>
/// Issue 10 item 10: a hub that cannot start says why in ONE line naming the path or port, and exits with a distinct sysexits
/// code; the stack trace appears only at debug level. The hub runs as a child process (<c>dotnet Kai.Hub.dll</c> of this build).
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class StartupFailureTests
{
    [Fact]
    public async Task A_data_directory_that_is_a_file_exits_73_with_one_line_naming_it()
    {
        var file = Path.Combine(Path.GetTempPath(), "kai-tests", "file-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        await File.WriteAllTextAsync(file, "not a directory");
        try
        {
            var (code, line) = await RunHubAsync("--Kai:DataDirectory=" + file);
            Assert.Equal(73, code);
            Assert.Contains(file, line, StringComparison.Ordinal);
            Assert.Contains("is a file", line, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task An_unwritable_data_directory_that_cannot_be_created_exits_73()
    {
        // Nobody, root included, may create directories in /proc.
        var dir = "/proc/kai-" + Guid.NewGuid().ToString("N");
        var (code, line) = await RunHubAsync("--Kai:DataDirectory=" + dir);
        Assert.Equal(73, code);
        Assert.Contains(dir, line, StringComparison.Ordinal);
        Assert.Contains("cannot create", line, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_read_only_data_directory_exits_77_naming_it()
    {
        var dir = Path.Combine(Path.GetTempPath(), "kai-tests", "ro-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var mounted = false;
        try
        {
            if (Environment.UserName == "root")
            {
                // Root ignores permission bits: only a read-only mount is read-only for it.
                mounted = Run("mount", $"-t tmpfs -o ro,size=1m tmpfs {dir}");
                Skip.IfNot(mounted, "as root, a read-only directory needs a read-only mount (CAP_SYS_ADMIN)");
            }
            else
            {
                File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserExecute);
            }
            var (code, line) = await RunHubAsync("--Kai:DataDirectory=" + dir);
            Assert.Equal(77, code);
            Assert.Contains(dir, line, StringComparison.Ordinal);
            Assert.Contains("read-only", line, StringComparison.Ordinal);
        }
        finally
        {
            if (mounted)
            {
                Run("umount", dir);
            }
            else
            {
                File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_corrupted_database_exits_65_naming_the_file()
    {
        var dir = Path.Combine(Path.GetTempPath(), "kai-tests", "corrupt-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var db = Path.Combine(dir, "kai.db");
        await File.WriteAllTextAsync(db, string.Concat(Enumerable.Repeat("this is not a SQLite database. ", 200)));
        try
        {
            var (code, line) = await RunHubAsync("--Kai:DataDirectory=" + dir);
            Assert.Equal(65, code);
            Assert.Contains(db, line, StringComparison.Ordinal);
            Assert.Contains("corrupt", line, StringComparison.Ordinal);
            // Nothing was overwritten.
            Assert.StartsWith("this is not", await File.ReadAllTextAsync(db), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_port_in_use_exits_69_naming_the_port()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var dir = Path.Combine(Path.GetTempPath(), "kai-tests", "port-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (code, line) = await RunHubAsync("--Kai:DataDirectory=" + dir, "--urls", $"http://127.0.0.1:{port}");
            Assert.Equal(69, code);
            Assert.Contains($"127.0.0.1:{port}", line, StringComparison.Ordinal);
            Assert.Contains("in use", line, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Fact]
    public async Task The_stack_trace_appears_only_at_debug_level()
    {
        var dir = "/proc/kai-" + Guid.NewGuid().ToString("N");
        var (code, _, stderr) = await RunHubRawAsync("--Kai:DataDirectory=" + dir, "--Logging:LogLevel:Default=Debug");
        Assert.Equal(73, code);
        Assert.Contains("   at ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_store_exits_78_naming_the_setting()
    {
        var (code, line) = await RunHubAsync("--Kai:DataDirectory=" + Path.Combine(Path.GetTempPath(), "kai-tests", "store-" + Guid.NewGuid().ToString("N")), "--Kai:Store=mysql");
        Assert.Equal(78, code);
        Assert.Contains("Kai:Store must be sqlite or postgres", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_postgres_store_without_a_connection_string_exits_78()
    {
        var (code, line) = await RunHubAsync("--Kai:DataDirectory=" + Path.Combine(Path.GetTempPath(), "kai-tests", "store-" + Guid.NewGuid().ToString("N")), "--Kai:Store=postgres");
        Assert.Equal(78, code);
        Assert.Contains("ConnectionStrings:Postgres is not set", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_postgres_exits_69_naming_host_and_port_but_not_the_password()
    {
        // A port nobody listens on: bound, then released.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var (code, line) = await RunHubAsync("--Kai:DataDirectory=" + Path.Combine(Path.GetTempPath(), "kai-tests", "store-" + Guid.NewGuid().ToString("N")),
            "--Kai:Store=postgres", $"--ConnectionStrings:Postgres=Host=127.0.0.1;Port={port};Username=kai;Password=s3cret-pw;Database=kai;Timeout=5");
        Assert.Equal(69, code);
        Assert.Contains($"cannot connect to PostgreSQL at 127.0.0.1:{port}/kai", line, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-pw", line, StringComparison.Ordinal);
    }

    /// <summary>Runs the hub; asserts stderr is exactly one line without a stack trace; returns the exit code and that line.</summary>
    private static async Task<(int Code, string Line)> RunHubAsync(params string[] args)
    {
        var (code, _, stderr) = await RunHubRawAsync(args);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length == 1, $"expected one line on stderr, got:\n{stderr}");
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        Assert.StartsWith("kai-hub: ", lines[0], StringComparison.Ordinal);
        return (code, lines[0]);
    }

    private static async Task<(int Code, string Stdout, string Stderr)> RunHubRawAsync(params string[] args)
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Kai.sln")))
        {
            root = root.Parent;
        }
        Assert.NotNull(root);
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
        var dll = Path.Combine(root.FullName, "src", "Kai.Hub", "bin", configuration, "net10.0", "Kai.Hub.dll");
        Assert.True(File.Exists(dll), $"build the hub first: {dll}");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        info.ArgumentList.Add(dll);
        var hasUrls = args.Contains("--urls");
        foreach (var a in args.Concat(hasUrls ? [] : ["--urls", "http://127.0.0.1:0"]).Concat(["--environment", "Production"]))
        {
            info.ArgumentList.Add(a);
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("the hub did not exit on a failed start");
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    private static bool Run(string file, string args)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
