using Microsoft.Extensions.Time.Testing;
using System.Net;
using System.Net.Http.Json;
using Kai.Hub.Housekeeping;
using Kai.Hub.Observability;
using Kai.Hub.Tests.Auth;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Hub.Tests.Commands;

public sealed class CommandTests
{
    [Fact]
    public async Task A_command_reaches_the_live_agent_and_the_call_returns_its_result()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        await using var agent = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "worker-1"));
        using var client = hub.Client(user.AccessToken);

        var call = client.PostAsJsonAsync("api/v1/agents/worker-1/command",
            new SendCommandRequest("sum", System.Text.Json.JsonDocument.Parse("""{"a": 2, "b": 40}""").RootElement, "high", 10), KaiJson.Options);
        var frame = await agent.ReceiveAsync("command");
        var command = frame.PayloadAs<CommandPayload>()!;
        Assert.Equal(("sum", "high"), (command.Command, command.Priority));
        // timeout is the command's deadline (seed 004; issue 10 item 11): 10 s from now, not an hour.
        Assert.InRange(command.Deadline, DateTimeOffset.UtcNow.AddSeconds(5), DateTimeOffset.UtcNow.AddSeconds(11));
        var sum = command.Parameters.GetProperty("a").GetInt32() + command.Parameters.GetProperty("b").GetInt32();
        await agent.SendAsync("command_result", new { command_id = command.CommandId, status = "completed", result = new { sum } });

        var response = (await (await call).Content.ReadFromJsonAsync<CommandResponse>(KaiJson.Options))!;
        Assert.Equal(("completed", command.CommandId), (response.Status, response.CommandId));
        Assert.Equal(42, response.Result!.Value.GetProperty("sum").GetInt32());

        var status = (await client.GetFromJsonAsync<TaskStatusResponse>($"api/v1/tasks/{command.CommandId}/status", KaiJson.Options))!;
        Assert.Equal(("completed", 100, "worker-1"), (status.Status, status.Progress, status.AgentId));
    }

    [Fact]
    public async Task A_command_for_an_offline_agent_is_queued_and_delivered_when_it_connects()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        var created = await hub.NewAgentAsync(user.AccessToken, "later");
        using var client = hub.Client(user.AccessToken);

        var queued = (await (await client.PostAsJsonAsync("api/v1/agents/later/command", new SendCommandRequest("wake", Timeout: 0), KaiJson.Options))
            .Content.ReadFromJsonAsync<CommandResponse>(KaiJson.Options))!;
        Assert.Equal("queued", queued.Status);
        Assert.Equal("queued", (await client.GetFromJsonAsync<TaskStatusResponse>($"api/v1/tasks/{queued.CommandId}/status", KaiJson.Options))!.Status);

        await using var agent = await hub.ConnectAgentAsync(created);
        var command = (await agent.ReceiveAsync("command")).PayloadAs<CommandPayload>()!;
        Assert.Equal(queued.CommandId, command.CommandId);
        // The hub marks the command executing right after writing it to the link; the agent may read it first.
        await WaitForStatusAsync(client, queued.CommandId, "executing");
        await agent.SendAsync("command_result", new { command_id = command.CommandId, status = "failed", error = "nothing to wake" }, "r");
        await agent.ReceiveAsync("ack");
        var done = (await client.GetFromJsonAsync<TaskStatusResponse>($"api/v1/tasks/{queued.CommandId}/status", KaiJson.Options))!;
        Assert.Equal(("failed", "nothing to wake"), (done.Status, done.Error));
    }

    [Fact]
    public async Task Queued_commands_arrive_by_priority_then_age()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        var created = await hub.NewAgentAsync(user.AccessToken, "sorter");
        using var client = hub.Client(user.AccessToken);
        foreach (var (name, priority) in new[] { ("low-1", "low"), ("normal-1", "normal"), ("urgent-1", "urgent"), ("normal-2", "normal"), ("high-1", "high") })
        {
            var res = await client.PostAsJsonAsync("api/v1/agents/sorter/command", new SendCommandRequest(name, Priority: priority, Timeout: 0), KaiJson.Options);
            Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        }
        await using var agent = await hub.ConnectAgentAsync(created);
        var order = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            order.Add((await agent.ReceiveAsync("command")).PayloadAs<CommandPayload>()!.Command);
        }
        Assert.Equal(["urgent-1", "high-1", "normal-1", "normal-2", "low-1"], order);
    }

    [Fact]
    public async Task A_command_whose_deadline_passes_offline_fails_with_TASK_TIMEOUT_and_is_never_delivered()
    {
        var clock = TestClock.Create();
        await using var hub = await TestHub.StartAsync(clock);
        var user = await hub.NewUserAsync();
        var created = await hub.NewAgentAsync(user.AccessToken, "too-late");
        using var client = hub.Client(user.AccessToken);
        var queued = (await (await client.PostAsJsonAsync("api/v1/agents/too-late/command", new SendCommandRequest("hurry", Timeout: 0, Ttl: 60), KaiJson.Options))
            .Content.ReadFromJsonAsync<CommandResponse>(KaiJson.Options))!;

        clock.Advance(TimeSpan.FromSeconds(61));
        await hub.Service<HubSweeper>().SweepOnceAsync(CancellationToken.None);
        var status = (await client.GetFromJsonAsync<TaskStatusResponse>($"api/v1/tasks/{queued.CommandId}/status", KaiJson.Options))!;
        Assert.Equal(("failed", "TASK_TIMEOUT"), (status.Status, status.Error));

        await using var agent = await hub.ConnectAgentAsync(created);
        await Assert.ThrowsAsync<TimeoutException>(() => agent.ReceiveAsync("command", TimeSpan.FromMilliseconds(500)));
    }

    [Fact]
    public async Task A_slow_agent_leaves_the_call_executing_after_its_timeout_and_the_result_still_lands()
    {
        var clock = TestClock.Create();
        await using var hub = await TestHub.StartAsync(clock);
        var user = await hub.NewUserAsync();
        await using var agent = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "slowpoke"));
        using var client = hub.Client(user.AccessToken);

        var call = client.PostAsJsonAsync("api/v1/agents/slowpoke/command", new SendCommandRequest("think", Timeout: 5, Ttl: 60), KaiJson.Options);   // waits 5 s, lives 60 s
        var command = (await agent.ReceiveAsync("command")).PayloadAs<CommandPayload>()!;
        // The hub arms its wait timer after routing the command, so step the clock until the call returns.
        for (var i = 0; i < 50 && !call.IsCompleted; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAny(call, Task.Delay(20));
        }
        var response = (await (await call).Content.ReadFromJsonAsync<CommandResponse>(KaiJson.Options))!;
        Assert.Equal("executing", response.Status);

        await agent.SendAsync("command_result", new { command_id = command.CommandId, status = "completed", result = 1 }, "late");
        Assert.False((await agent.ReceiveAsync("ack")).Payload.GetProperty("duplicate").GetBoolean());
        Assert.Equal("completed", (await client.GetFromJsonAsync<TaskStatusResponse>($"api/v1/tasks/{command.CommandId}/status", KaiJson.Options))!.Status);

        // A second result (say, after a redelivery) is acknowledged as a duplicate and changes nothing.
        await agent.SendAsync("command_result", new { command_id = command.CommandId, status = "failed", error = "oops" }, "dup");
        Assert.True((await agent.ReceiveAsync("ack")).Payload.GetProperty("duplicate").GetBoolean());
        var status = (await client.GetFromJsonAsync<TaskStatusResponse>($"api/v1/tasks/{command.CommandId}/status", KaiJson.Options))!;
        Assert.Equal(("completed", (string?)null), (status.Status, status.Error));
    }

    [Fact]
    public async Task An_unanswered_command_is_delivered_again_after_a_reconnect()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        var created = await hub.NewAgentAsync(user.AccessToken, "flaky");
        using var client = hub.Client(user.AccessToken);
        var first = await hub.ConnectAgentAsync(created);
        var sent = (await (await client.PostAsJsonAsync("api/v1/agents/flaky/command", new SendCommandRequest("job", Timeout: 0), KaiJson.Options))
            .Content.ReadFromJsonAsync<CommandResponse>(KaiJson.Options))!;
        Assert.Equal(sent.CommandId, (await first.ReceiveAsync("command")).PayloadAs<CommandPayload>()!.CommandId);
        await first.DisposeAsync();

        await using var second = await hub.ConnectAgentAsync(created);
        Assert.Equal(sent.CommandId, (await second.ReceiveAsync("command")).PayloadAs<CommandPayload>()!.CommandId);
    }

    [Fact]
    public async Task Results_for_unknown_or_other_agents_commands_are_rejected()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        await using var a = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "owner-of-cmd"));
        await using var b = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "impostor"));
        using var client = hub.Client(user.AccessToken);
        var sent = (await (await client.PostAsJsonAsync("api/v1/agents/owner-of-cmd/command", new SendCommandRequest("job", Timeout: 0), KaiJson.Options))
            .Content.ReadFromJsonAsync<CommandResponse>(KaiJson.Options))!;

        await b.SendAsync("command_result", new { command_id = sent.CommandId, status = "completed", result = "forged" }, "f1");
        Assert.Equal("NOT_FOUND", (await b.ReceiveAsync("error")).PayloadAs<ErrorPayload>()!.Code);
        await b.SendAsync("command_result", new { command_id = "cmd_nope", status = "completed" }, "f2");
        Assert.Equal("NOT_FOUND", (await b.ReceiveAsync("error")).PayloadAs<ErrorPayload>()!.Code);
        await a.SendAsync("command_result", new { command_id = sent.CommandId, status = "maybe" }, "f3");
        Assert.Equal("VALIDATION_ERROR", (await a.ReceiveAsync("error")).PayloadAs<ErrorPayload>()!.Code);
        Assert.Equal("executing", (await client.GetFromJsonAsync<TaskStatusResponse>($"api/v1/tasks/{sent.CommandId}/status", KaiJson.Options))!.Status);
    }

    [Fact]
    public async Task Invalid_commands_get_400_and_other_users_get_404_for_command_status()
    {
        await using var hub = await TestHub.StartAsync();
        var alice = await hub.NewUserAsync();
        var bob = await hub.NewUserAsync();
        await hub.NewAgentAsync(alice.AccessToken, "target");
        using var client = hub.Client(alice.AccessToken);
        foreach (var body in new[]
        {
            new SendCommandRequest("", Timeout: 0),
            new SendCommandRequest("x", Priority: "asap", Timeout: 0),
            new SendCommandRequest("x", Timeout: 301),
            new SendCommandRequest("x", Timeout: 0, Ttl: 0),
            new SendCommandRequest("x", System.Text.Json.JsonDocument.Parse("[]").RootElement, Timeout: 0),
        })
        {
            var res = await client.PostAsJsonAsync("api/v1/agents/target/command", body, KaiJson.Options);
            Assert.Equal(HttpStatusCode.BadRequest, res.StatusCode);
            await AuthApiTests.AssertError(res, "VALIDATION_ERROR");
        }
        var ok = (await (await client.PostAsJsonAsync("api/v1/agents/target/command", new SendCommandRequest("x", Timeout: 0), KaiJson.Options))
            .Content.ReadFromJsonAsync<CommandResponse>(KaiJson.Options))!;
        var asBob = await hub.Client(bob.AccessToken).GetAsync($"api/v1/tasks/{ok.CommandId}/status");
        Assert.Equal(HttpStatusCode.NotFound, asBob.StatusCode);
        await AuthApiTests.AssertError(asBob, "NOT_FOUND");
    }

    [Fact]
    public async Task Restart_needs_a_live_link_and_reaches_the_agent_as_an_urgent_command()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        var created = await hub.NewAgentAsync(user.AccessToken, "restartable");
        using var client = hub.Client(user.AccessToken);
        var offline = await client.PostAsJsonAsync("api/v1/agents/restartable/restart", new RestartRequest(true), KaiJson.Options);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, offline.StatusCode);
        await AuthApiTests.AssertError(offline, "AGENT_UNAVAILABLE");

        await using var agent = await hub.ConnectAgentAsync(created);
        var restart = (await (await client.PostAsJsonAsync("api/v1/agents/restartable/restart", new RestartRequest(true), KaiJson.Options))
            .Content.ReadFromJsonAsync<RestartResponse>(KaiJson.Options))!;
        var command = (await agent.ReceiveAsync("command")).PayloadAs<CommandPayload>()!;
        Assert.Equal((restart.RestartId, "restart", "urgent"), (command.CommandId, command.Command, command.Priority));
        Assert.True(command.Parameters.GetProperty("force").GetBoolean());
    }

    private static async Task WaitForStatusAsync(HttpClient client, string commandId, string status)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        string? last = null;
        while (DateTime.UtcNow < deadline)
        {
            last = (await client.GetFromJsonAsync<TaskStatusResponse>($"api/v1/tasks/{commandId}/status", KaiJson.Options))!.Status;
            if (last == status)
            {
                return;
            }
            await Task.Delay(10);
        }
        Assert.Fail($"command {commandId} stayed {last}, expected {status}");
    }
}
