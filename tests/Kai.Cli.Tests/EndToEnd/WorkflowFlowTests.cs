using System.Diagnostics;
using System.Text.Json;
using Kai.Testing;

namespace Kai.Cli.Tests.EndToEnd;

/// <summary>
/// Tasks, workflows, events and streams through the real <c>kai</c>: two <c>kai agent run</c> processes run a three-stage workflow
/// over this repository's files while <c>kai events tail</c> watches, and <c>kai stream</c> prints and cancels a stream.
/// </summary>
public sealed class WorkflowFlowTests : CliFlow
{
    private async Task LoginAsync()
    {
        var register = await Kai("register", "--email", "wf@example.com", "--password", "correct-horse-1", "--name", "Wf");
        Assert.True(register.ExitCode == 0, register.ToString());
    }

    private async Task StartAgentsAsync()
    {
        foreach (var id in new[] { "wf-a", "wf-b" })
        {
            var created = await Kai("agents", "create", "--id", id, "--name", id, "--type", "text", "--capability", "text.stats", "--capability", "text.merge");
            Assert.True(created.ExitCode == 0, created.ToString());
        }
        var a = Start("agent", "run", "--id", "wf-a");
        var b = Start("agent", "run", "--id", "wf-b");
        await a.WaitForAsync("connected to the hub");
        await b.WaitForAsync("connected to the hub");
    }

