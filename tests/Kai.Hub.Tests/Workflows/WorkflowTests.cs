using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Hub.Tests.Tasks;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Hub.Tests.Workflows;

/// <summary>Seed 004 workflows: DAG stages as tasks, fan-out and join, failure strategies, cancel, invalid definitions.</summary>
public sealed class WorkflowTests
{
    private static async Task<WorkflowView> StartAsync(TaskKit kit, CreateWorkflowRequest request)
    {
        var res = await kit.Api.PostAsJsonAsync("api/v1/workflows", request, KaiJson.Options);
        Assert.Equal(HttpStatusCode.Created, res.StatusCode);
        return (await res.Content.ReadFromJsonAsync<WorkflowView>(KaiJson.Options))!;
    }

    private static async Task<WorkflowView> GetAsync(TaskKit kit, string id) =>
        (await kit.Api.GetFromJsonAsync<WorkflowView>($"api/v1/workflows/{id}", KaiJson.Options))!;

    private static WorkflowStage Stage(string name, string type, params string[] deps) =>
        new(name, type, deps, RetryPolicy: new RetryPolicy(1));

    [Fact]
    public async Task Parallel_fan_out_and_join_pass_upstream_results()
    {
        await using var kit = await TaskKit.StartAsync();
        var (_, worker) = await kit.NewWorkerAsync("analysis", 5, "plan", "code", "test", "ship");
        await using var _ = worker;
        var wf = await StartAsync(kit, new CreateWorkflowRequest("wf-1", "proj-456", "Full stack", [
            Stage("plan", "plan"),
            Stage("backend", "code", "plan"),
            Stage("frontend", "code", "plan"),
            Stage("ship", "ship", "backend", "frontend"),
        ], new WorkflowConfiguration(true, "stop_on_error")));
        Assert.Equal("running", wf.Status);
        // The first stage went out to the connected agent before the 201; the others wait for it.
        Assert.Equal(["in_progress", "pending", "pending", "pending"], wf.Stages.Select(s => s.Status));

        var plan = await TaskKit.ReceiveTaskAsync(worker);
        Assert.Equal("plan", plan.StageName);
        Assert.Equal("wf-1", plan.ParentWorkflowId);
        await kit.CompleteAsync(worker, plan, new { tables = 3 });

        // Fan-out: both arrive before either completes.
        var a = await TaskKit.ReceiveTaskAsync(worker);
        var b = await TaskKit.ReceiveTaskAsync(worker);
        Assert.Equal(["backend", "frontend"], new[] { a.StageName, b.StageName }.Order());
        Assert.Equal(3, a.InputData.GetProperty("upstream").GetProperty("plan").GetProperty("tables").GetInt32());
        await kit.CompleteAsync(worker, a, a.StageName + " done");
        Assert.Equal(TaskStatuses.Pending, (await GetAsync(kit, "wf-1")).Stages.Single(s => s.Name == "ship").Status);
        await kit.CompleteAsync(worker, b, b.StageName + " done");

        // Join: ship sees both upstream results.
        var ship = await TaskKit.ReceiveTaskAsync(worker);
        Assert.Equal("ship", ship.StageName);
        var upstream = ship.InputData.GetProperty("upstream");
        Assert.Equal("backend done", upstream.GetProperty("backend").GetString());
        Assert.Equal("frontend done", upstream.GetProperty("frontend").GetString());
        await kit.CompleteAsync(worker, ship, "shipped");

        var done = await GetAsync(kit, "wf-1");
        Assert.Equal("completed", done.Status);
        Assert.All(done.Stages, s => Assert.Equal(TaskStatuses.Completed, s.Status));
        Assert.Equal(4, (await kit.ListTasksAsync("?parent_workflow_id=wf-1")).Total);
    }

