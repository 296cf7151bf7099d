using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;

namespace Kai.Hub.Tests.Tasks;

/// <summary>
/// Issue 10 item 7: a terminal update without <c>fencing_token</c> and <c>attempt</c> is accepted only when it provably belongs to
/// the current attempt (the channel that received it, and no other attempt); and seed 004's REST flow (claim, then PATCH).
/// </summary>
public sealed class TokenlessFencingTests
{
    [Fact]
    public async Task Tokenless_stale_completion_after_redelivery_to_the_same_link_is_refused_with_409()
    {
        await using var kit = await TaskKit.StartAsync();
        var (_, worker) = await kit.NewWorkerAsync("index");
        await using var _ = worker;
        var created = await kit.CreateTaskAsync(new CreateTaskRequest(null, "index", RetryPolicy: new RetryPolicy(3, "none")));
        var first = await TaskKit.ReceiveTaskAsync(worker);

        // The worker hangs past its lease; attempt 2 goes to the same link.
        await kit.AdvanceAsync(TimeSpan.FromSeconds(31));
        var second = await TaskKit.ReceiveTaskAsync(worker);
        Assert.Equal(2, second.Attempt);

        // Attempt 1's late answer, without token or attempt: it cannot be told from attempt 2's, so it is refused.
        var stale = await kit.ReportAsync(worker, first, TaskStatuses.Completed, result: "from attempt 1", tokenless: true);
        Assert.Equal(FrameTypes.Error, stale.Type);
        var error = stale.PayloadAs<ErrorPayload>()!;
        Assert.Equal(ErrorCodes.Conflict, error.Code);
        Assert.Contains("fencing_token", error.Message, StringComparison.Ordinal);
        var still = await kit.GetTaskAsync(created.TaskId);
        Assert.Equal(TaskStatuses.InProgress, still.Status);
        Assert.Null(still.Result);

        // A tokenless failure is refused the same way; the real answer with the token wins.
        Assert.Equal(FrameTypes.Error, (await kit.ReportAsync(worker, first, TaskStatuses.Failed, error: "late", tokenless: true)).Type);
        await kit.CompleteAsync(worker, second, "from attempt 2");
        var done = await kit.GetTaskAsync(created.TaskId);
        Assert.Equal(TaskStatuses.Completed, done.Status);
        Assert.Equal("from attempt 2", done.Result!.Value.GetString());
    }

    [Fact]
    public async Task Tokenless_completion_on_a_link_that_did_not_receive_the_attempt_is_refused()
    {
        await using var kit = await TaskKit.StartAsync();
        var (agent, worker) = await kit.NewWorkerAsync("index");
        var created = await kit.CreateTaskAsync(new CreateTaskRequest(null, "index"));
        var first = await TaskKit.ReceiveTaskAsync(worker);

        // The agent reconnects (the new link replaces the old one); the attempt is still its own, but the new link never got it.
        await using var again = await kit.Hub.ConnectAgentAsync(agent);
        await worker.DisposeAsync();
        var refused = await kit.ReportAsync(again, first, TaskStatuses.Completed, result: "who knows", tokenless: true);
        Assert.Equal(ErrorCodes.Conflict, refused.PayloadAs<ErrorPayload>()!.Code);
        Assert.Equal(TaskStatuses.InProgress, (await kit.GetTaskAsync(created.TaskId)).Status);

        // Over REST, without a claim of its own, the same answer is refused too.
        using var agentApi = kit.Hub.Client(await kit.Hub.AgentTokenAsync(agent));
        var rest = await agentApi.PatchAsJsonAsync($"api/v1/tasks/{created.TaskId}", new { status = "completed", result = "x" });
        await TaskKit.AssertErrorAsync(rest, HttpStatusCode.Conflict, ErrorCodes.Conflict);

        // With the token it is accepted.
        await kit.CompleteAsync(again, first, "with token");
        Assert.Equal("with token", (await kit.GetTaskAsync(created.TaskId)).Result!.Value.GetString());
    }

    [Fact]
    public async Task Tokenless_completion_of_the_only_attempt_on_its_link_is_accepted()
    {
        await using var kit = await TaskKit.StartAsync();
        var (_, worker) = await kit.NewWorkerAsync("index");
        await using var _ = worker;
        var created = await kit.CreateTaskAsync(new CreateTaskRequest(null, "index"));
        var first = await TaskKit.ReceiveTaskAsync(worker);
        var ack = await kit.ReportAsync(worker, first, TaskStatuses.Completed, result: "done", tokenless: true);
        Assert.Equal(FrameTypes.Ack, ack.Type);
        Assert.Equal("done", (await kit.GetTaskAsync(created.TaskId)).Result!.Value.GetString());
    }

