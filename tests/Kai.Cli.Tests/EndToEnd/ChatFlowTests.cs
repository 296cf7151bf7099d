using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Kai.Hub.Tests.Hosting;
using Kai.Protocol;
using Kai.Protocol.Chat;
using Kai.Testing;
using Microsoft.Data.Sqlite;

namespace Kai.Cli.Tests.EndToEnd;

/// <summary>
/// <c>kai chat</c> through the real CLI, against a hub whose provider is the scripted OpenAI-compatible server in its own process
/// (tests/Kai.Hub.Tests/Hosting/scripted-llm.js: it streams back, as its answer, the JSON of the request it got).
/// </summary>
public sealed partial class ChatFlowTests
{
    private static Dictionary<string, string> Settings(Uri llm)
    {
        var s = LlmServer.ProviderSettings(llm, retries: 0);
        // The scripted server echoes the system prompt too: keep the goal marker out of it, so only the turn limit ends an exchange.
        s["Kai:Chat:GoalInstruction"] = "false";
        return s;
    }

    private static async Task<(LlmServer Llm, TestHub Hub, KaiCli Cli, string Token)> StartAsync(string email)
    {
        var llm = await LlmServer.StartScriptedAsync();
        var hub = await TestHub.StartAsync(settings: Settings(llm.BaseUrl));
        var user = await hub.NewUserAsync(email);
        var cli = new KaiCli(Path.Combine(hub.DataDirectory, "cli-config"), hub.BaseAddress);
        var login = await cli.RunAsync(["login", "--email", email], stdin: "correct-horse-battery\n");
        Assert.True(login.ExitCode == 0, login.ToString());
        return (llm, hub, cli, user.AccessToken);
    }

    private static string SessionId(KaiRun run) => SessionPattern().Match(run.Stderr) is { Success: true } m ? m.Value : throw new Xunit.Sdk.XunitException("no session id: " + run);

    [SkippableFact]
    public async Task An_interactive_chat_streams_each_answer_keeps_the_history_and_ends_the_session_at_the_end_of_input()
    {
        var (llm, hub, cli, token) = await StartAsync("chat@example.com");
        await using var _ = llm;
        await using var __ = hub;

        var run = await cli.RunAsync(["chat", "local", "--model", "m2", "--personality", "a pirate"], stdin: "hello there\n\n   \nand again\n");
        Assert.True(run.ExitCode == 0, run.ToString());
        var answers = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, answers.Length);
        var first = JsonDocument.Parse(answers[0]).RootElement;
        Assert.Equal("m2", first.GetProperty("model").GetString());
        var sent = first.GetProperty("messages").EnumerateArray().ToList();
        Assert.Contains("a pirate", sent[0].GetProperty("content").GetString(), StringComparison.Ordinal);
        Assert.Equal("hello there", sent[^1].GetProperty("content").GetString());
        // The blank lines were skipped; the second answer carries the first turn as history.
        var second = JsonDocument.Parse(answers[1]).RootElement.GetProperty("messages").EnumerateArray().ToList();
        Assert.Equal(["system", "user", "assistant", "user"], second.Select(m => m.GetProperty("role").GetString()!).ToArray());
        Assert.Equal("and again", second[^1].GetProperty("content").GetString());
        Assert.Contains("with local/m2", run.Stderr, StringComparison.Ordinal);

        // The CLI ended the session on its way out; the history stays.
        var sid = SessionId(run);
        Assert.Contains($"session {sid} ended", run.Stderr, StringComparison.Ordinal);
        using var http = hub.Client(token);
        var session = (await http.GetFromJsonAsync<ChatSessionResponse>($"api/chat/sessions/{sid}?include_messages=true", KaiJson.Options))!;
        Assert.Equal("ended", session.Status);
        Assert.Equal(["hello there", answers[0], "and again", answers[1]], session.Messages!.Select(m => m.Content).ToArray());
    }

    [SkippableFact]
    public async Task Two_agents_talk_turn_by_turn_up_to_the_turn_limit_while_the_cli_watches()
    {
        var (llm, hub, cli, _) = await StartAsync("watch@example.com");
        await using var _1 = llm;
        await using var _2 = hub;

        var run = await cli.RunAsync(["chat", "--agents", "local,local:m2", "--turns", "3", "talk about tides"]);
        Assert.True(run.ExitCode == 0, run.ToString());
        var turns = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, turns.Length);
        string[] speakers = ["agent1 (local/m1): ", "agent2 (local/m2): ", "agent1 (local/m1): "];
        for (var i = 0; i < 3; i++)
        {
            Assert.StartsWith(speakers[i], turns[i], StringComparison.Ordinal);
        }
        var said = turns.Select((t, i) => JsonDocument.Parse(t[speakers[i].Length..]).RootElement).ToArray();
        // The topic went to agent1; each later turn was prompted with the other agent's last words.
        Assert.Equal("talk about tides", said[0].GetProperty("messages").EnumerateArray().Last().GetProperty("content").GetString());
        Assert.Equal(turns[0][speakers[0].Length..], said[1].GetProperty("messages").EnumerateArray().Last().GetProperty("content").GetString());
        Assert.Equal("m2", said[1].GetProperty("model").GetString());
        Assert.Contains("(turn_limit, 3 turns)", run.Stderr, StringComparison.Ordinal);
        Assert.Contains($"session {SessionId(run)} ended", run.Stderr, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Bad_chat_requests_get_a_clear_error_and_create_no_session()
    {
        var (llm, hub, cli, _) = await StartAsync("badchat@example.com");
        await using var _1 = llm;
        await using var _2 = hub;

        foreach (var (args, code, text) in new (string[], int, string)[]
        {
            (["chat", "--agents", "local", "x"], 2, "exactly two participants"),
            (["chat", "--agents", "local,local"], 2, "give the topic"),
            (["chat", "--agents", "local,nope:m1", "x"], 2, "unknown provider 'nope' (configured: local)"),
            (["chat", "--agents", "local,local", "--turns", "0", "x"], 2, "--turns must be 1 to 100"),
            (["chat", "--agents", "local,local", "--model", "m1", "x"], 2, "provider:model"),
            (["chat", "nope"], 1, "error VALIDATION_ERROR"),
            (["chat", "local", "--model", "gpt-9"], 1, "error VALIDATION_ERROR"),
            (["chat", "--agents", "local,no-such-agent", "x"], 1, "error AGENT_NOT_FOUND"),
        })
        {
            var run = await cli.RunAsync(args, stdin: "hello\n");
            Assert.True(run.ExitCode == code, $"kai {string.Join(' ', args)}: {run}");
            Assert.Contains(text, run.Stderr, StringComparison.Ordinal);
        }
        using var db = new SqliteConnection($"Data Source={Path.Combine(hub.DataDirectory, "kai.db")}");
        db.Open();
        using var count = db.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM chat_sessions";
        Assert.Equal(0L, (long)count.ExecuteScalar()!);
    }

    [GeneratedRegex(@"session_\d{14}_[0-9a-f]{8}")]
    private static partial Regex SessionPattern();
}
