using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Hub.Tests.Tasks;
using Kai.Protocol;
using Kai.Protocol.Rest;

namespace Kai.Hub.Tests.A2a;

/// <summary>The A2A cards and JSON-RPC binding over raw HTTP: opt-in, tenants, files, and every kind of bad input.</summary>
public sealed class A2aEndpointTests
{
    [Fact]
    public async Task Cards_list_only_opted_in_agents_and_other_tenants_cannot_message_them()
    {
        await using var kit = await TaskKit.StartAsync();
        await A2aKit.RegisterAsync(kit, "open", optIn: true, kit.User.AccessToken, "text.upper");
        await A2aKit.RegisterAsync(kit, "closed", optIn: false, kit.User.AccessToken, "secret.cap");
        using var anonymous = kit.Hub.Client();

        var hubCard = (await anonymous.GetFromJsonAsync<JsonElement>(".well-known/agent-card.json"))!;
        var skills = hubCard.GetProperty("skills").EnumerateArray().Select(s => s.GetProperty("id").GetString()).ToList();
        Assert.Equal(["text.shout", "text.upper"], skills);
        Assert.Equal(kit.Hub.BaseAddress + "a2a", hubCard.GetProperty("supportedInterfaces")[0].GetProperty("url").GetString());
        Assert.Equal("bearer", hubCard.GetProperty("securitySchemes").GetProperty("bearer").GetProperty("httpAuthSecurityScheme").GetProperty("scheme").GetString());
        var card = (await anonymous.GetFromJsonAsync<JsonElement>("a2a/agents/open/.well-known/agent-card.json"))!;
        Assert.Equal(("open agent", "Upper-cases text."), (card.GetProperty("name").GetString(), card.GetProperty("description").GetString()));
        Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync("a2a/agents/closed/.well-known/agent-card.json")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync("a2a/agents/nobody/.well-known/agent-card.json")).StatusCode);

        // JSON-RPC needs a bearer token.
        var send = JsonSerializer.Serialize(new { jsonrpc = "2.0", id = 1, method = "SendMessage", @params = new { message = new { messageId = "m1", role = "ROLE_USER", parts = new[] { new { text = "hi" } } } } });
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync("a2a", new StringContent(send))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync("a2a/agents/open", new StringContent(send))).StatusCode);

        // Another tenant sees the public card but cannot reach the agent, nor the owner's task.
        var ownTask = await kit.CreateTaskAsync(new CreateTaskRequest(null, "text.other", AssignedAgent: "open"));
        var other = await kit.Hub.NewUserAsync("a2a-other@example.com");
        using var otherClient = kit.Hub.Client(other.AccessToken);
        var refused = await A2aKit.RpcAsync(otherClient, "a2a/agents/open", send);
        Assert.Equal(-32602, A2aKit.ErrorCode(refused));
        Assert.Equal(ErrorCodes.AgentNotFound, refused.GetProperty("error").GetProperty("data")[0].GetProperty("reason").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await otherClient.PostAsync("a2a/agents/closed", new StringContent(send))).StatusCode);
        Assert.Equal(-32001, A2aKit.ErrorCode(await A2aKit.RpcAsync(otherClient, "a2a", "GetTask", new { id = ownTask.TaskId })));
        Assert.Equal(-32001, A2aKit.ErrorCode(await A2aKit.RpcAsync(otherClient, "a2a", "CancelTask", new { id = ownTask.TaskId })));
        var list = await A2aKit.RpcAsync(otherClient, "a2a", "ListTasks", new { });
        Assert.Empty(list.GetProperty("result").GetProperty("tasks").EnumerateArray());

        // Nothing was stored for anyone by the refused calls.
        Assert.Equal(1, (await kit.ListTasksAsync()).Total);
        Assert.Equal("queued", (await kit.GetTaskAsync(ownTask.TaskId)).Status);
    }

    [Fact]
    public async Task Malformed_requests_unknown_methods_and_unknown_tasks_get_json_rpc_errors()
    {
        await using var kit = await TaskKit.StartAsync();
        await A2aKit.RegisterAsync(kit, "open", optIn: true, kit.User.AccessToken, "text.upper", "text.lower");
        var client = kit.Api;

        var parse = await A2aKit.RpcAsync(client, "a2a", "{not json");
        Assert.Equal((-32700, JsonValueKind.Null), (A2aKit.ErrorCode(parse), parse.GetProperty("id").ValueKind));
        Assert.Equal(-32600, A2aKit.ErrorCode(await A2aKit.RpcAsync(client, "a2a", "[]")));
        Assert.Equal(-32600, A2aKit.ErrorCode(await A2aKit.RpcAsync(client, "a2a", """{"jsonrpc":"1.0","id":1,"method":"GetTask","params":{"id":"x"}}""")));
        Assert.Equal(-32600, A2aKit.ErrorCode(await A2aKit.RpcAsync(client, "a2a", """{"jsonrpc":"2.0","id":1,"params":{}}""")));
        var unknown = await A2aKit.RpcAsync(client, "a2a", "tasks/explode", new { });
        Assert.Equal((-32601, 7), (A2aKit.ErrorCode(unknown), unknown.GetProperty("id").GetInt32()));
        Assert.Equal(-32602, A2aKit.ErrorCode(await A2aKit.RpcAsync(client, "a2a", "SendMessage", new { })));
        Assert.Equal(-32602, A2aKit.ErrorCode(await A2aKit.RpcAsync(client, "a2a/agents/open", "SendMessage", new { message = new { messageId = "m", role = "ROLE_USER", parts = Array.Empty<object>() } })));
        Assert.Equal(-32602, A2aKit.ErrorCode(await A2aKit.RpcAsync(client, "a2a/agents/open", "message/send", new { message = new { kind = "message", messageId = "m", role = "user", parts = new[] { new { kind = "video" } } } })));
        Assert.Equal(-32602, A2aKit.ErrorCode(await A2aKit.RpcAsync(client, "a2a/agents/open", "SendMessage", new { message = new { messageId = "m", role = "ROLE_USER", parts = new[] { new { raw = "%%%not base64" } } } })));
        // The hub's endpoint needs the skill; an agent with two skills needs it named too unless the default intent is meant.
        var noSkill = await A2aKit.RpcAsync(client, "a2a", "SendMessage", new { message = new { messageId = "m", role = "ROLE_USER", parts = new[] { new { text = "hi" } } } });
        Assert.Equal(-32602, A2aKit.ErrorCode(noSkill));
        Assert.Contains("metadata.skill", noSkill.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        foreach (var method in new[] { "GetTask", "tasks/get", "CancelTask", "tasks/cancel", "SubscribeToTask", "tasks/resubscribe" })
        {
            Assert.Equal(-32001, A2aKit.ErrorCode(await A2aKit.RpcAsync(client, "a2a", method, new { id = "tsk_nope" })));
        }
        Assert.Equal(-32602, A2aKit.ErrorCode(await A2aKit.RpcAsync(client, "a2a", "GetTask", new { })));
        Assert.Equal(-32001, A2aKit.ErrorCode(await A2aKit.RpcAsync(client, "a2a", "CreateTaskPushNotificationConfig", new { taskId = "x", url = "https://198.51.101.7/hook" })));
        Assert.Equal(-32602, A2aKit.ErrorCode(await A2aKit.RpcAsync(client, "a2a", "ListTasks", new { pageSize = 1000 })));

        Assert.Equal(0, (await kit.ListTasksAsync()).Total);
    }

    [Fact]
    public async Task File_parts_become_hub_files_assigned_to_the_agent_and_terminal_tasks_cannot_be_canceled()
    {
        await using var kit = await TaskKit.StartAsync();
        await A2aKit.RegisterAsync(kit, "open", optIn: true, kit.User.AccessToken, "text.upper");
        var bytes = "col1,col2\n1,2\n"u8.ToArray();
        var sent = await A2aKit.RpcAsync(kit.Api, "a2a/agents/open", "SendMessage", new
        {
            message = new
            {
                messageId = "m-file", contextId = "ctx-1", role = "ROLE_USER",
                parts = new object[] { new { text = "sum this" }, new { raw = Convert.ToBase64String(bytes), filename = "t.csv", mediaType = "text/csv" }, new { data = new { op = "sum" } } },
            },
            configuration = new { returnImmediately = true },
        });
        var task = sent.GetProperty("result").GetProperty("task");
        Assert.Equal(("ctx-1", "TASK_STATE_SUBMITTED"), (task.GetProperty("contextId").GetString(), task.GetProperty("status").GetProperty("state").GetString()));
        var stored = await kit.GetTaskAsync(task.GetProperty("id").GetString()!);
        // Two skills (text.upper, and the intent text.shout) and none named: the default intent.
        Assert.Equal(("a2a.message", "open", "sum this", "sum"), (stored.Type, stored.AssignedAgent, stored.InputData.GetProperty("text").GetString(),
            stored.InputData.GetProperty("data").GetProperty("op").GetString()));
        var filePart = stored.InputData.GetProperty("parts")[1];
        var fileId = filePart.GetProperty("file_id").GetString()!;
        var file = (await kit.Api.GetFromJsonAsync<FileInfoResponse>($"api/v1/files/{fileId}", KaiJson.Options))!;
        Assert.Equal(("t.csv", "open", (long)bytes.Length), (file.Filename, file.AgentId, file.Size));
        Assert.Equal(bytes, await kit.Api.GetByteArrayAsync($"api/v1/files/{fileId}/download"));
        // The history gives the file back as a URL of the hub.
        var history = task.GetProperty("history")[0].GetProperty("parts")[1];
        Assert.EndsWith($"/api/v1/files/{fileId}/download", history.GetProperty("url").GetString(), StringComparison.Ordinal);

        // Canceled once; a second cancel is TaskNotCancelable, and the 0.3 shape says "canceled".
        var canceled = await A2aKit.RpcAsync(kit.Api, "a2a", "tasks/cancel", new { id = stored.TaskId });
        Assert.Equal(("task", "canceled"), (canceled.GetProperty("result").GetProperty("kind").GetString(), canceled.GetProperty("result").GetProperty("status").GetProperty("state").GetString()));
        Assert.Equal(-32002, A2aKit.ErrorCode(await A2aKit.RpcAsync(kit.Api, "a2a", "CancelTask", new { id = stored.TaskId })));
        Assert.Equal(-32004, A2aKit.ErrorCode(await A2aKit.RpcAsync(kit.Api, "a2a", "SubscribeToTask", new { id = stored.TaskId })));
    }
}
