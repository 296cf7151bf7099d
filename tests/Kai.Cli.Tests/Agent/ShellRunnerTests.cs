using Kai.Cli.Agent;

namespace Kai.Cli.Tests.Agent;

public sealed class ShellRunnerTests
{
    private static ShellRunner Runner(TimeSpan? timeout = null, int maxOutput = 64 * 1024, params string[] allowed) =>
        new(new ShellOptions { Allowed = allowed, Timeout = timeout ?? TimeSpan.FromSeconds(20), MaxOutputBytes = maxOutput });

    [Fact]
    public async Task Runs_an_allowed_program_with_arguments_passed_verbatim()
    {
        var result = await Runner(allowed: ["echo"]).RunAsync("echo", ["a b", "$(id)", ";", "*"], CancellationToken.None);
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("a b $(id) ; *\n", result.Stdout);
        Assert.False(result.Truncated);
        Assert.False(result.TimedOut);
    }

    [Fact]
    public async Task Reports_the_exit_code_and_stderr_of_a_failing_program()
    {
        var result = await Runner(allowed: ["ls"]).RunAsync("ls", ["/definitely/not/here"], CancellationToken.None);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("/definitely/not/here", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_program_not_on_the_list_is_refused_naming_the_allowed_ones()
    {
        var runner = Runner(allowed: ["wc", "uname"]);
        var ex = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => runner.RunAsync("rm", ["-rf", "/tmp/x"], CancellationToken.None));
        Assert.Contains("'rm' is not allowed", ex.Message, StringComparison.Ordinal);
        Assert.Contains("uname, wc", ex.Message, StringComparison.Ordinal);
        // Matching is exact: a path or another case is not the allowed name.
        Assert.False(runner.IsAllowed("/usr/bin/wc"));
        Assert.False(runner.IsAllowed("WC"));
        Assert.False(runner.IsAllowed("wc "));
        Assert.True(runner.IsAllowed("wc"));
    }

    [Fact]
    public async Task With_no_allow_list_nothing_runs()
    {
        var ex = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => Runner().RunAsync("echo", [], CancellationToken.None));
        Assert.Contains("--allow-shell", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_program_that_outlives_the_timeout_is_killed_with_its_children()
    {
        // sh starts a background sleep, prints its pid and waits: the tree kill must take the grandchild too.
        var result = await Runner(TimeSpan.FromMilliseconds(500), allowed: ["sh"])
            .RunAsync("sh", ["-c", "sleep 60 & echo $!; wait"], CancellationToken.None);
        Assert.True(result.TimedOut);
        Assert.NotEqual(0, result.ExitCode);
        var grandchild = int.Parse(result.Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (IsRunning(grandchild) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        Assert.False(IsRunning(grandchild), $"the background sleep {grandchild} survived the timeout");
    }

    [Fact]
    public async Task Output_beyond_the_cap_is_cut_flagged_and_stops_the_program()
    {
        // `yes` never ends on its own: only the cap stops it, well before the generous timeout.
        var result = await Runner(TimeSpan.FromSeconds(60), maxOutput: 1000, allowed: ["yes"]).RunAsync("yes", ["kai"], CancellationToken.None);
        Assert.True(result.Truncated);
        Assert.False(result.TimedOut);
        Assert.Equal(1000, result.Stdout.Length);
        Assert.StartsWith("kai\nkai\n", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Output_within_the_cap_is_kept_whole()
    {
        var result = await Runner(maxOutput: 1000, allowed: ["head"]).RunAsync("head", ["-c", "1000", "/dev/zero"], CancellationToken.None);
        Assert.False(result.Truncated);
        Assert.Equal(1000, result.Stdout.Length);
        Assert.Equal(0, result.ExitCode);
    }

    [Fact]
    public async Task Stdin_is_closed_so_a_program_reading_it_does_not_hang()
    {
        var result = await Runner(TimeSpan.FromSeconds(30), allowed: ["wc"]).RunAsync("wc", ["-l"], CancellationToken.None);
        Assert.False(result.TimedOut);
        Assert.Equal("0", result.Stdout.Trim());
    }

    private static bool IsRunning(int pid) =>
        File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Split(' ')[2].Equals("Z", StringComparison.Ordinal);
}