    [Fact]
    public async Task Sequential_execution_runs_one_stage_at_a_time()
    {
        await using var kit = await TaskKit.StartAsync();
        var (_, worker) = await kit.NewWorkerAsync("any", 5, "a", "b");
        await using var _ = worker;
        await StartAsync(kit, new CreateWorkflowRequest("wf-seq", null, "Sequential", [Stage("one", "a"), Stage("two", "b")], new WorkflowConfiguration(false)));
        var one = await TaskKit.ReceiveTaskAsync(worker);
        Assert.Equal("one", one.StageName);
        Assert.Equal(TaskStatuses.Pending, (await GetAsync(kit, "wf-seq")).Stages[1].Status);
        await kit.CompleteAsync(worker, one);
        Assert.Equal("two", (await TaskKit.ReceiveTaskAsync(worker)).StageName);
    }

    [Fact]
    public async Task Stop_on_error_cancels_the_rest_and_fails_the_run()
    {
        await using var kit = await TaskKit.StartAsync();
        var (agent, worker) = await kit.NewWorkerAsync("any", 5, "x", "y", "z");
        await using var _ = worker;
        await using var observer = await kit.Hub.ConnectAsync($"ws/agents/{agent.AgentId}", kit.User.AccessToken);
        var wf = await StartAsync(kit, new CreateWorkflowRequest("wf-stop", null, "Stop", [Stage("x", "x"), Stage("y", "y"), Stage("z", "z", "x")],
            new WorkflowConfiguration(true, "stop_on_error")));
        var tasks = new[] { await TaskKit.ReceiveTaskAsync(worker), await TaskKit.ReceiveTaskAsync(worker) };
        var x = tasks.Single(t => t.StageName == "x");
        var y = tasks.Single(t => t.StageName == "y");

        await kit.ReportAsync(worker, x, TaskStatuses.Failed, error: "compile error");
        var cancel = (await TaskKit.ReceiveAsync(worker, FrameTypes.TaskCancel)).PayloadAs<TaskCancelPayload>()!;
        Assert.Equal(y.TaskId, cancel.TaskId);

        var stopped = await GetAsync(kit, wf.WorkflowId);
        Assert.Equal("failed", stopped.Status);
        Assert.Contains("compile error", stopped.Error, StringComparison.Ordinal);
        Assert.Equal([TaskStatuses.Failed, TaskStatuses.Canceled, TaskStatuses.Canceled], stopped.Stages.Select(s => s.Status));
        Assert.Equal(ErrorCodes.Conflict, (await kit.ReportAsync(worker, y, TaskStatuses.Completed)).PayloadAs<ErrorPayload>()!.Code);

        var events = new List<string>();
        while (!events.Contains(TaskEventTypes.WorkflowFailed))
        {
            events.Add((await observer.ReceiveAsync(FrameTypes.Event)).PayloadAs<EventMessage>()!.EventType);
        }
        Assert.Equal(TaskEventTypes.WorkflowStarted, events[0]);
    }

