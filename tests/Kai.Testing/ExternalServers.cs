namespace Kai.Testing;

/// <summary>
/// The rule for tests that need a program or server outside the .NET SDK (PostgreSQL, RabbitMQ, an npm package,
/// Chromium, promtool): <c>.ci/run</c> installs and starts it, so in CI (<c>CI=true</c>) a missing one fails the test;
/// on a developer machine with only the SDK the test is reported as skipped, never as a silent pass.
/// Use it from a <c>[SkippableFact]</c> (package Xunit.SkippableFact).
/// </summary>
public static class ExternalServers
{
    /// <summary>True when running under <c>.ci/run</c>.</summary>
    public static bool InCi => Environment.GetEnvironmentVariable("CI") == "true";

    /// <summary>Skips (locally) or fails (in CI) unless <paramref name="available"/>.</summary>
    /// <param name="available">Whether the program or server was found.</param>
    /// <param name="what">What is missing and how to get it, e.g. "nats-server (apt-get install nats-server)".</param>
    public static void Require(bool available, string what)
    {
        if (available)
        {
            return;
        }
        Assert.False(InCi, $"{what} is required in CI (.ci/run installs it) but was not found.");
        Skip.If(true, $"{what} is not installed on this machine; .ci/run installs it.");
    }

    /// <summary>The first of <paramref name="candidates"/> that exists as a file, or the name found on PATH, or null.</summary>
    public static string? FindProgram(string name, params string[] candidates)
    {
        foreach (var c in candidates)
        {
            if (File.Exists(c))
            {
                return c;
            }
        }
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var path = Path.Combine(dir, name);
            if (File.Exists(path))
            {
                return path;
            }
        }
        return null;
    }
}
