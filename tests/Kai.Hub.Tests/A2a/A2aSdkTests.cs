using System.Diagnostics;
using System.Text.Json;
using Kai.Hub.Tests.Tasks;
using Kai.Testing;

namespace Kai.Hub.Tests.A2a;

/// <summary>
/// The A2A endpoint judged by the real client: npm's <c>@a2a-js/sdk</c> 1.3.0 in Node (installed by <c>.ci/setup/55-a2a.sh</c> into
/// <c>$KAI_A2A_SDK_DIR</c>, default <c>/opt/kai-ci/a2a-js</c>) runs <c>a2a-sdk-client.mjs</c> against a real hub and a real agent on
/// a WebSocket: card, send, stream, get, cancel, list, errors, the hub's capability endpoint, and the SDK's 0.3 transport.
/// </summary>
public sealed class A2aSdkTests
{
    private static string SdkDir => Environment.GetEnvironmentVariable("KAI_A2A_SDK_DIR") is { Length: > 0 } d ? d : "/opt/kai-ci/a2a-js";

    [SkippableFact]
    public async Task The_a2a_js_sdk_completes_a_full_exchange_in_1_0_and_0_3()
    {
        var node = ExternalServers.FindProgram("node");
        ExternalServers.Require(node is not null && File.Exists(Path.Combine(SdkDir, "node_modules/@a2a-js/sdk/package.json")),
            $"node and @a2a-js/sdk in {SdkDir} (.ci/setup/55-a2a.sh; KAI_A2A_SDK_DIR)");
        await using var kit = await TaskKit.StartAsync();
        var agent = await A2aKit.RegisterAsync(kit, "upper", optIn: true, kit.User.AccessToken, "text.upper");
        await using var socket = await kit.Hub.ConnectAgentAsync(agent);
        using var stop = new CancellationTokenSource();
        var serving = A2aKit.ServeAsync(kit, socket, stop.Token);

        var start = new ProcessStartInfo(node!) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "A2a", "a2a-sdk-client.mjs"), SdkDir, kit.Hub.BaseAddress.ToString().TrimEnd('/'), agent.AgentId, kit.User.AccessToken })
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using (var guard = new CancellationTokenSource(TimeSpan.FromMinutes(3)))
        {
            await process.WaitForExitAsync(guard.Token);
        }
        await stop.CancelAsync();
        Assert.True(process.ExitCode == 0, $"node exited {process.ExitCode}: {await stderr}\n{await stdout}");
        var o = JsonDocument.Parse((await stdout).Trim().Split('\n')[^1]).RootElement;

        var card = o.GetProperty("card");
        Assert.Equal("upper agent", card.GetProperty("name").GetString());
        Assert.Equal(["text.upper", "text.shout"], card.GetProperty("skills").EnumerateArray().Select(s => s.GetString()));
        Assert.Equal($"{kit.Hub.BaseAddress.ToString().TrimEnd('/')}/a2a/agents/upper", card.GetProperty("url").GetString());
        Assert.True(card.GetProperty("streaming").GetBoolean());
        Assert.Equal(["bearer"], card.GetProperty("schemes").EnumerateArray().Select(s => s.GetString()));

        // TaskState numbers of the SDK: 1 submitted, 2 working, 3 completed, 5 canceled.
        var sent = o.GetProperty("send");
        Assert.Equal(3, sent.GetProperty("state").GetInt32());
        Assert.Equal("HELLO", sent.GetProperty("artifacts")[0][0].GetString());
        Assert.Equal("hello", sent.GetProperty("history")[0][0].GetString());

        var stream = o.GetProperty("stream").EnumerateArray().ToList();
        Assert.Equal("task", stream[0].GetProperty("kind").GetString());
        Assert.Equal(("status", 3), (stream[^1].GetProperty("kind").GetString(), stream[^1].GetProperty("state").GetInt32()));
        Assert.Contains(stream, e => e.GetProperty("kind").GetString() == "artifact" && e.GetProperty("texts")[0].GetString() == "STREAM ME");

        var got = o.GetProperty("get");
        Assert.Equal((sent.GetProperty("id").GetString(), 3, "HELLO"), (got.GetProperty("id").GetString(), got.GetProperty("state").GetInt32(), got.GetProperty("artifacts")[0][0].GetString()));

        Assert.InRange(o.GetProperty("held").GetProperty("state").GetInt32(), 1, 2);
        Assert.Equal(5, o.GetProperty("canceled").GetProperty("state").GetInt32());
        Assert.Contains("NotCancelable", o.GetProperty("cancelAgain").GetProperty("name").GetString(), StringComparison.Ordinal);
        var held = o.GetProperty("held").GetProperty("id").GetString()!;
        Assert.Equal("canceled", (await kit.GetTaskAsync(held)).Status);

        var listed = o.GetProperty("list").GetProperty("ids").EnumerateArray().Select(i => i.GetString()).ToList();
        Assert.Contains(sent.GetProperty("id").GetString(), listed);
        Assert.Contains(held, listed);
        Assert.Contains("TaskNotFound", o.GetProperty("unknown").GetProperty("name").GetString(), StringComparison.Ordinal);

        Assert.Contains("text.upper", o.GetProperty("hubCard").GetProperty("skills").EnumerateArray().Select(s => s.GetString()));
        Assert.Equal((3, "VIA HUB"), (o.GetProperty("hubSend").GetProperty("state").GetInt32(), o.GetProperty("hubSend").GetProperty("artifacts")[0][0].GetString()));

        Assert.Equal((3, "OLD PROTOCOL"), (o.GetProperty("legacySend").GetProperty("state").GetInt32(), o.GetProperty("legacySend").GetProperty("artifacts")[0][0].GetString()));
        Assert.Equal(3, o.GetProperty("legacyGet").GetProperty("state").GetInt32());
        Assert.Equal(3, o.GetProperty("legacyStream").EnumerateArray().Last().GetProperty("state").GetInt32());
        Assert.NotEqual(JsonValueKind.Null, o.GetProperty("legacyUnknown").ValueKind);

        // Every message became one task of the caller, and only those.
        Assert.Equal(6, (await kit.ListTasksAsync()).Total);
        try
        {
            await serving;
        }
        catch (OperationCanceledException)
        {
        }
    }

    [SkippableFact]
    public async Task The_a2a_js_sdk_continues_input_required_tasks_and_manages_push_configs_in_1_0_and_0_3()
    {
        var node = ExternalServers.FindProgram("node");
        ExternalServers.Require(node is not null && File.Exists(Path.Combine(SdkDir, "node_modules/@a2a-js/sdk/package.json")),
            $"node and @a2a-js/sdk in {SdkDir} (.ci/setup/55-a2a.sh; KAI_A2A_SDK_DIR)");
        await using var receiver = await PushReceiver.StartAsync();
        await using var kit = await TaskKit.StartAsync(new Dictionary<string, string> { ["Kai:Adapters:Webhook:AllowedCidrs:0"] = "127.0.0.1/32" });
        var agent = await A2aKit.RegisterAsync(kit, "travel", optIn: true, kit.User.AccessToken, "travel.book");
        await using var socket = await kit.Hub.ConnectAgentAsync(agent);
        using var stop = new CancellationTokenSource();
        var serving = A2aKit.ServeAsync(kit, socket, stop.Token);

        var o = await RunNodeAsync(node!, "a2a-sdk-turns.mjs", kit.Hub.BaseAddress.ToString().TrimEnd('/'), agent.AgentId, kit.User.AccessToken, receiver.BaseUrl);
        Assert.True(o.GetProperty("pushCapability").GetBoolean());

        // TaskState numbers of the SDK: 3 completed, 5 canceled, 6 input-required; Role 1 user, 2 agent.
        var asked = o.GetProperty("asked");
        Assert.Equal((6, "Which city?"), (asked.GetProperty("state").GetInt32(), asked.GetProperty("question")[0].GetString()));
        Assert.Empty(asked.GetProperty("artifacts").EnumerateArray());
        var answered = o.GetProperty("answered");
        Assert.Equal((asked.GetProperty("id").GetString(), asked.GetProperty("contextId").GetString(), 3, "BOOKED PARIS"),
            (answered.GetProperty("id").GetString(), answered.GetProperty("contextId").GetString(), answered.GetProperty("state").GetInt32(), answered.GetProperty("artifacts")[0][0].GetString()));
        var history = o.GetProperty("answeredGet").GetProperty("history").EnumerateArray()
            .Select(m => (m.GetProperty("role").GetInt32(), m.GetProperty("texts")[0].GetString())).ToList();
        Assert.Equal([(1, "ask me"), (2, "Which city?"), (1, "paris")], history);
        Assert.Contains("UnsupportedOperation", o.GetProperty("afterEnd").GetProperty("name").GetString(), StringComparison.Ordinal);
        Assert.Contains("message.contextId", o.GetProperty("wrongContext").GetProperty("message").GetString(), StringComparison.Ordinal);

        var streamAsk = o.GetProperty("streamAsk").EnumerateArray().ToList();
        Assert.Equal(("task", "status", 6), (streamAsk[0].GetProperty("kind").GetString(), streamAsk[^1].GetProperty("kind").GetString(), streamAsk[^1].GetProperty("state").GetInt32()));
        Assert.Equal("Which city?", streamAsk[^1].GetProperty("texts")[0].GetString());
        var streamAnswer = o.GetProperty("streamAnswer").EnumerateArray().ToList();
        Assert.All(streamAnswer, e => Assert.Equal(streamAsk[0].GetProperty("id").GetString(), e.GetProperty("id").GetString()));
        Assert.Equal(3, streamAnswer[^1].GetProperty("state").GetInt32());
        Assert.Contains(streamAnswer, e => e.GetProperty("kind").GetString() == "artifact" && e.GetProperty("texts")[0].GetString() == "BOOKED ROME");

        Assert.Equal(5, o.GetProperty("cancelWaiting").GetProperty("state").GetInt32());
        Assert.Contains("UnsupportedOperation", o.GetProperty("afterCancel").GetProperty("name").GetString(), StringComparison.Ordinal);

        Assert.Equal(("cfg-1", "tok-1", "Bearer"), (o.GetProperty("pushCreated").GetProperty("id").GetString(), o.GetProperty("pushCreated").GetProperty("token").GetString(),
            o.GetProperty("pushCreated").GetProperty("scheme").GetString()));
        Assert.Equal("push-secret", o.GetProperty("pushGot").GetProperty("credentials").GetString());
        Assert.Equal(["cfg-1"], o.GetProperty("pushList").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal(3, o.GetProperty("pushAnswered").GetProperty("state").GetInt32());
        Assert.Contains("TaskNotFound", o.GetProperty("pushUnknownTask").GetProperty("name").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, o.GetProperty("pushAfterDelete").GetInt32());
        Assert.Contains("TaskNotFound", o.GetProperty("pushGetDeleted").GetProperty("name").GetString(), StringComparison.Ordinal);

        Assert.Equal(6, o.GetProperty("legacyAsked").GetProperty("state").GetInt32());
        Assert.Equal(("cfg-old", "Basic"), (o.GetProperty("legacyPushCreated").GetProperty("id").GetString(), o.GetProperty("legacyPushCreated").GetProperty("scheme").GetString()));
        Assert.Equal("tok-old", o.GetProperty("legacyPushGot").GetString());
        Assert.Equal(["cfg-old"], o.GetProperty("legacyPushList").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal((3, "BOOKED LIMA"), (o.GetProperty("legacyAnswered").GetProperty("state").GetInt32(), o.GetProperty("legacyAnswered").GetProperty("artifacts")[0][0].GetString()));
        Assert.Equal(6, o.GetProperty("legacyStreamAsk").EnumerateArray().Last().GetProperty("state").GetInt32());
        Assert.Equal(3, o.GetProperty("legacyStreamAnswer").EnumerateArray().Last().GetProperty("state").GetInt32());
        Assert.Equal(0, o.GetProperty("legacyPushAfterDelete").GetInt32());

        // The receiver was told each state of the pushed tasks, in the config's version, with its credentials.
        var pushTask = o.GetProperty("pushTaskId").GetString()!;
        var first = await receiver.NextAsync("/v1");
        Assert.Equal((pushTask, "TASK_STATE_INPUT_REQUIRED"), (first.Task.GetProperty("id").GetString(), first.State));
        Assert.Equal(("Bearer push-secret", "tok-1", "application/a2a+json"), (first.Authorization, first.Token, first.ContentType?.Split(';')[0]));
        var done = await receiver.UntilStateAsync("/v1", "TASK_STATE_COMPLETED");
        Assert.Equal("BOOKED OSLO", done.Task.GetProperty("artifacts")[0].GetProperty("parts")[0].GetProperty("text").GetString());
        var legacyDone = await receiver.UntilStateAsync("/v03", "completed");
        Assert.Equal((o.GetProperty("legacyTaskId").GetString(), "task", "Basic dXNlcjpwdw==", "tok-old"),
            (legacyDone.Task.GetProperty("id").GetString(), legacyDone.Body.GetProperty("kind").GetString(), legacyDone.Authorization, legacyDone.Token));

        // Each follow-up was a task of its own on the same agent; A2A lists only the conversations.
        var tasks = await kit.ListTasksAsync("?limit=100");
        Assert.All(tasks.Tasks, t => Assert.Equal("travel", t.AssignedAgent));
        await stop.CancelAsync();
        try
        {
            await serving;
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task<JsonElement> RunNodeAsync(string node, string script, params string[] args)
    {
        var start = new ProcessStartInfo(node) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "A2a", script));
        start.ArgumentList.Add(SdkDir);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using (var guard = new CancellationTokenSource(TimeSpan.FromMinutes(3)))
        {
            await process.WaitForExitAsync(guard.Token);
        }
        Assert.True(process.ExitCode == 0, $"node exited {process.ExitCode}: {await stderr}\n{await stdout}");
        return JsonDocument.Parse((await stdout).Trim().Split('\n')[^1]).RootElement.Clone();
    }
}