    [Fact]
    public async Task Continue_runs_independent_stages_and_fails_only_dependents()
    {
        await using var kit = await TaskKit.StartAsync();
        var (_, worker) = await kit.NewWorkerAsync("any", 5, "x", "y", "z");
        await using var _ = worker;
        var wf = await StartAsync(kit, new CreateWorkflowRequest("wf-go", null, "Go on", [Stage("x", "x"), Stage("y", "y"), Stage("z", "z", "x")],
            new WorkflowConfiguration(true, "continue")));
        var tasks = new[] { await TaskKit.ReceiveTaskAsync(worker), await TaskKit.ReceiveTaskAsync(worker) };
        await kit.ReportAsync(worker, tasks.Single(t => t.StageName == "x"), TaskStatuses.Failed, error: "compile error");

        var middle = await GetAsync(kit, wf.WorkflowId);
        Assert.Equal("running", middle.Status);
        Assert.Equal([TaskStatuses.Failed, TaskStatuses.InProgress, TaskStatuses.Failed], middle.Stages.Select(s => s.Status));
        Assert.Equal(ErrorCodes.DependencyNotMet, (await kit.GetTaskAsync(middle.Stages[2].TaskId)).ErrorCode);

        await kit.CompleteAsync(worker, tasks.Single(t => t.StageName == "y"), "y ok");
        var end = await GetAsync(kit, wf.WorkflowId);
        Assert.Equal("failed", end.Status);
        Assert.Equal(TaskStatuses.Completed, end.Stages[1].Status);
        Assert.Contains("x", end.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Canceling_a_workflow_cancels_its_open_stages()
    {
        await using var kit = await TaskKit.StartAsync();
        var (_, worker) = await kit.NewWorkerAsync("any", 5, "x", "z");
        await using var _ = worker;
        var wf = await StartAsync(kit, new CreateWorkflowRequest(null, null, "Cancel me", [Stage("x", "x"), Stage("z", "z", "x")], new WorkflowConfiguration(true)));
        Assert.StartsWith("wf_", wf.WorkflowId, StringComparison.Ordinal);
        var x = await TaskKit.ReceiveTaskAsync(worker);
        var res = await kit.Api.PostAsync($"api/v1/workflows/{wf.WorkflowId}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        var canceled = (await res.Content.ReadFromJsonAsync<WorkflowView>(KaiJson.Options))!;
        Assert.Equal("canceled", canceled.Status);
        Assert.All(canceled.Stages, s => Assert.Equal(TaskStatuses.Canceled, s.Status));
        Assert.Equal(x.TaskId, (await TaskKit.ReceiveAsync(worker, FrameTypes.TaskCancel)).PayloadAs<TaskCancelPayload>()!.TaskId);
        Assert.Single((await kit.Api.GetFromJsonAsync<WorkflowListResponse>("api/v1/workflows?status=canceled", KaiJson.Options))!.Workflows);
    }

    [Theory]
    [InlineData("""[{"name": "a", "agent_type": "t"}, {"name": "a", "agent_type": "t"}]""", "duplicate_stages")]
    [InlineData("""[{"name": "a", "agent_type": "t", "dependencies": ["nope"]}]""", "unknown_dependencies")]
    [InlineData("""[{"name": "a", "agent_type": "t", "dependencies": ["c"]}, {"name": "b", "agent_type": "t", "dependencies": ["a"]}, {"name": "c", "agent_type": "t", "dependencies": ["b"]}]""", "cycle")]
    [InlineData("""[{"name": "a", "agent_type": "t", "dependencies": ["a"]}]""", "cycle")]
    public async Task Invalid_definition_gets_a_clear_400_and_stores_nothing(string stages, string detail)
    {
        await using var kit = await TaskKit.StartAsync();
        var body = $$"""{"name": "bad", "stages": {{stages}}}""";
        var res = await kit.Api.PostAsync("api/v1/workflows", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        await TaskKit.AssertErrorAsync(res, HttpStatusCode.BadRequest, ErrorCodes.InvalidTemplate);
        using var doc = JsonDocument.Parse(await res.Content.ReadAsStringAsync());
        Assert.True(doc.RootElement.GetProperty("error").GetProperty("details").TryGetProperty(detail, out _));
        Assert.Equal(0, (await kit.Api.GetFromJsonAsync<WorkflowListResponse>("api/v1/workflows", KaiJson.Options))!.Total);
        Assert.Equal(0, (await kit.ListTasksAsync()).Total);
    }

    [Fact]
    public async Task Another_users_workflow_is_404()
    {
        await using var kit = await TaskKit.StartAsync();
        var wf = await StartAsync(kit, new CreateWorkflowRequest("mine", null, "Mine", [Stage("a", "t")]));
        var other = await kit.Hub.NewUserAsync();
        using var otherApi = kit.Hub.Client(other.AccessToken);
        await TaskKit.AssertErrorAsync(await otherApi.GetAsync($"api/v1/workflows/{wf.WorkflowId}"), HttpStatusCode.NotFound, ErrorCodes.NotFound);
        await TaskKit.AssertErrorAsync(await otherApi.PostAsync($"api/v1/workflows/{wf.WorkflowId}/cancel", null), HttpStatusCode.NotFound, ErrorCodes.NotFound);
    }
}
