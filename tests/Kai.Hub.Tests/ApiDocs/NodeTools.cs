using System.Diagnostics;
using Kai.Testing;

namespace Kai.Hub.Tests.ApiDocs;

/// <summary>
/// The npm linters of the API descriptions (<c>@redocly/cli</c>, <c>@asyncapi/parser</c>), installed by
/// <c>.ci/setup/60-apidocs.sh</c> under <c>$KAI_NPM_TOOLS</c> (default <c>/opt/kai-npm</c>), run as child processes.
/// </summary>
internal static class NodeTools
{
    public static string Prefix => Environment.GetEnvironmentVariable("KAI_NPM_TOOLS") is { Length: > 0 } p ? p : "/opt/kai-npm";

    public static string NodeModules => Path.Combine(Prefix, "node_modules");

    public static string? Node => ExternalServers.FindProgram("node");

    public static string RepositoryRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Kai.sln")))
            {
                dir = dir.Parent;
            }
            return dir?.FullName ?? throw new InvalidOperationException("Kai.sln not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>Runs a program; returns its exit code and its stdout and stderr together.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string program, IEnumerable<string> args, string workingDirectory)
    {
        var start = new ProcessStartInfo(program)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        start.Environment["NODE_PATH"] = NodeModules;
        start.Environment["NO_COLOR"] = "1";
        start.Environment["REDOCLY_TELEMETRY"] = "off";
        start.Environment["REDOCLY_SUPPRESS_UPDATE_NOTICE"] = "true";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
