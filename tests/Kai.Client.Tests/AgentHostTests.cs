using System.Text.Json;
using Kai.Hub.Routing;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Client.Tests;

public sealed class AgentHostTests
{
    private static async Task<HubClient> OwnerAsync(TestHub hub)
    {
        var owner = new HubClient(hub.BaseAddress);
        var email = $"h{Guid.NewGuid():N}@example.com";
        await owner.RegisterAsync(email, "host-password-1", "Host");
        await owner.LoginAsync(email, "host-password-1");
        return owner;
    }

    private static async Task<AgentCredentials> AgentAsync(HubClient owner, string id, params string[] capabilities)
    {
        var created = await owner.RegisterAgentAsync(new RegisterAgentRequest(id, "worker", id, "1.0", capabilities, null, null));
        return new AgentCredentials(owner.BaseAddress.ToString(), created.AgentId, created.ClientId, created.ClientSecret);
    }

    private static AgentHost Host(AgentCredentials credentials) =>
        new(new AgentHostOptions { Credentials = credentials, ReconnectDelay = TimeSpan.FromMilliseconds(50), MaxReconnectDelay = TimeSpan.FromMilliseconds(200) });

    [Fact]
    public async Task Commands_reach_handlers_and_results_return_to_the_caller()
    {
        await using var hub = await TestHub.StartAsync();
        using var owner = await OwnerAsync(hub);
        await using var host = Host(await AgentAsync(owner, "calc"));
        host.OnCommand("add", (c, _) => Task.FromResult<object?>(new { sum = c.Parameters.GetProperty("a").GetInt32() + c.Parameters.GetProperty("b").GetInt32() }));
        host.OnCommand("explode", (_, _) => throw new InvalidOperationException("boom"));
        using var stop = new CancellationTokenSource();
        var run = host.RunAsync(stop.Token);
        await host.WaitConnectedAsync().WaitAsync(TimeSpan.FromSeconds(10));

        var ok = await owner.SendCommandAsync("calc", new SendCommandRequest("add", JsonDocument.Parse("""{"a":40,"b":2}""").RootElement, Timeout: 10));
        Assert.Equal("completed", ok.Status);
        Assert.Equal(42, ok.Result!.Value.GetProperty("sum").GetInt32());
        var failed = await owner.SendCommandAsync("calc", new SendCommandRequest("explode", Timeout: 10));
        Assert.Equal(("failed", "boom"), (failed.Status, failed.Error));
        var unknown = await owner.SendCommandAsync("calc", new SendCommandRequest("dance", Timeout: 10));
        Assert.Equal("failed", unknown.Status);
        Assert.Contains("unknown command 'dance'", unknown.Error, StringComparison.Ordinal);

        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task One_agent_asks_another_and_unhandled_messages_arrive_on_the_stream()
    {
        await using var hub = await TestHub.StartAsync();
        using var owner = await OwnerAsync(hub);
        await using var asker = Host(await AgentAsync(owner, "asker"));
        await using var answerer = Host(await AgentAsync(owner, "answerer"));
        answerer.OnMessage("upper", (m, _) => Task.FromResult<object?>(m.Content.GetString()!.ToUpperInvariant()));
        using var stop = new CancellationTokenSource();
        var runs = new[] { asker.RunAsync(stop.Token), answerer.RunAsync(stop.Token) };
        await Task.WhenAll(asker.WaitConnectedAsync(), answerer.WaitConnectedAsync()).WaitAsync(TimeSpan.FromSeconds(10));

        var reply = await asker.AskAsync("answerer", "upper", "hello", TimeSpan.FromSeconds(10));
        Assert.Equal(("answerer", "upper.result", "HELLO"), (reply.FromAgent, reply.MessageType, reply.Content.GetString()));

        await asker.SendMessageAsync("answerer", "note", new { text = "fyi" });
        await using var messages = answerer.Messages(stop.Token).GetAsyncEnumerator();
        Assert.True(await messages.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(("asker", "note"), (messages.Current.FromAgent, messages.Current.MessageType));

        var offline = await Assert.ThrowsAsync<HubApiException>(() => asker.SendMessageAsync("nobody-here", "x", 1));
        Assert.Equal("AGENT_NOT_FOUND", offline.Code);

        await stop.CancelAsync();
        await Task.WhenAll(runs).WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task The_host_reconnects_after_the_hub_drops_its_link_and_gets_queued_commands()
    {
        await using var hub = await TestHub.StartAsync();
        using var owner = await OwnerAsync(hub);
        await using var host = Host(await AgentAsync(owner, "phoenix"));
        var connections = 0;
        host.Connected += () => Interlocked.Increment(ref connections);
        host.OnCommand("ping", (_, _) => Task.FromResult<object?>("pong"));
        using var stop = new CancellationTokenSource();
        var run = host.RunAsync(stop.Token);
        await host.WaitConnectedAsync().WaitAsync(TimeSpan.FromSeconds(10));

        hub.Service<ConnectionRegistry>().AgentLink("phoenix")!.RequestClose(CloseCodes.GenericError, "test drop");
        var queued = await owner.SendCommandAsync("phoenix", new SendCommandRequest("ping", Timeout: 0));
        var deadline = DateTime.UtcNow.AddSeconds(15);
        TaskStatusResponse status;
        do
        {
            await Task.Delay(50);
            status = await owner.GetTaskStatusAsync(queued.CommandId);
        }
        while (status.Status != "completed" && DateTime.UtcNow < deadline);
        Assert.Equal("completed", status.Status);
        Assert.True(Volatile.Read(ref connections) >= 2);

        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_deleted_agent_stops_the_host_with_4001()
    {
        await using var hub = await TestHub.StartAsync();
        using var owner = await OwnerAsync(hub);
        await using var host = Host(await AgentAsync(owner, "doomed"));
        var run = host.RunAsync(CancellationToken.None);
        await host.WaitConnectedAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await owner.DeleteAgentAsync("doomed");
        // The link closes with 4001 (terminal); the next token fetch is refused as well, so the host stops.
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => run.WaitAsync(TimeSpan.FromSeconds(15)));
        Assert.True(ex is HubLinkClosedException { Code: CloseCodes.InvalidSession } or HubApiException { Code: "AUTHENTICATION_FAILED" }, ex.ToString());
    }

    [Fact]
    public async Task Task_handlers_complete_report_progress_and_fail_into_retries()
    {
        await using var hub = await TestHub.StartAsync();
        using var owner = await OwnerAsync(hub);
        await using var host = Host(await AgentAsync(owner, "tasker", "double", "fragile"));
        host.OnTask("double", async (t, ct) =>
        {
            await t.ReportProgressAsync(50, new { halfway = true }, ct);
            return new { value = t.Input.GetProperty("n").GetInt32() * 2 };
        });
        host.OnTask("fragile", (_, _) => throw new InvalidOperationException("fragile broke"));
        using var stop = new CancellationTokenSource();
        var run = host.RunAsync(stop.Token);
        await host.WaitConnectedAsync().WaitAsync(TimeSpan.FromSeconds(10));

        var task = await owner.CreateTaskAsync(new CreateTaskRequest(null, "double", InputData: JsonDocument.Parse("""{"n":21}""").RootElement), idempotencyKey: "k-1");
        var again = await owner.CreateTaskAsync(new CreateTaskRequest(null, "double", InputData: JsonDocument.Parse("""{"n":21}""").RootElement), idempotencyKey: "k-1");
        Assert.Equal(task.TaskId, again.TaskId);
        var done = await WaitForTaskAsync(owner, task.TaskId, "completed");
        Assert.Equal(42, done.Result!.Value.GetProperty("value").GetInt32());

        var fragile = await owner.CreateTaskAsync(new CreateTaskRequest(null, "fragile", RetryPolicy: new RetryPolicy(1, "none")));
        var dead = await WaitForTaskAsync(owner, fragile.TaskId, "failed");
        Assert.Equal("fragile broke", dead.Error);

        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(10));
    }

    private static async Task<TaskView> WaitForTaskAsync(HubClient client, string taskId, string status)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        TaskView task;
        do
        {
            task = await client.GetTaskAsync(taskId);
            if (task.Status == status)
            {
                return task;
            }
            await Task.Delay(50);
        }
        while (DateTime.UtcNow < deadline);
        Assert.Fail($"task {taskId} stayed {task.Status}, expected {status}");
        return task;
    }
}
