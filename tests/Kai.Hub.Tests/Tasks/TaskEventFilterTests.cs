using System.Text.Json;
using Kai.Hub.Tests.Events;
using Kai.Protocol;
using Kai.Protocol.Rest;

namespace Kai.Hub.Tests.Tasks;

/// <summary>Issue 10 item 11: seed 004's own subscription example matches task events, in seed 004's subscription shape.</summary>
public sealed class TaskEventFilterTests
{
    [Fact]
    public async Task Seed_004_subscription_with_topics_and_priority_and_project_filters_matches_only_its_tasks()
    {
        await using var kit = await TaskKit.StartAsync();
        var (agent, worker) = await kit.NewWorkerAsync("code_generation", maxConcurrent: 1);
        await using var _ = worker;
        var (events, _) = await kit.Hub.EventsAsync(kit.User.AccessToken);
        await using var e = events;
        // Seed 004 "Publish-Subscribe Pattern": topics (not events), an agent_id, and payload filters.
        await events.SubscribeAsync(new
        {
            agent_id = "orchestrator-001",
            topics = new[] { "task.*.completed" },
            filters = new { priority = new[] { "high", "critical" }, project_id = "proj-456" },
        });

        // Completed in this order: a low one of the project, a high one of another project, then the one that matches.
        foreach (var (id, priority, project) in new[] { ("low-456", "low", "proj-456"), ("high-999", "high", "proj-999"), ("high-456", "high", "proj-456") })
        {
            await kit.CreateTaskAsync(new CreateTaskRequest(id, "code_generation", priority, agent.AgentId,
                InputData: JsonSerializer.SerializeToElement(new { metadata = new { project_id = project } })));
            var task = await TaskKit.ReceiveTaskAsync(worker);
            Assert.Equal(id, task.TaskId);
            await kit.CompleteAsync(worker, task);
        }

        // Events arrive in order, so the first one delivered proves the two before it were filtered out.
        var seen = await events.NextEventAsync();
        Assert.Equal("high-456", seen.Payload.GetProperty("task_id").GetString());
        Assert.Equal("high", seen.Payload.GetProperty("priority").GetString());
        Assert.Equal("proj-456", seen.Payload.GetProperty("project_id").GetString());
        Assert.Equal("code_generation", seen.Payload.GetProperty("type").GetString());
    }

    [Fact]
    public async Task A_subscribe_without_events_or_topics_is_a_validation_error()
    {
        await using var kit = await TaskKit.StartAsync();
        var (events, _) = await kit.Hub.EventsAsync(kit.User.AccessToken);
        await using var e = events;
        var error = await events.ErrorAsync("subscribe", new { agent_id = "x", filters = new { priority = "high" } }, "bad");
        Assert.Equal(ErrorCodes.ValidationError, error.Code);
    }
}
