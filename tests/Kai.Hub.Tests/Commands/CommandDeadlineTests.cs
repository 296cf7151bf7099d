using System.Net;
using System.Net.Http.Json;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Hub.Tests.Commands;

/// <summary>Commands as seed 004 users send them (issue 10 item 11): an idempotency key, and <c>timeout</c> as the deadline.</summary>
public sealed class CommandDeadlineTests
{
    private static HttpRequestMessage Post(string agentId, object body, string? key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"api/v1/agents/{agentId}/command") { Content = JsonContent.Create(body, options: KaiJson.Options) };
        if (key is not null)
        {
            request.Headers.Add("Idempotency-Key", key);
        }
        return request;
    }

    [Fact]
    public async Task A_retried_command_with_the_same_idempotency_key_is_stored_and_delivered_once()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        await using var agent = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "once"));
        using var client = hub.Client(user.AccessToken);
        var body = new { command = "charge", parameters = new { amount = 5 }, timeout = 0 };

        var first = (await (await client.SendAsync(Post("once", body, "pay-1"))).Content.ReadFromJsonAsync<CommandResponse>(KaiJson.Options))!;
        var retry = (await (await client.SendAsync(Post("once", body, "pay-1"))).Content.ReadFromJsonAsync<CommandResponse>(KaiJson.Options))!;
        Assert.Equal(first.CommandId, retry.CommandId);
        var delivered = (await agent.ReceiveAsync(FrameTypes.Command)).PayloadAs<CommandPayload>()!;
        Assert.Equal(first.CommandId, delivered.CommandId);

        // The same key with another body is refused and stores nothing.
        var other = await client.SendAsync(Post("once", new { command = "charge", parameters = new { amount = 500 }, timeout = 0 }, "pay-1"));
        Assert.Equal(HttpStatusCode.Conflict, other.StatusCode);
        Assert.Contains(first.CommandId, await other.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        // A heartbeat's ack is the next frame: no second command was delivered for the retry or the conflict.
        await agent.SendAsync(FrameTypes.Heartbeat, new { status = "active" }, "hb");
        Assert.Equal("hb", (await agent.ReceiveAsync()).Id);

        // Keys are per requester: another user's same key is an independent command; a bad key is a validation error.
        var bad = await client.SendAsync(Post("once", body, new string('k', 129)));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task Timeout_is_the_deadline_and_a_command_still_open_then_fails_with_TASK_TIMEOUT_408()
    {
        var clock = TestClock.Create();
        await using var hub = await TestHub.StartAsync(clock);
        var user = await hub.NewUserAsync();
        await hub.NewAgentAsync(user.AccessToken, "offline-one");
        using var client = hub.Client(user.AccessToken);

        var call = client.PostAsJsonAsync("api/v1/agents/offline-one/command", new { command = "ping", timeout = 10 }, KaiJson.Options);
        // Advance the hub's clock past the deadline while the call waits (no real sleeping).
        for (var i = 0; i < 400 && !call.IsCompleted; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAny(call, Task.Delay(25));
        }
        var response = await call;
        Assert.Equal(HttpStatusCode.RequestTimeout, response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<ErrorEnvelope>(KaiJson.Options))!.Error;
        Assert.Equal(ErrorCodes.TaskTimeout, error.Code);
        var commandId = error.Details.GetProperty("command_id").GetString()!;

        var status = (await client.GetFromJsonAsync<TaskStatusResponse>($"api/v1/tasks/{commandId}/status", KaiJson.Options))!;
        Assert.Equal(("failed", ErrorCodes.TaskTimeout), (status.Status, status.Error));
        Assert.True(status.UpdatedAt >= status.CreatedAt.AddSeconds(10), "failed at the 10 s deadline, not before");
    }
}
