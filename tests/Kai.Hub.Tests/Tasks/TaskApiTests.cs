using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;

namespace Kai.Hub.Tests.Tasks;

/// <summary>The task REST API: idempotency, dependencies, validation and tenancy.</summary>
public sealed class TaskApiTests
{
    [Fact]
    public async Task Idempotency_key_and_repeated_id_return_the_existing_task()
    {
        await using var kit = await TaskKit.StartAsync();
        var request = new CreateTaskRequest(null, "work", InputData: JsonSerializer.SerializeToElement(new { n = 1 }));
        var first = await kit.PostTaskAsync(request, "key-1");
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        var again = await kit.PostTaskAsync(request, "key-1");
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal((await first.Content.ReadFromJsonAsync<TaskView>(KaiJson.Options))!.TaskId, (await again.Content.ReadFromJsonAsync<TaskView>(KaiJson.Options))!.TaskId);

        var byId = new CreateTaskRequest("job-1", "work");
        Assert.Equal(HttpStatusCode.Created, (await kit.PostTaskAsync(byId)).StatusCode);
        var repeated = await kit.PostTaskAsync(byId);
        Assert.Equal(HttpStatusCode.OK, repeated.StatusCode);
        Assert.Equal("job-1", (await repeated.Content.ReadFromJsonAsync<TaskView>(KaiJson.Options))!.TaskId);
        Assert.Equal(2, (await kit.ListTasksAsync()).Total);

        // The same key from another user is another task; the same id is taken.
        var other = await kit.Hub.NewUserAsync();
        using var otherApi = kit.Hub.Client(other.AccessToken);
        Assert.Equal(HttpStatusCode.Created, (await kit.PostTaskAsync(request, "key-1", otherApi)).StatusCode);
        await TaskKit.AssertErrorAsync(await kit.PostTaskAsync(byId, client: otherApi), HttpStatusCode.Conflict, ErrorCodes.Conflict);
    }

    [Fact]
    public async Task Task_starts_only_after_its_dependencies_complete()
    {
        await using var kit = await TaskKit.StartAsync();
        var (_, worker) = await kit.NewWorkerAsync("step");
        await using var _ = worker;
        var first = await kit.CreateTaskAsync(new CreateTaskRequest("first", "step"));
        var second = await kit.CreateTaskAsync(new CreateTaskRequest("second", "step", Dependencies: ["first"]));
        Assert.Equal(TaskStatuses.Pending, second.Status);
        Assert.Equal(["first"], second.Dependencies);

        var got = await TaskKit.ReceiveTaskAsync(worker);
        Assert.Equal(first.TaskId, got.TaskId);
        Assert.Equal(TaskStatuses.Pending, (await kit.GetTaskAsync("second")).Status);
        await kit.CompleteAsync(worker, got);
        var next = await TaskKit.ReceiveTaskAsync(worker);
        Assert.Equal("second", next.TaskId);
    }

    [Fact]
    public async Task Failed_dependency_fails_its_dependents_with_DEPENDENCY_NOT_MET()
    {
        await using var kit = await TaskKit.StartAsync();
        var (_, worker) = await kit.NewWorkerAsync("step");
        await using var _ = worker;
        await kit.CreateTaskAsync(new CreateTaskRequest("root", "step", RetryPolicy: new RetryPolicy(1)));
        await kit.CreateTaskAsync(new CreateTaskRequest("child", "step", Dependencies: ["root"]));
        await kit.CreateTaskAsync(new CreateTaskRequest("grandchild", "step", Dependencies: ["child"]));

        var root = await TaskKit.ReceiveTaskAsync(worker);
        await kit.ReportAsync(worker, root, TaskStatuses.Failed, error: "no input");
        Assert.Equal(TaskStatuses.Failed, (await kit.GetTaskAsync("root")).Status);
        foreach (var id in new[] { "child", "grandchild" })
        {
            var t = await kit.GetTaskAsync(id);
            Assert.Equal(TaskStatuses.Failed, t.Status);
            Assert.Equal(ErrorCodes.DependencyNotMet, t.ErrorCode);
        }
        // A task created on a failed dependency fails at once.
        var late = await kit.CreateTaskAsync(new CreateTaskRequest("late", "step", Dependencies: ["root"]));
        Assert.Equal(TaskStatuses.Failed, late.Status);
        Assert.Equal(ErrorCodes.DependencyNotMet, late.ErrorCode);
    }

