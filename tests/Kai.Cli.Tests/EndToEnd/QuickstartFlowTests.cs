using System.Text.Json;
using Kai.Testing;

namespace Kai.Cli.Tests.EndToEnd;

/// <summary>
/// The quick start (examples/quickstart/run.sh) with real processes: an in-process hub on a real socket, and the built
/// <c>kai</c> as child processes for the user's commands and for two hosted agents.
/// </summary>
public sealed class QuickstartFlowTests : CliFlow
{
    private async Task<JsonElement> KaiJson(params string[] args)
    {
        var run = await Kai(args);
        Assert.True(run.ExitCode == 0, run.ToString());
        using var doc = JsonDocument.Parse(run.Stdout);
        return doc.RootElement.Clone();
    }

    [Fact]
    public async Task Two_agent_processes_exchange_stats_and_answer_commands_from_the_cli()
    {
        // A user, through the CLI: register (which logs in), then log in again with the password on stdin.
        var register = await Kai("register", "--email", "ada@example.com", "--password", "correct-horse-1", "--name", "Ada");
        Assert.True(register.ExitCode == 0, register.ToString());
        var login = await Cli.RunAsync(["login", "--email", "ada@example.com"], stdin: "correct-horse-1\n");
        Assert.True(login.ExitCode == 0, login.ToString());
        Assert.Contains("logged in", login.Stdout, StringComparison.Ordinal);

        foreach (var id in new[] { "stats-a", "stats-b" })
        {
            var created = await Kai("agents", "create", "--id", id, "--name", id, "--type", "stats", "--capability", "text.stats");
            Assert.True(created.ExitCode == 0, created.ToString());
            Assert.Contains("client_secret: kas_", created.Stdout, StringComparison.Ordinal);
            Assert.Contains("shown only this once", created.Stderr, StringComparison.Ordinal);
            var saved = Path.Combine(Cli.ConfigDirectory, "agents", id + ".json");
            Assert.True(File.Exists(saved));
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(saved));
            }
        }

        var a = Start("agent", "run", "--id", "stats-a", "--allow-shell", "wc", "--allow-shell", "uname", "--shell-timeout", "5");
        var b = Start("agent", "run", "--id", "stats-b");
        await a.WaitForAsync("connected to the hub");
        await b.WaitForAsync("connected to the hub");

        var list = await Kai("agents", "list", "--capability", "text.stats");
        Assert.True(list.ExitCode == 0, list.ToString());
        var rows = list.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("ID ", rows[0], StringComparison.Ordinal);
        Assert.Contains(rows, r => r.StartsWith("stats-a ", StringComparison.Ordinal) && r.Contains(" yes ", StringComparison.Ordinal));
        Assert.Contains(rows, r => r.StartsWith("stats-b ", StringComparison.Ordinal) && r.Contains(" yes ", StringComparison.Ordinal));

        // Real files with known numbers: 3 lines / 9 words, and 5 lines where "kernel" occurs 4 times.
        var notes = Write("notes.md", "alpha beta gamma\nalpha beta delta\nalpha omega sigma\n");
        var design = Write("design.md", "kernel queue\nkernel router\nthe kernel\n\nkernel hub router\n");

        // Agent A asks agent B by agent_message for the stats of both files.
        var asked = await KaiJson("send", "stats-a", "ask", "--json", JsonSerializer.Serialize(new { to = "stats-b", paths = new[] { notes, design } }));
        var answers = asked.GetProperty("answers").EnumerateArray().ToList();
        Assert.Equal(2, answers.Count);
        Assert.All(answers, x => Assert.Equal("stats-b", x.GetProperty("from_agent").GetString()));
        Assert.All(answers, x => Assert.Equal("text.stats.result", x.GetProperty("message_type").GetString()));
        var first = answers.Single(x => x.GetProperty("path").GetString() == notes).GetProperty("content");
        Assert.Equal(3, first.GetProperty("lines").GetInt32());
        Assert.Equal(9, first.GetProperty("words").GetInt32());
        Assert.Equal("alpha", first.GetProperty("top_terms")[0].GetProperty("term").GetString());
        Assert.Equal(3, first.GetProperty("top_terms")[0].GetProperty("count").GetInt32());
        var second = answers.Single(x => x.GetProperty("path").GetString() == design).GetProperty("content");
        Assert.Equal(5, second.GetProperty("lines").GetInt32());
        Assert.Equal("kernel", second.GetProperty("top_terms")[0].GetProperty("term").GetString());
        Assert.Equal(4, second.GetProperty("top_terms")[0].GetProperty("count").GetInt32());
        await b.WaitForAsync("message text.stats from stats-a");

        // Commands from the CLI: text.stats directly, and shell through the allow-list.
        var stats = await KaiJson("send", "stats-b", "text.stats", "--param", "path=" + design, "--param", "top=2");
        Assert.Equal(5, stats.GetProperty("lines").GetInt32());
        Assert.Equal(2, stats.GetProperty("top_terms").GetArrayLength());
        Assert.Equal("router", stats.GetProperty("top_terms")[1].GetProperty("term").GetString());

        var wc = await KaiJson("send", "stats-a", "shell", "--json", JsonSerializer.Serialize(new { command = "wc", args = new[] { "-l", design } }));
        Assert.Equal(0, wc.GetProperty("exit_code").GetInt32());
        Assert.Equal($"5 {design}", wc.GetProperty("stdout").GetString()!.Trim());
        Assert.False(wc.GetProperty("timed_out").GetBoolean());

        var refused = await Kai("send", "stats-a", "shell", "--json", """{"command":"rm","args":["-rf","/tmp/nothing"]}""");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("'rm' is not allowed", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("uname, wc", refused.Stderr, StringComparison.Ordinal);

        var unknown = await Kai("send", "nobody", "ping");
        Assert.Equal(1, unknown.ExitCode);
        Assert.StartsWith("error AGENT_NOT_FOUND:", unknown.Stderr, StringComparison.Ordinal);
        Assert.Contains("correlation id", unknown.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_login_commands_say_to_run_kai_login()
    {
        var run = await Kai("agents", "list");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("run `kai login`", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_hub_is_named_with_the_way_to_start_one()
    {
        var run = await Kai("login", "--url", "http://127.0.0.1:1", "--email", "a@example.com", "--password", "whatever-123");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("cannot reach the hub at http://127.0.0.1:1", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("dotnet run --project src/Kai.Hub", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_command_for_an_offline_agent_is_reported_queued_with_how_to_check()
    {
        Assert.Equal(0, (await Kai("register", "--email", "bo@example.com", "--password", "correct-horse-2", "--name", "Bo")).ExitCode);
        Assert.Equal(0, (await Kai("agents", "create", "--id", "sleeper", "--name", "sleeper", "--type", "stats")).ExitCode);
        var sent = await Kai("send", "sleeper", "ping", "--timeout", "0");
        Assert.Equal(3, sent.ExitCode);
        Assert.Contains("is queued", sent.Stderr, StringComparison.Ordinal);
        var commandId = sent.Stderr.Split("kai status ")[1].Trim();
        var status = await Kai("status", commandId);
        Assert.Equal(3, status.ExitCode);
        Assert.Contains("\"status\": \"queued\"", status.Stdout, StringComparison.Ordinal);

        // Once the agent runs, the queued command is delivered and answered.
        var agent = Start("agent", "run", "--id", "sleeper");
        await agent.WaitForAsync("ping completed");
        Assert.Equal(0, (await Kai("status", commandId)).ExitCode);
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(Dir, name);
        File.WriteAllText(path, text);
        return path;
    }
}
