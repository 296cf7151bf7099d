using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;

namespace Kai.Hub.Tests.Tasks;

/// <summary>Delivery, leases, fencing, retries and dead letters, over real sockets on a fake clock.</summary>
public sealed class TaskQueueTests
{
    [Fact]
    public async Task Failed_attempt_is_retried_after_backoff_then_succeeds()
    {
        await using var kit = await TaskKit.StartAsync();
        var (_, worker) = await kit.NewWorkerAsync("summarize");
        await using var _ = worker;
        var created = await kit.CreateTaskAsync(new CreateTaskRequest(null, "summarize", InputData: JsonSerializer.SerializeToElement(new { text = "hi" }),
            RetryPolicy: new RetryPolicy(3, "exponential")));

        var first = await TaskKit.ReceiveTaskAsync(worker);
        Assert.Equal(created.TaskId, first.TaskId);
        Assert.Equal(1, first.Attempt);
        Assert.Equal("hi", first.InputData.GetProperty("text").GetString());
        Assert.Equal(FrameTypes.Ack, (await kit.ReportAsync(worker, first, TaskStatuses.Failed, error: "model overloaded")).Type);

        var waiting = await kit.GetTaskAsync(created.TaskId);
        Assert.Equal(TaskStatuses.Queued, waiting.Status);
        Assert.Equal("model overloaded", waiting.Error);
        Assert.True(waiting.RunAt > kit.Time.GetUtcNow(), "the retry waits for its backoff");

        await kit.AdvanceAsync(TimeSpan.FromSeconds(2)); // exponential: 1 s × 2^0, ±20 % jitter
        var second = await TaskKit.ReceiveTaskAsync(worker);
        Assert.Equal(2, second.Attempt);
        Assert.True(second.FencingToken > first.FencingToken);
        await kit.CompleteAsync(worker, second, new { summary = "greeting" });

        var done = await kit.GetTaskAsync(created.TaskId);
        Assert.Equal(TaskStatuses.Completed, done.Status);
        Assert.Equal(2, done.Attempts);
        Assert.Equal(100, done.Progress);
        Assert.Equal("greeting", done.Result!.Value.GetProperty("summary").GetString());
    }

    [Fact]
    public async Task Exhausted_task_becomes_a_dead_letter_and_can_be_redriven()
    {
        await using var kit = await TaskKit.StartAsync();
        var (_, worker) = await kit.NewWorkerAsync("flaky");
        await using var _ = worker;
        var created = await kit.CreateTaskAsync(new CreateTaskRequest(null, "flaky", RetryPolicy: new RetryPolicy(2, "none")));

        var first = await TaskKit.ReceiveTaskAsync(worker);
        await kit.ReportAsync(worker, first, TaskStatuses.Failed, error: "boom 1");
        var second = await TaskKit.ReceiveTaskAsync(worker); // backoff none: redelivered at once
        Assert.Equal(2, second.Attempt);
        await kit.ReportAsync(worker, second, TaskStatuses.Failed, error: "boom 2");

        var dead = await kit.GetTaskAsync(created.TaskId);
        Assert.Equal(TaskStatuses.Failed, dead.Status);
        Assert.Equal(2, dead.Attempts);
        Assert.Equal("boom 2", dead.Error);
        var letters = await kit.ListTasksAsync("?status=failed");
        Assert.Equal(created.TaskId, Assert.Single(letters.Tasks).TaskId);

        var redrive = await kit.Api.PostAsync($"api/v1/tasks/{created.TaskId}/retry", null);
        Assert.Equal(HttpStatusCode.OK, redrive.StatusCode);
        var third = await TaskKit.ReceiveTaskAsync(worker);
        Assert.Equal(1, third.Attempt);
        Assert.True(third.FencingToken > second.FencingToken);
        await kit.CompleteAsync(worker, third);
        Assert.Equal(TaskStatuses.Completed, (await kit.GetTaskAsync(created.TaskId)).Status);
        Assert.Empty((await kit.ListTasksAsync("?status=failed")).Tasks);

        // Only a dead letter or a canceled task can be re-driven.
        await TaskKit.AssertErrorAsync(await kit.Api.PostAsync($"api/v1/tasks/{created.TaskId}/retry", null), HttpStatusCode.Conflict, ErrorCodes.Conflict);
    }

