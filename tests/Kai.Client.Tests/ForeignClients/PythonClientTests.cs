using Kai.Testing;

namespace Kai.Client.Tests.ForeignClients;

/// <summary>
/// The Python client (<c>clients/python</c>) runs its own unittest suite against a real hub: login and agent credentials, typed
/// errors, an agent answering a REST command, completing a task with its fencing token and messaging a second agent, the
/// close codes (1001, 4002, 4006), and an event subscription resuming after a reconnect with <c>since</c>.
/// Needs <c>/usr/bin/python3</c> with Debian's <c>python3-websockets</c> and <c>python3-httpx</c> (or <c>KAI_PYTHON</c>).
/// </summary>
public sealed class PythonClientTests
{
    [SkippableFact]
    public async Task The_python_client_suite_passes_against_a_real_hub()
    {
        var python = Environment.GetEnvironmentVariable("KAI_PYTHON") is { Length: > 0 } p ? p : "/usr/bin/python3";
        var dir = Path.Combine(ForeignClientRun.RepoRoot(), "clients", "python");
        var available = File.Exists(python)
            && (await ForeignClientRun.RunAsync(python, dir, TimeSpan.FromSeconds(30), "-c", "import websockets, httpx")).Code == 0;
        ExternalServers.Require(available, "python3 with websockets and httpx (apt-get install python3-websockets python3-httpx)");

        var (code, output) = await ForeignClientRun.RunSuiteAgainstHubAsync(python, dir, ["-m", "unittest", "discover", "-s", "tests", "-t", ".", "-v"]);

        Assert.True(code == 0, $"python -m unittest exited with {code}:\n{output}");
        Assert.DoesNotContain("skipped '", output, StringComparison.Ordinal);
    }
}