    [Fact]
    public async Task Unknown_dependency_and_self_cycle_are_rejected_and_store_nothing()
    {
        await using var kit = await TaskKit.StartAsync();
        var unknown = await kit.PostTaskAsync(new CreateTaskRequest("a", "step", Dependencies: ["ghost"]));
        await TaskKit.AssertErrorAsync(unknown, (HttpStatusCode)412, ErrorCodes.DependencyNotMet);
        Assert.Contains("ghost", await unknown.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var cycle = await kit.PostTaskAsync(new CreateTaskRequest("b", "step", Dependencies: ["b"]));
        await TaskKit.AssertErrorAsync(cycle, HttpStatusCode.BadRequest, ErrorCodes.ValidationError);
        Assert.Contains("cycle", await cycle.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0, (await kit.ListTasksAsync()).Total);
    }

    [Theory]
    [InlineData("""{"type": "x", "priority": "asap"}""", "priority")]
    [InlineData("""{"type": ""}""", "type")]
    [InlineData("""{"type": "x", "timeout": 0}""", "timeout")]
    [InlineData("""{"type": "x", "input_data": [1, 2]}""", "input_data")]
    [InlineData("""{"type": "x", "retry_policy": {"max_attempts": 0}}""", "retry_policy.max_attempts")]
    [InlineData("""{"type": "x", "retry_policy": {"backoff_strategy": "fibonacci"}}""", "retry_policy.backoff_strategy")]
    [InlineData("""{"id": "has space", "type": "x"}""", "id")]
    public async Task Bad_input_gets_a_400_naming_the_field_and_stores_nothing(string body, string field)
    {
        await using var kit = await TaskKit.StartAsync();
        var res = await kit.Api.PostAsync("api/v1/tasks", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        await TaskKit.AssertErrorAsync(res, HttpStatusCode.BadRequest, ErrorCodes.ValidationError);
        using var doc = JsonDocument.Parse(await res.Content.ReadAsStringAsync());
        Assert.True(doc.RootElement.GetProperty("error").GetProperty("details").TryGetProperty(field, out _), $"details name '{field}'");
        Assert.Equal(0, (await kit.ListTasksAsync()).Total);
    }

    [Fact]
    public async Task Another_users_task_is_404()
    {
        await using var kit = await TaskKit.StartAsync();
        var task = await kit.CreateTaskAsync(new CreateTaskRequest(null, "secret"));
        var other = await kit.Hub.NewUserAsync();
        using var otherApi = kit.Hub.Client(other.AccessToken);
        await TaskKit.AssertErrorAsync(await otherApi.GetAsync($"api/v1/tasks/{task.TaskId}"), HttpStatusCode.NotFound, ErrorCodes.NotFound);
        await TaskKit.AssertErrorAsync(await otherApi.GetAsync($"api/v1/tasks/{task.TaskId}/status"), HttpStatusCode.NotFound, ErrorCodes.NotFound);
        await TaskKit.AssertErrorAsync(await otherApi.PostAsync($"api/v1/tasks/{task.TaskId}/cancel", null), HttpStatusCode.NotFound, ErrorCodes.NotFound);
        await TaskKit.AssertErrorAsync(await otherApi.PostAsync($"api/v1/tasks/{task.TaskId}/retry", null), HttpStatusCode.NotFound, ErrorCodes.NotFound);
        Assert.Equal(0, (await otherApi.GetFromJsonAsync<TaskListResponse>("api/v1/tasks", KaiJson.Options))!.Total);
        // Nor can another user's agent be named as the assignee.
        var theirs = await kit.NewAgentAsync("secret", token: other.AccessToken);
        await TaskKit.AssertErrorAsync(await kit.PostTaskAsync(new CreateTaskRequest(null, "secret", AssignedAgent: theirs.AgentId)), HttpStatusCode.NotFound, ErrorCodes.AgentNotFound);
    }

    [Fact]
    public async Task Task_resource_and_status_have_the_seed_fields()
    {
        await using var kit = await TaskKit.StartAsync();
        var (agent, worker) = await kit.NewWorkerAsync("codegen");
        await using var _ = worker;
        var created = await kit.CreateTaskAsync(new CreateTaskRequest("task-001", "codegen", "high", agent.AgentId, null,
            JsonSerializer.SerializeToElement(new { template_id = "react" }), [], 300, new RetryPolicy(3, "exponential")));
        Assert.Equal("high", created.Priority);
        Assert.Equal(3, created.MaxAttempts);
        Assert.Equal(300, created.Timeout);
        var task = await TaskKit.ReceiveTaskAsync(worker);

        // The seed 004 PATCH body from the agent itself.
        using var agentApi = kit.Hub.Client(await kit.Hub.AgentTokenAsync(agent));
        var patch = await agentApi.PatchAsJsonAsync("api/v1/tasks/task-001", new UpdateTaskRequest(TaskStatuses.InProgress, 45,
            JsonSerializer.SerializeToElement(new { files_generated = 12 }), FencingToken: task.FencingToken), KaiJson.Options);
        Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        var status = (await kit.Api.GetFromJsonAsync<TaskStatusResponse>("api/v1/tasks/task-001/status", KaiJson.Options))!;
        Assert.Equal(TaskStatuses.InProgress, status.Status);
        Assert.Equal(45, status.Progress);
        Assert.Equal(agent.AgentId, status.AgentId);
        var full = await kit.GetTaskAsync("task-001");
        Assert.Equal(12, full.OutputData!.Value.GetProperty("files_generated").GetInt32());
        Assert.Equal("react", full.InputData.GetProperty("template_id").GetString());
        Assert.Single((await kit.ListTasksAsync($"?assigned_agent={agent.AgentId}&type=codegen&status=in_progress")).Tasks);
        Assert.Empty((await kit.ListTasksAsync("?type=other")).Tasks);
    }
}