    [Fact]
    public async Task Expired_lease_redelivers_to_another_agent_and_the_old_attempt_is_fenced_off()
    {
        await using var kit = await TaskKit.StartAsync();
        var (agentA, workerA) = await kit.NewWorkerAsync("render");
        var created = await kit.CreateTaskAsync(new CreateTaskRequest(null, "render", RetryPolicy: new RetryPolicy(3, "linear")));
        var first = await TaskKit.ReceiveTaskAsync(workerA);
        Assert.Equal(kit.Time.GetUtcNow().AddSeconds(30), first.LeaseExpiresAt);

        // Agent A dies without a word; agent B is available.
        workerA.Socket.Abort();
        await workerA.DisposeAsync();
        var (agentB, workerB) = await kit.NewWorkerAsync("render");
        await using var _ = workerB;

        // The lease ends at 30 s; the retry waits for its backoff (linear: 1 s × 1, ±20 %). The background sweep may already
        // have requeued it during the advance, so only the outcome is asserted.
        await kit.AdvanceAsync(TimeSpan.FromSeconds(31));
        await kit.AdvanceAsync(TimeSpan.FromSeconds(2));
        var second = await TaskKit.ReceiveTaskAsync(workerB);
        Assert.Equal(2, second.Attempt);
        var redelivered = await kit.GetTaskAsync(created.TaskId);
        Assert.Equal(agentB.AgentId, redelivered.AssignedAgent);
        Assert.Equal(ErrorCodes.AgentUnavailable, redelivered.ErrorCode);
        Assert.Contains("lease of attempt 1 expired", redelivered.Error, StringComparison.Ordinal);

        // A comes back with its late answer for attempt 1 (by REST): rejected, nothing changes.
        using var aClient = kit.Hub.Client(await kit.Hub.AgentTokenAsync(agentA));
        var late = await aClient.PatchAsJsonAsync($"api/v1/tasks/{created.TaskId}",
            new UpdateTaskRequest(TaskStatuses.Completed, Result: JsonSerializer.SerializeToElement("stale"), FencingToken: first.FencingToken), KaiJson.Options);
        await TaskKit.AssertErrorAsync(late, HttpStatusCode.Conflict, ErrorCodes.Conflict);
        Assert.Equal(TaskStatuses.InProgress, (await kit.GetTaskAsync(created.TaskId)).Status);

        await kit.CompleteAsync(workerB, second, "fresh");
        var done = await kit.GetTaskAsync(created.TaskId);
        Assert.Equal(TaskStatuses.Completed, done.Status);
        Assert.Equal("fresh", done.Result!.Value.GetString());
    }

    [Fact]
    public async Task Stale_completion_on_the_link_is_rejected_and_progress_renews_the_lease()
    {
        await using var kit = await TaskKit.StartAsync();
        var (_, worker) = await kit.NewWorkerAsync("index");
        await using var _ = worker;
        var created = await kit.CreateTaskAsync(new CreateTaskRequest(null, "index", RetryPolicy: new RetryPolicy(3, "none")));
        var first = await TaskKit.ReceiveTaskAsync(worker);

        // Progress at 20 s renews the lease to 50 s, so at 40 s the attempt is still alive.
        await kit.AdvanceAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(FrameTypes.Ack, (await kit.ReportAsync(worker, first, TaskStatuses.InProgress, progress: 40)).Type);
        await kit.AdvanceAsync(TimeSpan.FromSeconds(20));
        var alive = await kit.GetTaskAsync(created.TaskId);
        Assert.Equal(TaskStatuses.InProgress, alive.Status);
        Assert.Equal(40, alive.Progress);
        Assert.Equal(1, alive.Attempts);

        // Then the worker hangs past its lease: attempt 2 goes out (to the same, only agent).
        await kit.AdvanceAsync(TimeSpan.FromSeconds(11));
        var second = await TaskKit.ReceiveTaskAsync(worker);
        Assert.Equal(2, second.Attempt);

        var stale = await kit.ReportAsync(worker, first, TaskStatuses.Completed, result: "from attempt 1");
        Assert.Equal(FrameTypes.Error, stale.Type);
        Assert.Equal(ErrorCodes.Conflict, stale.PayloadAs<ErrorPayload>()!.Code);
        var still = await kit.GetTaskAsync(created.TaskId);
        Assert.Equal(TaskStatuses.InProgress, still.Status);
        Assert.Null(still.Result);

        await kit.CompleteAsync(worker, second, "from attempt 2");
        // A repeated completion of the same attempt is acknowledged as a duplicate.
        var again = await kit.ReportAsync(worker, second, TaskStatuses.Completed, result: "from attempt 2");
        Assert.True(again.Payload.GetProperty("duplicate").GetBoolean());
        Assert.Equal("from attempt 2", (await kit.GetTaskAsync(created.TaskId)).Result!.Value.GetString());
    }

