using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Kai.Hub.Storage;
using Kai.Hub.Tests.Tasks;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;
using Kai.Testing;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Kai.Hub.Tests.Mcp;

/// <summary>
/// The MCP server at <c>/mcp</c>, driven by the official MCP C# client SDK (<c>ModelContextProtocol</c>) over Streamable HTTP against a
/// real Kestrel hub, with agents on real WebSockets answering what the tools send them.
/// </summary>
public sealed class McpServerTests
{
    private static readonly string[] ToolNames =
        ["ask_agent", "create_task", "get_task", "list_agents", "publish_event", "read_events", "send_command"];

    private static async Task<McpClient> ConnectAsync(TestHub hub, string token)
    {
        var transport = new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(hub.BaseAddress, "mcp"),
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = "Bearer " + token },
        });
        return await McpClient.CreateAsync(transport);
    }

    private static string Text(CallToolResult result) => string.Concat(result.Content.OfType<TextContentBlock>().Select(t => t.Text));

    private static JsonElement Json(CallToolResult result)
    {
        Assert.True(result.IsError is not true, "tool error: " + Text(result));
        return JsonDocument.Parse(Text(result)).RootElement.Clone();
    }

    private static Task<CallToolResult> CallAsync(McpClient client, string tool, object args) =>
        client.CallToolAsync(tool, JsonSerializer.SerializeToElement(args).EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value)).AsTask();

    [Fact]
    public async Task The_client_lists_the_hubs_tools_with_their_input_schemas()
    {
        await using var kit = await TaskKit.StartAsync();
        await using var client = await ConnectAsync(kit.Hub, kit.User.AccessToken);

        var tools = await client.ListToolsAsync();

        Assert.Equal(ToolNames, tools.Select(t => t.Name).Order(StringComparer.Ordinal));
        var send = tools.Single(t => t.Name == "send_command").JsonSchema;
        Assert.Equal(["agent_id", "command"], send.GetProperty("required").EnumerateArray().Select(e => e.GetString()!).Order(StringComparer.Ordinal));
        Assert.True(tools.Single(t => t.Name == "list_agents").ProtocolTool.Annotations?.ReadOnlyHint);
    }

    [Fact]
    public async Task Every_tool_works_through_the_services_as_the_caller()
    {
        await using var kit = await TaskKit.StartAsync();
        var (worker, socket) = await kit.NewWorkerAsync("summarizer", 5, "text.summarize");
        await using var _ = socket;
        await using var client = await ConnectAsync(kit.Hub, kit.User.AccessToken);

        // list_agents: the caller's agent, live.
        var listed = Json(await CallAsync(client, "list_agents", new { capability = "text.summarize" }));
        var agent = Assert.Single(listed.GetProperty("agents").EnumerateArray());
        Assert.Equal((worker.AgentId, true), (agent.GetProperty("agent_id").GetString(), agent.GetProperty("connected").GetBoolean()));

        // send_command: the agent gets the command frame, and its result is the tool's answer.
        var commandCall = CallAsync(client, "send_command", new { agent_id = worker.AgentId, command = "sum", parameters = new { a = 2, b = 40 }, timeout = 10 });
        var command = (await TaskKit.ReceiveAsync(socket, FrameTypes.Command)).PayloadAs<CommandPayload>()!;
        var sum = command.Parameters.GetProperty("a").GetInt32() + command.Parameters.GetProperty("b").GetInt32();
        await socket.SendAsync(FrameTypes.CommandResult, new { command_id = command.CommandId, status = "completed", result = new { sum } });
        var commanded = Json(await commandCall);
        Assert.Equal(("completed", 42), (commanded.GetProperty("status").GetString(), commanded.GetProperty("result").GetProperty("sum").GetInt32()));

        // create_task: routed by capability, completed by the agent, answered with the final state.
        var taskCall = CallAsync(client, "create_task", new { type = "text.summarize", input_data = new { text = "a b c" }, wait = 30 });
        var task = await TaskKit.ReceiveTaskAsync(socket);
        Assert.Equal("a b c", task.InputData.GetProperty("text").GetString());
        await kit.CompleteAsync(socket, task, new { summary = "abc" });
        var created = Json(await taskCall);
        Assert.Equal((task.TaskId, "completed", "abc"),
            (created.GetProperty("task_id").GetString(), created.GetProperty("status").GetString(), created.GetProperty("result").GetProperty("summary").GetString()));

        // get_task: the same task, from the store.
        var got = Json(await CallAsync(client, "get_task", new { task_id = task.TaskId }));
        Assert.Equal(("completed", 100), (got.GetProperty("status").GetString(), got.GetProperty("progress").GetInt32()));

        // ask_agent: an intent for one named agent.
        var askCall = CallAsync(client, "ask_agent", new { intent = "text.summarize", agent_id = worker.AgentId, input = new { text = "x y" } });
        var ask = await TaskKit.ReceiveTaskAsync(socket);
        Assert.Equal(("text.summarize", "x y"), (ask.Type, ask.InputData.GetProperty("text").GetString()));
        await kit.CompleteAsync(socket, ask, new { summary = "xy" });
        var asked = Json(await askCall);
        Assert.Equal(("completed", "xy"), (asked.GetProperty("status").GetString(), asked.GetProperty("result").GetProperty("summary").GetString()));
        Assert.Equal(worker.AgentId, (await kit.GetTaskAsync(ask.TaskId)).AssignedAgent);

        // publish_event, then read_events from before it: the event comes back with its data.
        var before = Json(await CallAsync(client, "read_events", new { topics = new[] { "app.mcp.>" } })).GetProperty("next_cursor").GetString();
        var ack = Json(await CallAsync(client, "publish_event", new { topic = "app.mcp.hello", data = new { n = 7 } }));
        var read = Json(await CallAsync(client, "read_events", new { topics = new[] { "app.mcp.>" }, since = before }));
        var e = Assert.Single(read.GetProperty("events").EnumerateArray());
        Assert.Equal((ack.GetProperty("id").GetString(), "app.mcp.hello", 7),
            (e.GetProperty("id").GetString(), e.GetProperty("topic").GetString(), e.GetProperty("payload").GetProperty("n").GetInt32()));
    }

    [Fact]
    public async Task Mcp_without_a_valid_bearer_token_answers_401()
    {
        await using var hub = await TestHub.StartAsync();
        using var http = new HttpClient { BaseAddress = hub.BaseAddress };
        var initialize = """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}""";
        foreach (var token in new string?[] { null, "not-a-token" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "mcp") { Content = new StringContent(initialize, Encoding.UTF8, "application/json") };
            request.Headers.Accept.ParseAdd("application/json, text/event-stream");
            if (token is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }
            var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
        // The SDK's client sees the same refusal.
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => ConnectAsync(hub, "not-a-token"));
        Assert.Contains("401", refused.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Another_users_agents_tasks_and_events_are_invisible_over_mcp()
    {
        await using var kit = await TaskKit.StartAsync();
        var (theirs, socket) = await kit.NewWorkerAsync("summarizer", 5, "text.summarize");
        await using var _ = socket;
        var mine = await kit.Hub.NewUserAsync("other@example.com");
        var myAgent = await kit.NewAgentAsync("summarizer", 5, mine.AccessToken, "text.summarize");
        await using var owner = await ConnectAsync(kit.Hub, kit.User.AccessToken);
        await using var other = await ConnectAsync(kit.Hub, mine.AccessToken);
        var theirTask = await kit.CreateTaskAsync(new CreateTaskRequest(null, "text.other", AssignedAgent: theirs.AgentId));
        var cursor = Json(await CallAsync(other, "read_events", new { topics = new[] { "app.>" } })).GetProperty("next_cursor").GetString();
        Json(await CallAsync(owner, "publish_event", new { topic = "app.secret", data = "owner only" }));

        var listed = Json(await CallAsync(other, "list_agents", new { }));
        Assert.Equal([myAgent.AgentId], listed.GetProperty("agents").EnumerateArray().Select(a => a.GetProperty("agent_id").GetString()));
        foreach (var (tool, args) in new (string, object)[]
        {
            ("send_command", new { agent_id = theirs.AgentId, command = "sum", timeout = 0 }),
            ("ask_agent", new { intent = "text.summarize", agent_id = theirs.AgentId, wait = 0 }),
            ("create_task", new { type = "text.summarize", assigned_agent = theirs.AgentId, wait = 0 }),
        })
        {
            var refused = await CallAsync(other, tool, args);
            Assert.True(refused.IsError, tool);
            Assert.StartsWith(ErrorCodes.AgentNotFound + ":", Text(refused), StringComparison.Ordinal);
        }
        var hidden = await CallAsync(other, "get_task", new { task_id = theirTask.TaskId });
        Assert.True(hidden.IsError);
        Assert.StartsWith(ErrorCodes.NotFound + ":", Text(hidden), StringComparison.Ordinal);
        Assert.Empty(Json(await CallAsync(other, "read_events", new { topics = new[] { "app.>" }, since = cursor })).GetProperty("events").EnumerateArray());

        // The owner's agent received nothing from the other user, and no command was stored for it.
        Assert.Equal(0, await kit.Hub.Service<IMetricsStore>().CountOpenCommandsAsync(CancellationToken.None));
        Assert.Equal(1, (await kit.ListTasksAsync()).Total);
    }

    [Fact]
    public async Task Bad_arguments_and_missing_permissions_are_tool_errors_and_store_nothing()
    {
        await using var kit = await TaskKit.StartAsync();
        var (worker, socket) = await kit.NewWorkerAsync("summarizer", 5, "text.summarize");
        await using var _ = socket;
        await using var client = await ConnectAsync(kit.Hub, kit.User.AccessToken);

        foreach (var (tool, args, code) in new (string, object, string)[]
        {
            ("create_task", new { type = "", wait = 0 }, ErrorCodes.ValidationError),
            ("create_task", new { type = "text.summarize", input_data = new[] { 1, 2 }, wait = 0 }, ErrorCodes.ValidationError),
            ("create_task", new { type = "text.summarize", wait = 9999 }, ErrorCodes.ValidationError),
            ("ask_agent", new { intent = "text.summarize", agent_id = "no-such-agent", wait = 0 }, ErrorCodes.AgentNotFound),
            ("send_command", new { agent_id = worker.AgentId, command = "", timeout = 0 }, ErrorCodes.ValidationError),
            ("send_command", new { agent_id = worker.AgentId, command = "x", timeout = 301 }, ErrorCodes.ValidationError),
            ("publish_event", new { topic = "task.forged.completed", data = 1 }, ErrorCodes.Forbidden),
            ("read_events", new { topics = Array.Empty<string>() }, ErrorCodes.ValidationError),
            ("read_events", new { topics = new[] { "app.>" }, since = "garbage" }, ErrorCodes.ValidationError),
        })
        {
            var result = await CallAsync(client, tool, args);
            Assert.True(result.IsError, $"{tool} {JsonSerializer.Serialize(args)}");
            Assert.StartsWith(code + ":", Text(result), StringComparison.Ordinal);
        }
        // Arguments of the wrong JSON type, or a required one missing, are refused by the SDK's binding: a tool error too.
        var wrongType = await CallAsync(client, "get_task", new { task_id = new { nested = true } });
        Assert.True(wrongType.IsError);
        var missing = await CallAsync(client, "send_command", new { agent_id = worker.AgentId });
        Assert.True(missing.IsError);

        // An agent token has no agent.command.own: send_command is refused (and audited), though the agent may list itself.
        await using var asAgent = await ConnectAsync(kit.Hub, await kit.Hub.AgentTokenAsync(worker));
        var forbidden = await CallAsync(asAgent, "send_command", new { agent_id = worker.AgentId, command = "x", timeout = 0 });
        Assert.True(forbidden.IsError);
        Assert.StartsWith(ErrorCodes.Forbidden + ":", Text(forbidden), StringComparison.Ordinal);

        Assert.Equal(0, (await kit.ListTasksAsync()).Total);
        Assert.Equal(0, await kit.Hub.Service<IMetricsStore>().CountOpenCommandsAsync(CancellationToken.None));
        Assert.Equal(1, (await kit.Hub.Service<IAuditStore>().ListAuditAsync(
            new AuditQuery(worker.AgentId, "access.permission_denied", null, null, 10, 0), CancellationToken.None)).Items.Count(a => a.Target == "mcp send_command"));
    }
}
