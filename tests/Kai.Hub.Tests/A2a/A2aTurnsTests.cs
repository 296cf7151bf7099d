using System.Diagnostics.Metrics;
using System.Text;
using System.Text.Json;
using Kai.Hub.Observability;
using Kai.Hub.Tests.Tasks;
using Kai.Testing;

namespace Kai.Hub.Tests.A2a;

/// <summary>
/// Multi-turn (input-required) tasks and push notifications over raw JSON-RPC, with a real agent on a WebSocket and a second real
/// Kestrel app as the client's webhook: both versions, streaming and not, other tenants, retries, drops and bad configs.
/// </summary>
public sealed class A2aTurnsTests
{
    private static readonly Dictionary<string, string> AllowLoopback = new() { ["Kai:Adapters:Webhook:AllowedCidrs:0"] = "127.0.0.1/32" };

    private static object Message(string text, string? taskId = null, string? contextId = null, string id = "m") =>
        new { messageId = id + Guid.NewGuid().ToString("N")[..8], role = "ROLE_USER", taskId, contextId, parts = new[] { new { text } } };

    private static object LegacyMessage(string text, string? taskId = null, string? contextId = null) =>
        new { kind = "message", messageId = "lm" + Guid.NewGuid().ToString("N")[..8], role = "user", taskId, contextId, parts = new[] { new { kind = "text", text } } };