    [Fact]
    public async Task A_yaml_workflow_over_real_files_runs_on_two_agent_processes_while_events_tail_watches()
    {
        await LoginAsync();
        await StartAgentsAsync();
        var tail = Start("events", "tail", "task.*.completed", "workflow.>");
        await tail.WaitForAsync("subscribed to task.*.completed, workflow.>");

        var root = KaiCli.RepositoryRoot;
        var file = Path.Combine(Dir, "docs.yaml");
        File.WriteAllText(file, $"""
            name: docs-stats
            configuration:
              parallel_execution: true
              failure_strategy: stop_on_error
            stages:
              - name: readme
                agent_type: text.stats
                input_data: {'{'}path: "{Path.Combine(root, "README.md")}", top: 5{'}'}
              - name: protocol
                agent_type: text.stats
                input_data: {'{'}path: "{Path.Combine(root, "docs", "protocol.md")}", top: 5{'}'}
              - name: merge
                agent_type: text.merge
                dependencies: [readme, protocol]
            """);
        var run = await Kai("workflow", "run", file);

        Assert.True(run.ExitCode == 0, run.ToString());
        // Not a terminal: one line per stage change, then the final line and the merged result.
        foreach (var stage in new[] { "readme", "protocol", "merge" })
        {
            Assert.Matches($@"stage {stage}\s+completed\s+\[##########\] 100%  on wf-[ab]", run.Stdout);
        }
        Assert.Matches(@"workflow wf_\S+ completed in", run.Stdout);
        Assert.Contains("result of merge:", run.Stdout, StringComparison.Ordinal);
        var expectedLines = File.ReadAllLines(Path.Combine(root, "README.md")).Length + File.ReadAllLines(Path.Combine(root, "docs", "protocol.md")).Length;
        Assert.Contains($"\"total_lines\": {expectedLines}", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("2 sources", run.Stdout, StringComparison.Ordinal);

        await tail.WaitForAsync("task.text~merge.completed");
        await tail.WaitForAsync(".completed  wf-");
        Assert.Contains(tail.Output.Split('\n'), l => l.Contains("task.text~stats.completed", StringComparison.Ordinal));

        var id = System.Text.RegularExpressions.Regex.Match(run.Stdout, @"workflow (wf_\S+) completed").Groups[1].Value;
        var status = await Kai("workflow", "status", id);
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Contains($"workflow {id} (docs-stats): completed", status.Stdout, StringComparison.Ordinal);
        var tasks = await Kai("task", "list", "--workflow", id);
        Assert.Equal(3, tasks.Stdout.Split('\n').Count(l => l.Contains(" completed ", StringComparison.Ordinal)));

        // A stage that fails for good fails the run: exit code 1.
        var bad = Path.Combine(Dir, "bad.json");
        File.WriteAllText(bad, JsonSerializer.Serialize(new
        {
            name = "missing-file",
            stages = new object[]
            {
                new { name = "stats", agent_type = "text.stats", input_data = new { path = Path.Combine(Dir, "nope.md") }, retry_policy = new { max_attempts = 1 } },
            },
        }));
        var failed = await Kai("workflow", "run", bad);
        Assert.True(failed.ExitCode == 1, failed.ToString());
        Assert.Contains("no such file", failed.Stdout + failed.Stderr, StringComparison.Ordinal);
        Assert.Matches(@"error: workflow wf_\S+ failed", failed.Stderr);
    }

    [Fact]
    public async Task Tasks_streams_and_bad_input_through_the_cli()
    {
        await LoginAsync();
        await StartAgentsAsync();

        var readme = Path.Combine(KaiCli.RepositoryRoot, "README.md");
        var created = await Kai("task", "create", "--type", "text.stats", "--json", JsonSerializer.Serialize(new { path = readme }), "--priority", "high",
            "--max-attempts", "2", "--backoff", "linear", "--idempotency-key", "k-1", "--json-output");
        Assert.True(created.ExitCode == 0, created.ToString());
        var taskId = JsonDocument.Parse(created.Stdout).RootElement.GetProperty("task_id").GetString()!;
        // `task create` waits for the end (up to --wait, 5 s): the agents are running, so it prints the completed task.
        Assert.Equal("completed", JsonDocument.Parse(created.Stdout).RootElement.GetProperty("status").GetString());
        var again = await Kai("task", "create", "--type", "text.stats", "--idempotency-key", "k-1", "--json-output");
        Assert.Equal(taskId, JsonDocument.Parse(again.Stdout).RootElement.GetProperty("task_id").GetString());
        var deadline = DateTime.UtcNow.AddSeconds(20);
        KaiRun show;
        do
        {
            show = await Kai("task", "show", taskId);
        }
        while (!show.Stdout.Contains("status:       completed", StringComparison.Ordinal) && DateTime.UtcNow < deadline);
        Assert.Contains("status:       completed", show.Stdout, StringComparison.Ordinal);
        Assert.Contains($"\"lines\":{File.ReadAllLines(readme).Length}", show.Stdout, StringComparison.Ordinal);
        Assert.Contains("attempts:     1/2 (backoff linear)", show.Stdout, StringComparison.Ordinal);

        // A stream prints its chunks; the words come back as they went in.
        var stream = await Kai("stream", "wf-a", "alpha beta gamma delta", "--context", "{\"delay_ms\": 0}");
        Assert.True(stream.ExitCode == 0, stream.ToString());
        Assert.Equal("alpha beta gamma delta", stream.Stdout.Trim());

        // Ctrl-C (SIGINT) cancels the stream at the hub and exits with 130.
        var words = string.Join('\n', Enumerable.Range(0, 400).Select(i => $"line{i}"));
        var slow = Start("stream", "wf-b", words, "--context", "{\"delay_ms\": 50}");
        await slow.WaitForAsync("line2");
        using (var kill = Process.Start("kill", ["-INT", slow.Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }
        using (var exit = new CancellationTokenSource(TimeSpan.FromSeconds(15)))
        {
            await slow.Process.WaitForExitAsync(exit.Token);
        }
        Assert.True(slow.Process.ExitCode == 130, slow.Output);
        Assert.Contains("cancelled after", slow.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("line399", slow.Output, StringComparison.Ordinal);

        // Bad input: clear errors and exit codes.
        var missing = await Kai("workflow", "run", Path.Combine(Dir, "missing.json"));
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("error: no such file", missing.Stderr, StringComparison.Ordinal);
        var cyclic = Path.Combine(Dir, "cycle.json");
        File.WriteAllText(cyclic, """{"name": "c", "stages": [{"name": "a", "agent_type": "x", "dependencies": ["b"]}, {"name": "b", "agent_type": "x", "dependencies": ["a"]}]}""");
        var cycle = await Kai("workflow", "run", cyclic);
        Assert.Equal(1, cycle.ExitCode);
        Assert.Contains("error INVALID_TEMPLATE", cycle.Stderr, StringComparison.Ordinal);
        var pattern = await Kai("events", "tail", "task.>.x");
        Assert.Equal(1, pattern.ExitCode);
        Assert.Contains("error VALIDATION_ERROR", pattern.Stderr, StringComparison.Ordinal);
        var since = await Kai("events", "tail", "task.>", "--since", "yesterday");
        Assert.Equal(2, since.ExitCode);
        var nobody = await Kai("stream", "nobody", "hi");
        Assert.Equal(1, nobody.ExitCode);
        Assert.Contains("AGENT_NOT_FOUND", nobody.Stderr, StringComparison.Ordinal);
        var noType = await Kai("task", "create");
        Assert.NotEqual(0, noType.ExitCode);
        var logs = await Kai("logs", "wf-a", "--level", "info");
        Assert.True(logs.ExitCode == 0, logs.ToString());
    }
}
