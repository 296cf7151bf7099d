using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Kai.Cli.Tests.EndToEnd;

/// <summary>
/// What a new user ran into (issue 15), each through the real <c>kai</c>: a task printed before it ended, a workflow waiting
/// forever for a capability nobody has, Ctrl-C leaving a run going, an agent exiting after its secret was rotated, and admin
/// bootstrap writing to a database the hub does not use.
/// </summary>
public sealed partial class NewcomerFlowTests : CliFlow
{
    private async Task LoginAsync(string email)
    {
        var register = await Kai("register", "--email", email, "--password", "correct-horse-1", "--name", "New");
        Assert.True(register.ExitCode == 0, register.ToString());
    }

    private async Task<KaiCli.LongRunning> StartAgentAsync(string id, params string[] capabilities)
    {
        var created = await Kai(["agents", "create", "--id", id, "--name", id, "--type", "text", .. capabilities.SelectMany(c => new[] { "--capability", c })]);
        Assert.True(created.ExitCode == 0, created.ToString());
        var agent = Start("agent", "run", "--id", id);
        await agent.WaitForAsync("connected to the hub");
        return agent;
    }

    private string WriteWorkflow(string name, object body)
    {
        var file = Path.Combine(Dir, name);
        File.WriteAllText(file, JsonSerializer.Serialize(body));
        return file;
    }

    [Fact]
    public async Task Task_create_waits_for_the_end_and_prints_the_final_state()
    {
        await LoginAsync("tasks@example.com");
        await StartAgentAsync("tc-a", "text.stats");
        var readme = Path.Combine(KaiCli.RepositoryRoot, "README.md");

        var created = await Kai("task", "create", "--type", "text.stats", "--json", JsonSerializer.Serialize(new { path = readme }));

        Assert.True(created.ExitCode == 0, created.ToString());
        Assert.Contains("status:       completed", created.Stdout, StringComparison.Ordinal);
        Assert.Contains("progress:     100%", created.Stdout, StringComparison.Ordinal);
        Assert.Contains($"\"lines\":{File.ReadAllLines(readme).Length}", created.Stdout, StringComparison.Ordinal);

        // --wait 0 prints the task as created; nobody takes type "nobody", so a short wait still ends queued.
        var queued = await Kai("task", "create", "--type", "nobody", "--wait", "0.2");
        Assert.True(queued.ExitCode == 0, queued.ToString());
        Assert.Contains("status:       queued", queued.Stdout, StringComparison.Ordinal);
        var bad = await Kai("task", "create", "--type", "x", "--wait", "-1");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--wait must be", bad.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Workflow_run_names_a_missing_capability_and_its_stage_timeout_counts_queue_time()
    {
        await LoginAsync("workflows@example.com");
        await StartAgentAsync("wf-stats", "text.stats");
        var file = WriteWorkflow("merge.json", new
        {
            name = "needs-merge",
            stages = new object[]
            {
                new { name = "readme", agent_type = "text.stats", input_data = new { path = Path.Combine(KaiCli.RepositoryRoot, "README.md") } },
                new { name = "merge", agent_type = "text.merge", dependencies = new[] { "readme" }, timeout = 1 },
            },
        });

        var run = await Kai("workflow", "run", file);

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains("warning: no agent has capability 'text.merge' (stage merge)", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("your agents offer: text, text.stats", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("error: stage merge waited 1 s in the queue and no agent took it", run.Stderr, StringComparison.Ordinal);
        // The first stage ran: queue time counts from when a stage is ready, not from the start of the run.
        Assert.Matches(@"stage readme\s+completed", run.Stdout);
        var id = WorkflowId().Match(run.Stderr).Groups[1].Value;
        var status = await Kai("workflow", "status", id);
        Assert.Equal(1, status.ExitCode);
        Assert.Contains($"workflow {id} (needs-merge): canceled", status.Stdout, StringComparison.Ordinal);

        var badTimeout = await Kai("workflow", "run", file, "--stage-timeout", "0");
        Assert.Equal(2, badTimeout.ExitCode);
    }

    [Fact]
    public async Task Ctrl_c_cancels_the_workflow_run_when_stdin_is_not_a_terminal()
    {
        await LoginAsync("ctrlc@example.com");
        var file = WriteWorkflow("lonely.json", new { name = "lonely", stages = new object[] { new { name = "only", agent_type = "nobody.has.this" } } });
        var run = Start("workflow", "run", file);
        await run.WaitForAsync("started with 1 stages");
        Assert.Contains("no agent has capability 'nobody.has.this'", run.Output, StringComparison.Ordinal);

        using (var kill = Process.Start("kill", ["-INT", run.Process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }
        using (var exit = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            await run.Process.WaitForExitAsync(exit.Token);
        }

        Assert.True(run.Process.ExitCode == 130, run.Output);
        var id = WorkflowId().Match(run.Output).Groups[1].Value;
        Assert.Contains($"workflow {id}: canceled", run.Output, StringComparison.Ordinal);
        var status = await Kai("workflow", "status", id);
        Assert.Contains($"workflow {id} (lonely): canceled", status.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Agent_run_picks_up_a_rotated_secret_and_keeps_answering()
    {
        await LoginAsync("rotate@example.com");
        var agent = await StartAgentAsync("rot-a", "text.stats");
        var before = await Kai("send", "rot-a", "ping");
        Assert.True(before.ExitCode == 0, before.ToString());

        var rotated = await Kai("agents", "rotate-secret", "rot-a");
        Assert.True(rotated.ExitCode == 0, rotated.ToString());

        // The hub closes the link (4002) and refuses the old secret; the agent re-reads its saved credentials and reconnects.
        await agent.WaitForAsync("using the newly saved one");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (agent.Output.Split('\n').Count(l => l.Contains("connected to the hub", StringComparison.Ordinal)) < 2 && DateTime.UtcNow < deadline)
        {
            Assert.False(agent.Process.HasExited, agent.Output);
            await Task.Delay(50);
        }
        Assert.False(agent.Process.HasExited, agent.Output);
        var after = await Kai("send", "rot-a", "ping");
        // Exit 0 means the command completed (3 would be "queued: the agent is offline").
        Assert.True(after.ExitCode == 0, after.ToString() + "\nagent:\n" + agent.Output);
        Assert.Equal(before.Stdout.Length > 0, after.Stdout.Length > 0);
    }

    [Fact]
    public async Task Admin_bootstrap_uses_the_hubs_data_directory_from_Kai__DataDirectory()
    {
        // The in-process hub's own data directory, given the way an operator gives it to the hub.
        Cli.Environment["Kai__DataDirectory"] = Hub.DataDirectory;
        Cli.Environment["KAI_ADMIN_PASSWORD"] = "boss-password-long-1";
        var made = await Kai("admin", "bootstrap", "--email", "root@example.com");
        Assert.True(made.ExitCode == 0, made.ToString());

        // The running hub sees the new admin: it is the same database, not a second one.
        var login = await Cli.RunAsync(["login", "--email", "root@example.com"], stdin: "boss-password-long-1\n");
        Assert.True(login.ExitCode == 0, login.ToString());
        var users = await Kai("admin", "users");
        Assert.True(users.ExitCode == 0, users.ToString());
        Assert.Contains(users.Stdout.Split('\n'), r => r.Contains("root@example.com", StringComparison.Ordinal) && r.Contains(" admin ", StringComparison.Ordinal));
    }

    [GeneratedRegex(@"workflow (wf_\S+)")]
    private static partial Regex WorkflowId();
}