    private static async Task<List<JsonElement>> StreamAsync(HttpClient client, string path, string method, object @params)
    {
        var res = await client.PostAsync(path, new StringContent(JsonSerializer.Serialize(new { jsonrpc = "2.0", id = 3, method, @params }), Encoding.UTF8, "application/json"));
        var text = await res.Content.ReadAsStringAsync();
        return [.. text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement.Clone())];
    }

    [Fact]
    public async Task Input_required_turns_continue_the_same_task_on_the_same_agent_in_1_0_and_0_3_streaming_and_not()
    {
        await using var kit = await TaskKit.StartAsync();
        var agent = await A2aKit.RegisterAsync(kit, "travel", optIn: true, kit.User.AccessToken, "travel.book");
        await using var socket = await kit.Hub.ConnectAgentAsync(agent);
        using var stop = new CancellationTokenSource();
        var serving = A2aKit.ServeAsync(kit, socket, stop.Token);

        // 1.0, on the hub's endpoint (routed by capability): the answer asks for input; the follow-up is pinned to the agent that asked.
        var asked = (await A2aKit.RpcAsync(kit.Api, "a2a", "SendMessage", new { message = Message("ask me"), metadata = new { skill = "travel.book" } }))
            .GetProperty("result").GetProperty("task");
        var id = asked.GetProperty("id").GetString()!;
        var context = asked.GetProperty("contextId").GetString()!;
        Assert.Equal("TASK_STATE_INPUT_REQUIRED", asked.GetProperty("status").GetProperty("state").GetString());
        var question = asked.GetProperty("status").GetProperty("message");
        Assert.Equal(("ROLE_AGENT", "Which city?"), (question.GetProperty("role").GetString(), question.GetProperty("parts")[0].GetProperty("text").GetString()));
        Assert.Equal(1, question.GetProperty("parts").GetArrayLength());

        // A follow-up naming another context is refused and changes nothing.
        Assert.Equal(-32602, A2aKit.ErrorCode(await A2aKit.RpcAsync(kit.Api, "a2a", "SendMessage", new { message = Message("x", id, "ctx_wrong") })));
        var listed = await A2aKit.RpcAsync(kit.Api, "a2a", "ListTasks", new { status = "TASK_STATE_INPUT_REQUIRED" });
        Assert.Equal([id], listed.GetProperty("result").GetProperty("tasks").EnumerateArray().Select(t => t.GetProperty("id").GetString()));

        var done = (await A2aKit.RpcAsync(kit.Api, "a2a", "SendMessage", new { message = Message("paris", id, context) })).GetProperty("result").GetProperty("task");
        Assert.Equal((id, context, "TASK_STATE_COMPLETED"), (done.GetProperty("id").GetString(), done.GetProperty("contextId").GetString(), done.GetProperty("status").GetProperty("state").GetString()));
        var parts = done.GetProperty("artifacts")[0].GetProperty("parts");
        Assert.Equal("BOOKED PARIS", parts[0].GetProperty("text").GetString());
        // The agent got turn 1 with the two earlier messages (the user's first and its own question).
        Assert.Equal((1, 2), (parts[1].GetProperty("data").GetProperty("turn").GetInt32(), parts[1].GetProperty("data").GetProperty("history").GetInt32()));
        Assert.Equal(["ROLE_USER", "ROLE_AGENT", "ROLE_USER"], done.GetProperty("history").EnumerateArray().Select(m => m.GetProperty("role").GetString()));
        var lastTwo = (await A2aKit.RpcAsync(kit.Api, "a2a", "GetTask", new { id, historyLength = 2 })).GetProperty("result").GetProperty("history");
        Assert.Equal(["Which city?", "paris"], lastTwo.EnumerateArray().Select(m => m.GetProperty("parts")[0].GetProperty("text").GetString()));
        Assert.Equal(-32004, A2aKit.ErrorCode(await A2aKit.RpcAsync(kit.Api, "a2a", "SendMessage", new { message = Message("again", id) })));
        Assert.Equal(-32002, A2aKit.ErrorCode(await A2aKit.RpcAsync(kit.Api, "a2a", "CancelTask", new { id })));

        // The follow-up is a hub task of its own on the same agent, but not an A2A task: GetTask of its id is TaskNotFound.
        var hubTasks = (await kit.ListTasksAsync("?limit=100")).Tasks;
        Assert.Equal(2, hubTasks.Count);
        Assert.All(hubTasks, t => Assert.Equal("travel.book", t.Type));
        var turnTask = hubTasks.Single(t => t.TaskId != id);
        Assert.Equal(("travel", "travel"), (hubTasks.Single(t => t.TaskId == id).AssignedAgent, turnTask.AssignedAgent));
        Assert.Equal(id, turnTask.InputData.GetProperty("a2a").GetProperty("task_id").GetString());
        Assert.Equal(-32001, A2aKit.ErrorCode(await A2aKit.RpcAsync(kit.Api, "a2a", "GetTask", new { id = turnTask.TaskId })));
        var all = await A2aKit.RpcAsync(kit.Api, "a2a", "ListTasks", new { });
        Assert.Equal([id], all.GetProperty("result").GetProperty("tasks").EnumerateArray().Select(t => t.GetProperty("id").GetString()));

        // 0.3, streaming: the first stream ends at input-required (final), the follow-up's stream at completed.
        var first = await StreamAsync(kit.Api, "a2a/agents/travel", "message/stream", new { message = LegacyMessage("ask by stream") });
        var streamId = first[0].GetProperty("result").GetProperty("id").GetString()!;
        var end = first[^1].GetProperty("result");
        Assert.Equal(("status-update", "input-required", true), (end.GetProperty("kind").GetString(), end.GetProperty("status").GetProperty("state").GetString(), end.GetProperty("final").GetBoolean()));
        Assert.Equal("agent", end.GetProperty("status").GetProperty("message").GetProperty("role").GetString());
        // Resubscribing to a task that waits for input gives the task and closes.
        var resubscribed = await StreamAsync(kit.Api, "a2a", "tasks/resubscribe", new { id = streamId });
        Assert.Equal("input-required", resubscribed[^1].GetProperty("result").GetProperty("status").GetProperty("state").GetString());
        var second = await StreamAsync(kit.Api, "a2a/agents/travel", "message/stream", new { message = LegacyMessage("rome", streamId) });
        Assert.All(second, e => Assert.Equal(streamId, e.GetProperty("result").TryGetProperty("taskId", out var t) ? t.GetString() : e.GetProperty("result").GetProperty("id").GetString()));
        Assert.Equal(("completed", true), (second[^1].GetProperty("result").GetProperty("status").GetProperty("state").GetString(), second[^1].GetProperty("result").GetProperty("final").GetBoolean()));
        Assert.Contains(second, e => e.GetProperty("result").TryGetProperty("artifact", out var a) && a.GetProperty("parts")[0].GetProperty("text").GetString() == "BOOKED ROME");

        // 0.3, not streaming: tasks/cancel while the agent waits for input cancels the wait; nothing more is accepted.
        var waiting = (await A2aKit.RpcAsync(kit.Api, "a2a/agents/travel", "message/send", new { message = LegacyMessage("ask then cancel") })).GetProperty("result");
        Assert.Equal("input-required", waiting.GetProperty("status").GetProperty("state").GetString());
        var waitingId = waiting.GetProperty("id").GetString()!;
        var canceled = (await A2aKit.RpcAsync(kit.Api, "a2a", "tasks/cancel", new { id = waitingId })).GetProperty("result");
        Assert.Equal("canceled", canceled.GetProperty("status").GetProperty("state").GetString());
        Assert.Equal(-32004, A2aKit.ErrorCode(await A2aKit.RpcAsync(kit.Api, "a2a", "message/send", new { message = LegacyMessage("late", waitingId) })));
        Assert.Equal(-32002, A2aKit.ErrorCode(await A2aKit.RpcAsync(kit.Api, "a2a", "tasks/cancel", new { id = waitingId })));
        Assert.Equal("canceled", (await A2aKit.RpcAsync(kit.Api, "a2a", "tasks/get", new { id = waitingId })).GetProperty("result").GetProperty("status").GetProperty("state").GetString());

        await stop.CancelAsync();
        await serving.ContinueWith(_ => { });
    }

    [Fact]
    public async Task Another_tenant_cannot_continue_cancel_or_configure_push_for_a_task()
    {
        await using var kit = await TaskKit.StartAsync(AllowLoopback);
        var agent = await A2aKit.RegisterAsync(kit, "travel", optIn: true, kit.User.AccessToken, "travel.book");
        await using var socket = await kit.Hub.ConnectAgentAsync(agent);
        using var stop = new CancellationTokenSource();
        var serving = A2aKit.ServeAsync(kit, socket, stop.Token);
        var asked = (await A2aKit.RpcAsync(kit.Api, "a2a/agents/travel", "SendMessage", new { message = Message("ask me") })).GetProperty("result").GetProperty("task");
        var id = asked.GetProperty("id").GetString()!;
        Assert.Equal("TASK_STATE_INPUT_REQUIRED", asked.GetProperty("status").GetProperty("state").GetString());
        await A2aKit.RpcAsync(kit.Api, "a2a", "CreateTaskPushNotificationConfig", new { taskId = id, id = "mine", url = "http://127.0.0.1:9/hook" });

        var other = await kit.Hub.NewUserAsync("a2a-turns-other@example.com");
        using var otherClient = kit.Hub.Client(other.AccessToken);
        Assert.Equal(-32001, A2aKit.ErrorCode(await A2aKit.RpcAsync(otherClient, "a2a", "SendMessage", new { message = Message("hijack", id) })));
        Assert.Equal(-32001, A2aKit.ErrorCode(await A2aKit.RpcAsync(otherClient, "a2a", "message/send", new { message = LegacyMessage("hijack", id) })));
        Assert.Equal(-32001, A2aKit.ErrorCode(await A2aKit.RpcAsync(otherClient, "a2a", "CancelTask", new { id })));
        foreach (var (method, p) in new (string, object)[]
        {
            ("CreateTaskPushNotificationConfig", new { taskId = id, url = "http://127.0.0.1:9/theirs" }),
            ("GetTaskPushNotificationConfig", new { taskId = id, id = "mine" }),
            ("ListTaskPushNotificationConfigs", new { taskId = id }),
            ("DeleteTaskPushNotificationConfig", new { taskId = id, id = "mine" }),
            ("tasks/pushNotificationConfig/set", new { taskId = id, pushNotificationConfig = new { url = "http://127.0.0.1:9/theirs" } }),
            ("tasks/pushNotificationConfig/get", new { id, pushNotificationConfigId = "mine" }),
            ("tasks/pushNotificationConfig/list", new { id }),
            ("tasks/pushNotificationConfig/delete", new { id, pushNotificationConfigId = "mine" }),
        })
        {
            Assert.True(A2aKit.ErrorCode(await A2aKit.RpcAsync(otherClient, "a2a", method, p)) == -32001, method);
        }

        // Nothing changed for the owner: still waiting for input, one config, one hub task.
        Assert.Equal("TASK_STATE_INPUT_REQUIRED", (await A2aKit.RpcAsync(kit.Api, "a2a", "GetTask", new { id })).GetProperty("result").GetProperty("status").GetProperty("state").GetString());
        var configs = (await A2aKit.RpcAsync(kit.Api, "a2a", "ListTaskPushNotificationConfigs", new { taskId = id })).GetProperty("result").GetProperty("configs");
        Assert.Equal(["mine"], configs.EnumerateArray().Select(c => c.GetProperty("id").GetString()));
        Assert.Equal(1, (await kit.ListTasksAsync()).Total);
        await stop.CancelAsync();
        await serving.ContinueWith(_ => { });
    }

    [Fact]
    public async Task Push_notifications_are_posted_at_each_state_change_retried_and_dropped_after_the_last_retry()
    {
        await using var receiver = await PushReceiver.StartAsync();
        await using var kit = await TaskKit.StartAsync(AllowLoopback);
        var agent = await A2aKit.RegisterAsync(kit, "travel", optIn: true, kit.User.AccessToken, "travel.book");
        await using var socket = await kit.Hub.ConnectAgentAsync(agent);
        using var stop = new CancellationTokenSource();
        var serving = A2aKit.ServeAsync(kit, socket, stop.Token);
        var drops = new List<string>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == HubMetrics.MeterName && instrument.Name == "kai.a2a.push.dropped")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            lock (drops)
            {
                drops.Add(tags.ToArray().Single(t => t.Key == "reason").Value!.ToString()!);
            }
        });
        listener.Start();

        // A config given with the message (1.0 configuration.taskPushNotificationConfig) to a receiver that fails once:
        // the first notification is retried after 1 s (on the hub's clock), then each state follows in order.
        var asked = (await A2aKit.RpcAsync(kit.Api, "a2a/agents/travel", "SendMessage", new
        {
            message = Message("ask me"),
            configuration = new { taskPushNotificationConfig = new { url = receiver.BaseUrl + "/fail-once/a", token = "tok", authentication = new { scheme = "Bearer", credentials = "s3cret" } } },
        })).GetProperty("result").GetProperty("task");
        var id = asked.GetProperty("id").GetString()!;
        var failed = await receiver.NextAsync("/fail-once/a");
        Assert.Equal(503, failed.Status);
        var retried = await receiver.UntilStateAsync("/fail-once/a", "TASK_STATE_INPUT_REQUIRED", () => kit.Time.Advance(TimeSpan.FromMilliseconds(500)));
        Assert.Equal((id, "Bearer s3cret", "tok"), (retried.Task.GetProperty("id").GetString(), retried.Authorization, retried.Token));
        Assert.Equal("Which city?", retried.Task.GetProperty("status").GetProperty("message").GetProperty("parts")[0].GetProperty("text").GetString());

        // The follow-up turn is watched too: the receiver hears it work and complete, under the task's id.
        await A2aKit.RpcAsync(kit.Api, "a2a", "SendMessage", new { message = Message("paris", id) });
        var completed = await receiver.UntilStateAsync("/fail-once/a", "TASK_STATE_COMPLETED");
        Assert.Equal((id, "BOOKED PARIS"), (completed.Task.GetProperty("id").GetString(), completed.Task.GetProperty("artifacts")[0].GetProperty("parts")[0].GetProperty("text").GetString()));

        // Canceling the wait for input changes no hub task, and is pushed too.
        var toCancel = (await A2aKit.RpcAsync(kit.Api, "a2a/agents/travel", "SendMessage", new { message = Message("ask to cancel") })).GetProperty("result").GetProperty("task").GetProperty("id").GetString()!;
        await A2aKit.RpcAsync(kit.Api, "a2a", "CreateTaskPushNotificationConfig", new { taskId = toCancel, id = "c", url = receiver.BaseUrl + "/cancel" });
        Assert.Equal("TASK_STATE_INPUT_REQUIRED", (await receiver.NextAsync("/cancel")).State);
        await A2aKit.RpcAsync(kit.Api, "a2a", "CancelTask", new { id = toCancel });
        Assert.Equal((toCancel, "TASK_STATE_CANCELED"), ((await receiver.NextAsync("/cancel")) is var c ? (c.Task.GetProperty("id").GetString(), c.State) : default));

        // A receiver that is down gets the first attempt and five retries, then the notification is dropped and counted.
        var downTask = (await A2aKit.RpcAsync(kit.Api, "a2a/agents/travel", "SendMessage", new { message = Message("ask again") })).GetProperty("result").GetProperty("task").GetProperty("id").GetString()!;
        await A2aKit.RpcAsync(kit.Api, "a2a", "tasks/pushNotificationConfig/set", new { taskId = downTask, pushNotificationConfig = new { id = "down", url = receiver.BaseUrl + "/down" } });
        for (var attempt = 1; attempt <= 6; attempt++)
        {
            var call = await receiver.NextAsync("/down", attempt == 1 ? null : () => kit.Time.Advance(TimeSpan.FromSeconds(1)));
            Assert.Equal(("input-required", 503), (call.State, call.Status));
        }
        // A receiver that rejects (401) is not retried.
        await A2aKit.RpcAsync(kit.Api, "a2a", "CreateTaskPushNotificationConfig", new { taskId = downTask, id = "reject", url = receiver.BaseUrl + "/reject" });
        Assert.Equal(401, (await receiver.NextAsync("/reject")).Status);
        while (true)
        {
            lock (drops)
            {
                if (drops.Count >= 2)
                {
                    break;
                }
            }
            kit.Time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(20);
        }
        lock (drops)
        {
            Assert.Equal(["rejected", "retries"], drops.Order());
        }
        Assert.Equal((6, 1), (receiver.Attempts("/down"), receiver.Attempts("/reject")));

        await stop.CancelAsync();
        await serving.ContinueWith(_ => { });
    }

    [Fact]
    public async Task Push_secrets_are_stored_protected_and_a_restart_does_not_send_a_told_state_again()
    {
        await using var receiver = await PushReceiver.StartAsync();
        var dir = TestHub.NewDataDirectory();
        int toldBeforeRestart;
        string id;
        await using (var kit = await TaskKit.StartAsync(AllowLoopback, dir, keepData: true))
        {
            var agent = await A2aKit.RegisterAsync(kit, "travel", optIn: true, kit.User.AccessToken, "travel.book");
            await using var socket = await kit.Hub.ConnectAgentAsync(agent);
            using var stop = new CancellationTokenSource();
            var serving = A2aKit.ServeAsync(kit, socket, stop.Token);
            id = (await A2aKit.RpcAsync(kit.Api, "a2a/agents/travel", "SendMessage", new
            {
                message = Message("paris"),
                configuration = new { taskPushNotificationConfig = new { id = "p", url = receiver.BaseUrl + "/first", token = "tok-1", authentication = new { scheme = "Bearer", credentials = "s3cret-1" } } },
            })).GetProperty("result").GetProperty("task").GetProperty("id").GetString()!;
            var completed = await receiver.UntilStateAsync("/first", "TASK_STATE_COMPLETED");
            Assert.Equal(("Bearer s3cret-1", "tok-1"), (completed.Authorization, completed.Token));
            // The caller reads its config back as given.
            var config = (await A2aKit.RpcAsync(kit.Api, "a2a", "GetTaskPushNotificationConfig", new { taskId = id, id = "p" })).GetProperty("result");
            Assert.Equal(("tok-1", "s3cret-1"), (config.GetProperty("token").GetString(), config.GetProperty("authentication").GetProperty("credentials").GetString()));
            toldBeforeRestart = receiver.Attempts("/first");
            await stop.CancelAsync();
            await serving.ContinueWith(_ => { });
        }

        // At rest the secrets are Data Protection ciphertext, and the state whose delivery ended is recorded with the config.
        if (!TestPostgres.HubsOnPostgres)
        {
            await using var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(dir, "kai.db")};Pooling=False");
            await db.OpenAsync();
            await using var read = db.CreateCommand();
            read.CommandText = "SELECT token, auth_credentials, last_state FROM a2a_push_configs WHERE task_id = $id";
            read.Parameters.AddWithValue("$id", id);
            await using var row = await read.ExecuteReaderAsync();
            Assert.True(await row.ReadAsync());
            var (token, credentials, lastState) = (row.GetString(0), row.GetString(1), row.GetString(2));
            Assert.StartsWith("dp1:", token, StringComparison.Ordinal);
            Assert.StartsWith("dp1:", credentials, StringComparison.Ordinal);
            Assert.DoesNotContain("tok-1", token, StringComparison.Ordinal);
            Assert.DoesNotContain("s3cret-1", credentials, StringComparison.Ordinal);
            Assert.EndsWith(":TASK_STATE_COMPLETED", lastState, StringComparison.Ordinal);
        }

        // The restarted hub resumes every stored config at start, before anything else happens; the task's final state was told,
        // so it is not sent again. A new task's notification after the restart shows the sender is running.
        await using (var kit = await TaskKit.StartAsync(AllowLoopback, dir))
        {
            var agent = await A2aKit.RegisterAsync(kit, "travel2", optIn: true, kit.User.AccessToken, "travel.book");
            await using var socket = await kit.Hub.ConnectAgentAsync(agent);
            using var stop = new CancellationTokenSource();
            var serving = A2aKit.ServeAsync(kit, socket, stop.Token);
            await A2aKit.RpcAsync(kit.Api, "a2a/agents/travel2", "SendMessage", new
            {
                message = Message("rome"),
                configuration = new { taskPushNotificationConfig = new { url = receiver.BaseUrl + "/second" } },
            });
            await receiver.UntilStateAsync("/second", "TASK_STATE_COMPLETED");
            Assert.Equal(toldBeforeRestart, receiver.Attempts("/first"));
            await stop.CancelAsync();
            await serving.ContinueWith(_ => { });
        }
    }

    [Fact]
    public async Task Bad_push_configs_and_internal_urls_are_refused_and_store_nothing()
    {
        await using var kit = await TaskKit.StartAsync();
        await A2aKit.RegisterAsync(kit, "travel", optIn: true, kit.User.AccessToken, "travel.book");
        var id = (await A2aKit.RpcAsync(kit.Api, "a2a/agents/travel", "SendMessage", new { message = Message("hello"), configuration = new { returnImmediately = true } }))
            .GetProperty("result").GetProperty("task").GetProperty("id").GetString()!;
        // Without an allow-list, loopback and metadata addresses are refused by the adapters' SSRF guard.
        foreach (var url in new[] { "http://127.0.0.1:9/hook", "http://169.254.169.254/latest", "http://[::1]/x" })
        {
            var refused = await A2aKit.RpcAsync(kit.Api, "a2a", "CreateTaskPushNotificationConfig", new { taskId = id, url });
            Assert.Equal(-32602, A2aKit.ErrorCode(refused));
            Assert.Contains("refused", refused.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        }
        foreach (var p in new object[]
        {
            new { taskId = id },
            new { taskId = id, url = "ftp://example.com/x" },
            new { taskId = id, url = "not a url" },
            new { taskId = id, url = "https://198.51.101.7/" + new string('a', 2100) },
            new { taskId = id, url = "https://198.51.101.7/x", token = "a\r\nX-Evil: 1" },
            new { taskId = id, url = "https://198.51.101.7/x", id = "bad id!" },
            new { taskId = id, url = "https://198.51.101.7/x", authentication = new { scheme = "Bearer\r\n", credentials = "x" } },
            new { taskId = id, url = "https://198.51.101.7/x", authentication = new { scheme = "", credentials = "orphan" } },
            new { url = "https://198.51.101.7/x" },
        })
        {
            Assert.Equal(-32602, A2aKit.ErrorCode(await A2aKit.RpcAsync(kit.Api, "a2a", "CreateTaskPushNotificationConfig", p)));
        }
        Assert.Equal(-32602, A2aKit.ErrorCode(await A2aKit.RpcAsync(kit.Api, "a2a", "tasks/pushNotificationConfig/set", new { taskId = id })));
        // A bad config given with a message is refused before the task is made.
        Assert.Equal(-32602, A2aKit.ErrorCode(await A2aKit.RpcAsync(kit.Api, "a2a/agents/travel", "SendMessage", new
        {
            message = Message("hello"), configuration = new { taskPushNotificationConfig = new { url = "http://127.0.0.1:9/x" } },
        })));
        Assert.Equal(-32602, A2aKit.ErrorCode(await A2aKit.RpcAsync(kit.Api, "a2a/agents/travel", "message/stream", new
        {
            message = LegacyMessage("hello"), configuration = new { pushNotificationConfig = new { url = "gopher://x" } },
        })));
        Assert.Equal(1, (await kit.ListTasksAsync()).Total);
        Assert.Equal(-32602, A2aKit.ErrorCode(await A2aKit.RpcAsync(kit.Api, "a2a", "GetTaskPushNotificationConfig", new { taskId = id })));
        Assert.Equal(-32001, A2aKit.ErrorCode(await A2aKit.RpcAsync(kit.Api, "a2a", "GetTaskPushNotificationConfig", new { taskId = id, id = "nope" })));
        Assert.Equal(-32001, A2aKit.ErrorCode(await A2aKit.RpcAsync(kit.Api, "a2a", "DeleteTaskPushNotificationConfig", new { taskId = id, id = "nope" })));
        var configs = (await A2aKit.RpcAsync(kit.Api, "a2a", "ListTaskPushNotificationConfigs", new { taskId = id })).GetProperty("result").GetProperty("configs");
        Assert.Empty(configs.EnumerateArray());
        Assert.Empty((await A2aKit.RpcAsync(kit.Api, "a2a", "tasks/pushNotificationConfig/list", new { id })).GetProperty("result").EnumerateArray());

        // At most ten configs per task; the same id replaces.
        for (var i = 0; i < 10; i++)
        {
            Assert.False((await A2aKit.RpcAsync(kit.Api, "a2a", "CreateTaskPushNotificationConfig", new { taskId = id, id = $"c{i}", url = $"https://198.51.101.7/{i}" })).TryGetProperty("error", out _));
        }
        Assert.Equal(-32602, A2aKit.ErrorCode(await A2aKit.RpcAsync(kit.Api, "a2a", "CreateTaskPushNotificationConfig", new { taskId = id, id = "c10", url = "https://198.51.101.7/10" })));
        var replaced = (await A2aKit.RpcAsync(kit.Api, "a2a", "CreateTaskPushNotificationConfig", new { taskId = id, id = "c3", url = "https://198.51.101.7/new" })).GetProperty("result");
        Assert.Equal("https://198.51.101.7/new", replaced.GetProperty("url").GetString());
        Assert.Equal(10, (await A2aKit.RpcAsync(kit.Api, "a2a", "ListTaskPushNotificationConfigs", new { taskId = id })).GetProperty("result").GetProperty("configs").GetArrayLength());
    }

    [Fact]
    public async Task Racing_follow_ups_continue_a_question_once_and_configs_round_trip_on_sqlite()
    {
        await using var kit = await TaskKit.StartAsync();
        await RaceAndConfigsAsync(kit);
    }

    [SkippableFact]
    public async Task Racing_follow_ups_continue_a_question_once_and_configs_round_trip_on_postgres()
    {
        TestPostgres.Require();
        var schema = TestPostgres.SchemaFor("a2a-" + Guid.NewGuid());
        try
        {
            await using var kit = await TaskKit.StartAsync(new Dictionary<string, string>
            {
                ["Kai:Store"] = "postgres", ["ConnectionStrings:Postgres"] = await TestPostgres.CreateSchemaAsync(schema),
            });
            await RaceAndConfigsAsync(kit);
        }
        finally
        {
            await TestPostgres.DropSchemaAsync(schema);
        }
    }

    private static async Task RaceAndConfigsAsync(TaskKit kit)
    {
        var agent = await A2aKit.RegisterAsync(kit, "travel", optIn: true, kit.User.AccessToken, "travel.book");
        await using var socket = await kit.Hub.ConnectAgentAsync(agent);
        using var stop = new CancellationTokenSource();
        var serving = A2aKit.ServeAsync(kit, socket, stop.Token);
        var asked = (await A2aKit.RpcAsync(kit.Api, "a2a/agents/travel", "SendMessage", new { message = Message("ask me") })).GetProperty("result").GetProperty("task");
        var id = asked.GetProperty("id").GetString()!;
        Assert.Equal("TASK_STATE_INPUT_REQUIRED", asked.GetProperty("status").GetProperty("state").GetString());

        // Two answers to one question at once: one continues the task, the other is refused; one turn exists.
        var answers = await Task.WhenAll(
            A2aKit.RpcAsync(kit.Api, "a2a", "SendMessage", new { message = Message("paris", id) }),
            A2aKit.RpcAsync(kit.Api, "a2a", "SendMessage", new { message = Message("rome", id) }));
        Assert.Equal(1, answers.Count(a => a.TryGetProperty("result", out _)));
        Assert.Equal(-32004, A2aKit.ErrorCode(answers.Single(a => a.TryGetProperty("error", out _))));
        var final = (await A2aKit.RpcAsync(kit.Api, "a2a", "GetTask", new { id })).GetProperty("result");
        Assert.Equal(("TASK_STATE_COMPLETED", 3), (final.GetProperty("status").GetProperty("state").GetString(), final.GetProperty("history").GetArrayLength()));
        Assert.Equal(2, (await kit.ListTasksAsync()).Total);

        // Configs: create (both versions), replace, get, list, delete.
        await A2aKit.RpcAsync(kit.Api, "a2a", "CreateTaskPushNotificationConfig", new { taskId = id, id = "one", url = "https://198.51.101.7/a", token = "t1" });
        await A2aKit.RpcAsync(kit.Api, "a2a", "tasks/pushNotificationConfig/set", new
        {
            taskId = id, pushNotificationConfig = new { id = "two", url = "https://198.51.101.7/b", authentication = new { schemes = new[] { "Basic" }, credentials = "eDp5" } },
        });
        await A2aKit.RpcAsync(kit.Api, "a2a", "CreateTaskPushNotificationConfig", new { taskId = id, id = "one", url = "https://198.51.101.7/a2" });
        var one = (await A2aKit.RpcAsync(kit.Api, "a2a", "GetTaskPushNotificationConfig", new { taskId = id, id = "one" })).GetProperty("result");
        Assert.Equal(("https://198.51.101.7/a2", false), (one.GetProperty("url").GetString(), one.TryGetProperty("token", out _)));
        var two = (await A2aKit.RpcAsync(kit.Api, "a2a", "tasks/pushNotificationConfig/get", new { id, pushNotificationConfigId = "two" })).GetProperty("result");
        Assert.Equal(("Basic", "eDp5"), (two.GetProperty("pushNotificationConfig").GetProperty("authentication").GetProperty("schemes")[0].GetString(),
            two.GetProperty("pushNotificationConfig").GetProperty("authentication").GetProperty("credentials").GetString()));
        var list = (await A2aKit.RpcAsync(kit.Api, "a2a", "tasks/pushNotificationConfig/list", new { id })).GetProperty("result");
        Assert.Equal(["one", "two"], list.EnumerateArray().Select(c => c.GetProperty("pushNotificationConfig").GetProperty("id").GetString()));
        Assert.Equal(JsonValueKind.Null, (await A2aKit.RpcAsync(kit.Api, "a2a", "tasks/pushNotificationConfig/delete", new { id, pushNotificationConfigId = "two" })).GetProperty("result").ValueKind);
        Assert.Equal(JsonValueKind.Object, (await A2aKit.RpcAsync(kit.Api, "a2a", "DeleteTaskPushNotificationConfig", new { taskId = id, id = "one" })).GetProperty("result").ValueKind);
        Assert.Empty((await A2aKit.RpcAsync(kit.Api, "a2a", "ListTaskPushNotificationConfigs", new { taskId = id })).GetProperty("result").GetProperty("configs").EnumerateArray());
        await stop.CancelAsync();
        await serving.ContinueWith(_ => { });
    }
}