    [Fact]
    public async Task Assigned_agent_claims_a_queued_task_over_REST_then_completes_it_without_a_token()
    {
        await using var kit = await TaskKit.StartAsync();
        var agent = await kit.NewAgentAsync("report");
        var created = await kit.CreateTaskAsync(new CreateTaskRequest("task-rest", "report", "high", agent.AgentId));
        Assert.Equal(TaskStatuses.Queued, created.Status);

        using var agentApi = kit.Hub.Client(await kit.Hub.AgentTokenAsync(agent));
        var claim = await agentApi.PatchAsJsonAsync("api/v1/tasks/task-rest", new { status = "in_progress", progress = 10 });
        Assert.Equal(HttpStatusCode.OK, claim.StatusCode);
        var claimed = (await claim.Content.ReadFromJsonAsync<TaskView>(KaiJson.Options))!;
        Assert.Equal(TaskStatuses.InProgress, claimed.Status);
        Assert.Equal(1, claimed.Attempts);
        Assert.NotNull(claimed.FencingToken);
        Assert.NotNull(claimed.LeaseExpiresAt);

        // Progress renews; the completion needs no token, as in seed 004's example.
        Assert.Equal(HttpStatusCode.OK, (await agentApi.PatchAsJsonAsync("api/v1/tasks/task-rest", new { status = "in_progress", progress = 60 })).StatusCode);
        var done = await agentApi.PatchAsJsonAsync("api/v1/tasks/task-rest", new { status = "completed", result = new { rows = 3 } });
        Assert.Equal(HttpStatusCode.OK, done.StatusCode);
        var task = await kit.GetTaskAsync("task-rest");
        Assert.Equal(TaskStatuses.Completed, task.Status);
        Assert.Equal(3, task.Result!.Value.GetProperty("rows").GetInt32());
    }

    [Fact]
    public async Task Tokenless_REST_completion_after_the_lease_expired_and_was_claimed_again_is_refused()
    {
        await using var kit = await TaskKit.StartAsync();
        var agent = await kit.NewAgentAsync("report");
        await kit.CreateTaskAsync(new CreateTaskRequest("task-rest", "report", AssignedAgent: agent.AgentId, RetryPolicy: new RetryPolicy(3, "none")));
        using var agentApi = kit.Hub.Client(await kit.Hub.AgentTokenAsync(agent));
        Assert.Equal(HttpStatusCode.OK, (await agentApi.PatchAsJsonAsync("api/v1/tasks/task-rest", new { status = "in_progress" })).StatusCode);

        // The lease runs out; the agent claims attempt 2. A tokenless completion could now be attempt 1's: refused.
        await kit.AdvanceAsync(TimeSpan.FromSeconds(31));
        var second = (await (await agentApi.PatchAsJsonAsync("api/v1/tasks/task-rest", new { status = "in_progress" })).Content.ReadFromJsonAsync<TaskView>(KaiJson.Options))!;
        Assert.Equal(2, second.Attempts);
        var stale = await agentApi.PatchAsJsonAsync("api/v1/tasks/task-rest", new { status = "completed", result = "old" });
        await TaskKit.AssertErrorAsync(stale, HttpStatusCode.Conflict, ErrorCodes.Conflict);
        Assert.Contains("fencing_token", await stale.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var ok = await agentApi.PatchAsJsonAsync("api/v1/tasks/task-rest", new { status = "completed", result = "new", fencing_token = second.FencingToken });
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("new", (await kit.GetTaskAsync("task-rest")).Result!.Value.GetString());
    }

    [Fact]
    public async Task Claim_by_an_agent_that_is_not_assigned_is_refused()
    {
        await using var kit = await TaskKit.StartAsync();
        var assigned = await kit.NewAgentAsync("report");
        var other = await kit.NewAgentAsync("report");
        await kit.CreateTaskAsync(new CreateTaskRequest("mine", "report", AssignedAgent: assigned.AgentId));
        using var otherApi = kit.Hub.Client(await kit.Hub.AgentTokenAsync(other));
        var res = await otherApi.PatchAsJsonAsync("api/v1/tasks/mine", new { status = "in_progress" });
        await TaskKit.AssertErrorAsync(res, HttpStatusCode.Conflict, ErrorCodes.Conflict);
        Assert.Equal(TaskStatuses.Queued, (await kit.GetTaskAsync("mine")).Status);
    }

    [Fact]
    public async Task Claim_of_a_task_whose_dependencies_are_not_completed_is_DEPENDENCY_NOT_MET()
    {
        await using var kit = await TaskKit.StartAsync();
        var agent = await kit.NewAgentAsync("report");
        await kit.CreateTaskAsync(new CreateTaskRequest("first", "other"));
        await kit.CreateTaskAsync(new CreateTaskRequest("second", "report", AssignedAgent: agent.AgentId, Dependencies: ["first"]));
        using var agentApi = kit.Hub.Client(await kit.Hub.AgentTokenAsync(agent));
        var res = await agentApi.PatchAsJsonAsync("api/v1/tasks/second", new { status = "in_progress" });
        await TaskKit.AssertErrorAsync(res, (HttpStatusCode)412, ErrorCodes.DependencyNotMet);
        Assert.Contains("first", await res.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(TaskStatuses.Pending, (await kit.GetTaskAsync("second")).Status);
    }
}
