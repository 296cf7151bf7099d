using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;

namespace Kai.Cli.Tests.EndToEnd;

/// <summary><c>kai</c> as a .NET tool: packed from the build, installed with <c>dotnet tool install</c>, run by its command name.</summary>
public sealed partial class ToolInstallTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kai-tool-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static async Task<(int Exit, string Output)> RunAsync(string program, string workingDirectory, string[] args, Dictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    [Fact]
    public async Task Kai_packs_as_a_dotnet_tool_installs_into_a_tool_path_and_runs_as_kai()
    {
        var root = KaiCli.RepositoryRoot;
        var configuration = typeof(ToolInstallTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var artifacts = Path.Combine(_dir, "artifacts");
        // The CLI is already built (this test project references it); packing that build keeps the test from rebuilding the tree.
        var pack = await RunAsync("dotnet", root, ["pack", Path.Combine("src", "Kai.Cli"), "-c", configuration, "--no-build", "-o", artifacts]);
        Assert.True(pack.Exit == 0, pack.Output);
        var version = VersionProperty().Match(File.ReadAllText(Path.Combine(root, "src", "Kai.Cli", "Kai.Cli.csproj"))).Groups[1].Value;
        // The package version is the pack time (0.1.yyyyMMdd.HHmmss), so an update always takes the newest build.
        var package = Assert.Single(Directory.GetFiles(artifacts, "Kai.Cli.*.nupkg"));
        Assert.Matches(@"Kai\.Cli\.\d+\.\d+\.\d{8}(\.\d+)?\.nupkg$", package); // NuGet drops leading zeros and a trailing .0

        // Only the local folder as a source, so the install proves the package is complete on its own.
        var config = Path.Combine(_dir, "nuget.config");
        File.WriteAllText(config, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration><packageSources><clear /><add key="artifacts" value="{artifacts}" /></packageSources></configuration>
            """);
        var tools = Path.Combine(_dir, "tools");
        // A private package cache too: the shared one may hold an older Kai.Cli, and the install must prove this package.
        var install = await RunAsync("dotnet", _dir, ["tool", "install", "--tool-path", tools, "--configfile", config, "Kai.Cli"],
            new() { ["NUGET_PACKAGES"] = Path.Combine(_dir, "nuget-cache") });
        Assert.True(install.Exit == 0, install.Output);
        Assert.Contains("kai", install.Output, StringComparison.Ordinal);

        var kai = Path.Combine(tools, OperatingSystem.IsWindows() ? "kai.exe" : "kai");
        var ran = await RunAsync(kai, _dir, ["--version"]);
        Assert.True(ran.Exit == 0, ran.Output);
        Assert.StartsWith(version, ran.Output.Trim(), StringComparison.Ordinal);
        var help = await RunAsync(kai, _dir, ["--help"]);
        Assert.Contains("kai: the command line of Kai Hub", help.Output, StringComparison.Ordinal);
    }

    [GeneratedRegex("<Version>([^<]+)</Version>")]
    private static partial Regex VersionProperty();
}