    [Fact]
    public async Task Attempt_past_its_timeout_fails_with_TASK_TIMEOUT()
    {
        await using var kit = await TaskKit.StartAsync();
        var (_, worker) = await kit.NewWorkerAsync("slow");
        await using var _ = worker;
        var created = await kit.CreateTaskAsync(new CreateTaskRequest(null, "slow", Timeout: 10, RetryPolicy: new RetryPolicy(1)));
        var first = await TaskKit.ReceiveTaskAsync(worker);
        Assert.Equal(kit.Time.GetUtcNow().AddSeconds(10), first.Deadline);

        await kit.AdvanceAsync(TimeSpan.FromSeconds(11));
        var cancel = (await TaskKit.ReceiveAsync(worker, FrameTypes.TaskCancel)).PayloadAs<TaskCancelPayload>()!;
        Assert.Equal(created.TaskId, cancel.TaskId);
        var failed = await kit.GetTaskAsync(created.TaskId);
        Assert.Equal(TaskStatuses.Failed, failed.Status);
        Assert.Equal(ErrorCodes.TaskTimeout, failed.ErrorCode);
    }

    [Fact]
    public async Task Queue_is_ordered_by_priority_then_fifo()
    {
        await using var kit = await TaskKit.StartAsync();
        var agent = await kit.NewAgentAsync("sort", maxConcurrent: 1);
        string[] priorities = ["low", "normal", "urgent", "high", "normal"];
        var ids = new List<string>();
        foreach (var p in priorities)
        {
            ids.Add((await kit.CreateTaskAsync(new CreateTaskRequest(null, "sort", p))).TaskId);
        }
        Assert.All((await kit.ListTasksAsync()).Tasks, t => Assert.Equal(TaskStatuses.Queued, t.Status));

        await using var worker = await kit.Hub.ConnectAgentAsync(agent);
        var order = new List<string>();
        for (var i = 0; i < priorities.Length; i++)
        {
            var task = await TaskKit.ReceiveTaskAsync(worker); // capacity 1: the next comes only after this one completes
            order.Add(task.TaskId);
            await kit.CompleteAsync(worker, task);
        }
        Assert.Equal([ids[2], ids[3], ids[1], ids[4], ids[0]], order);
    }

