using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;

namespace Kai.Cli.Tests.EndToEnd;

/// <summary>The outcome of one finished <c>kai</c> run.</summary>
public sealed record KaiRun(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
}

/// <summary>
/// Runs the built <c>kai</c> as a real child process: <c>dotnet src/Kai.Cli/bin/{Configuration}/{tfm}/kai.dll</c>, the
/// configuration and target framework being the test assembly's own, with a private config directory and hub URL.
/// </summary>
public sealed class KaiCli(string configDirectory, Uri hub)
{
    private static readonly Lazy<string> Dll = new(FindDll);

    public string ConfigDirectory { get; } = configDirectory;

    public static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Kai.sln")))
                {
                    return dir.FullName;
                }
            }
            throw new InvalidOperationException($"No Kai.sln above {AppContext.BaseDirectory}.");
        }
    }

    private static string FindDll()
    {
        var configuration = typeof(KaiCli).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Name;
        var dll = Path.Combine(RepositoryRoot, "src", "Kai.Cli", "bin", configuration, tfm, "kai.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException($"Build Kai.Cli first: {dll} is missing.", dll);
    }

    /// <summary>The built kai.dll (the CLI's own build output).</summary>
    public static string DllPath => Dll.Value;

    /// <summary>Extra environment variables for every child (null removes one).</summary>
    public Dictionary<string, string?> Environment { get; } = new(StringComparer.Ordinal);

    /// <summary>The children's working directory (null: the test's).</summary>
    public string? WorkingDirectory { get; set; }

    private ProcessStartInfo StartInfo(IEnumerable<string> args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(Dll.Value);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment["KAI_CONFIG_DIR"] = ConfigDirectory;
        start.Environment["KAI_URL"] = hub.ToString().TrimEnd('/');
        foreach (var name in new[] { "KAI_TOKEN", "KAI_EMAIL", "KAI_PASSWORD", "Kai__DataDirectory" })
        {
            start.Environment.Remove(name);
        }
        foreach (var (name, value) in Environment)
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }
        if (WorkingDirectory is not null)
        {
            start.WorkingDirectory = WorkingDirectory;
        }
        return start;
    }

    /// <summary>Runs <c>kai</c> to completion (60 s at most), with <paramref name="stdin"/> piped in.</summary>
    public async Task<KaiRun> RunAsync(string[] args, string? stdin = null)
    {
        using var process = Process.Start(StartInfo(args))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }
        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"kai {string.Join(' ', args)} did not finish within 60 s; stderr so far: {await stderr}");
        }
        return new KaiRun(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Starts a long-running <c>kai</c> (such as <c>agent run</c>); its stderr lines are collected.</summary>
    public LongRunning Start(params string[] args) => new(Process.Start(StartInfo(args))!);

    public sealed class LongRunning : IDisposable
    {
        private readonly ConcurrentQueue<string> _lines = new();

        public LongRunning(Process process)
        {
            Process = process;
            process.StandardInput.Close();
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    _lines.Enqueue(e.Data);
                }
            };
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    _lines.Enqueue(e.Data);
                }
            };
            process.BeginErrorReadLine();
            process.BeginOutputReadLine();
        }

        public Process Process { get; }

        public string Output => string.Join('\n', _lines);

        /// <summary>Polls the output until a line contains <paramref name="text"/>, up to a 30 s deadline.</summary>
        public async Task WaitForAsync(string text)
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!_lines.Any(l => l.Contains(text, StringComparison.Ordinal)))
            {
                if (Process.HasExited || DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"no '{text}' from kai (exited: {Process.HasExited}); output:\n{Output}");
                }
                await Task.Delay(50);
            }
        }

        public void Dispose()
        {
            try
            {
                Process.Kill(entireProcessTree: true);
                Process.WaitForExit(10_000);
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
            Process.Dispose();
        }
    }
}
