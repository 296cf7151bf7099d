using Kai.Testing;

namespace Kai.Client.Tests.ForeignClients;

/// <summary>
/// The TypeScript client (<c>clients/typescript</c>) is compiled with its own <c>tsc</c> and runs its <c>node --test</c> suite against
/// a real hub: login and agent credentials, typed errors, an agent answering a REST command, completing a task with its fencing
/// token and messaging a second agent, the close codes (1001, 4002, 4006), and an event subscription resuming with <c>since</c>.
/// Needs <c>node</c> and the client's npm modules (<c>npm ci</c> in the client folder, which <c>.ci/setup/50-clients.sh</c> runs);
/// the folder is <c>KAI_TS_CLIENT_DIR</c>, default <c>clients/typescript</c> of this repository.
/// </summary>
public sealed class TypeScriptClientTests
{
    [SkippableFact]
    public async Task The_typescript_client_suite_passes_against_a_real_hub()
    {
        var dir = Environment.GetEnvironmentVariable("KAI_TS_CLIENT_DIR") is { Length: > 0 } d
            ? d
            : Path.Combine(ForeignClientRun.RepoRoot(), "clients", "typescript");
        var node = ExternalServers.FindProgram("node", "/usr/bin/node");
        var tsc = Path.Combine(dir, "node_modules", "typescript", "bin", "tsc");
        ExternalServers.Require(node is not null && File.Exists(tsc) && Directory.Exists(Path.Combine(dir, "node_modules", "ws")),
            "node and the TypeScript client's npm modules (cd clients/typescript && npm ci)");

        var build = await ForeignClientRun.RunAsync(node!, dir, TimeSpan.FromMinutes(3), tsc, "-p", ".");
        Assert.True(build.Code == 0, $"tsc failed ({build.Code}):\n{build.Output}");

        var (code, output) = await ForeignClientRun.RunSuiteAgainstHubAsync(node!, dir, ["--test", "dist/test/"]);

        Assert.True(code == 0, $"node --test exited with {code}:\n{output}");
        Assert.Contains("# fail 0", output, StringComparison.Ordinal);
        Assert.DoesNotContain("# SKIP", output, StringComparison.Ordinal);
    }
}