    [Fact]
    public async Task Tasks_go_to_the_least_loaded_capable_agent()
    {
        await using var kit = await TaskKit.StartAsync();
        var (a, workerA) = await kit.NewWorkerAsync("ocr", 2);
        var (b, workerB) = await kit.NewWorkerAsync("vision", 2, "ocr");
        var (_, other) = await kit.NewWorkerAsync("unrelated", 5);
        await using var _a = workerA;
        await using var _b = workerB;
        await using var _o = other;
        for (var i = 0; i < 5; i++)
        {
            await kit.CreateTaskAsync(new CreateTaskRequest(null, "ocr"));
        }
        // Two each (their limit), the fifth waits; the agent without the capability gets none.
        await TaskKit.ReceiveTaskAsync(workerA);
        var a2 = await TaskKit.ReceiveTaskAsync(workerA);
        await TaskKit.ReceiveTaskAsync(workerB);
        await TaskKit.ReceiveTaskAsync(workerB);
        var tasks = await kit.ListTasksAsync();
        Assert.Equal(2, tasks.Tasks.Count(t => t.AssignedAgent == a.AgentId));
        Assert.Equal(2, tasks.Tasks.Count(t => t.AssignedAgent == b.AgentId));
        Assert.Single(tasks.Tasks, t => t.Status == TaskStatuses.Queued);

        // Capacity freed: the waiting task goes out.
        await kit.CompleteAsync(workerA, a2);
        await TaskKit.ReceiveTaskAsync(workerA);
        Assert.Empty((await kit.ListTasksAsync("?status=queued")).Tasks);
    }

    [Fact]
    public async Task Canceling_an_in_progress_task_tells_the_agent_and_fences_its_answer()
    {
        await using var kit = await TaskKit.StartAsync();
        var (_, worker) = await kit.NewWorkerAsync("long");
        await using var _ = worker;
        var created = await kit.CreateTaskAsync(new CreateTaskRequest(null, "long"));
        var task = await TaskKit.ReceiveTaskAsync(worker);

        var res = await kit.Api.PostAsync($"api/v1/tasks/{created.TaskId}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        Assert.Equal(TaskStatuses.Canceled, (await res.Content.ReadFromJsonAsync<TaskView>(KaiJson.Options))!.Status);
        var cancel = (await TaskKit.ReceiveAsync(worker, FrameTypes.TaskCancel)).PayloadAs<TaskCancelPayload>()!;
        Assert.Equal(task.FencingToken, cancel.FencingToken);

        var late = await kit.ReportAsync(worker, task, TaskStatuses.Completed);
        Assert.Equal(ErrorCodes.Conflict, late.PayloadAs<ErrorPayload>()!.Code);
        Assert.Equal(TaskStatuses.Canceled, (await kit.GetTaskAsync(created.TaskId)).Status);
        await TaskKit.AssertErrorAsync(await kit.Api.PostAsync($"api/v1/tasks/{created.TaskId}/cancel", null), HttpStatusCode.Conflict, ErrorCodes.Conflict);
    }

    [Fact]
    public async Task Observers_receive_task_events_in_the_seed_004_format()
    {
        await using var kit = await TaskKit.StartAsync();
        var (agent, worker) = await kit.NewWorkerAsync("events");
        await using var _ = worker;
        await using var observer = await kit.Hub.ConnectAsync($"ws/agents/{agent.AgentId}", kit.User.AccessToken);
        Assert.Equal(FrameTypes.Welcome, (await observer.ReceiveAsync()).Type);

        var created = await kit.CreateTaskAsync(new CreateTaskRequest(null, "events"));
        var task = await TaskKit.ReceiveTaskAsync(worker);
        await kit.ReportAsync(worker, task, TaskStatuses.InProgress, progress: 50);
        await kit.CompleteAsync(worker, task, 42);

        var seen = new List<EventMessage>();
        while (seen.Count < 3)
        {
            seen.Add((await observer.ReceiveAsync(FrameTypes.Event)).PayloadAs<EventMessage>()!);
        }
        Assert.Equal([TaskEventTypes.TaskCreated, TaskEventTypes.TaskProgress, TaskEventTypes.TaskCompleted], seen.Select(e => e.EventType));
        var completed = seen[2];
        Assert.Matches("^[0-9a-f]+-[0-9]+$", completed.Id); // the bus position {epoch}-{offset}
        Assert.Equal(agent.AgentId, completed.SourceAgent);
        Assert.Equal(created.TaskId, completed.CorrelationId);
        Assert.Equal(created.TaskId, completed.Payload.GetProperty("task_id").GetString());
        Assert.Equal(42, completed.Payload.GetProperty("result").GetInt32());
        Assert.Equal(50, seen[1].Payload.GetProperty("progress").GetInt32());
    }
}
