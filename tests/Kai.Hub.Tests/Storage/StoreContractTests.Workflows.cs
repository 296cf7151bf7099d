using Kai.Hub.Storage;

namespace Kai.Hub.Tests.Storage;

public abstract partial class StoreContractTests
{
    private static ScheduleRecord NewSchedule(string id, DateTimeOffset nextFireAt, string owner = "u1") =>
        new(id, owner, owner, "a1", "work", "{}", "normal", 60, 3, "none", "* * * * *", "0 * * ? * *", nextFireAt, null, null, T0);

    private static WorkflowRecord NewWorkflow(string id, string owner = "u1", DateTimeOffset? createdAt = null) =>
        new(id, owner, owner, null, "flow " + id, "{}", false, "stop", "running", null, createdAt ?? T0, createdAt ?? T0);

    [SkippableFact]
    public async Task Schedules_a_firing_happens_once_and_moves_the_schedule_on()
    {
        await Store.CreateScheduleAsync(NewSchedule("s1", T0), Ct);
        await Store.CreateScheduleAsync(NewSchedule("s2", T0.AddHours(1)), Ct);
        Assert.Equal(["s1"], (await Store.ListDueSchedulesAsync(T0, Ct)).Select(s => s.ScheduleId));

        Assert.True(await Store.FireScheduleAsync("s1", T0, NewTask("s1@0", assigned: "a1"), T0.AddMinutes(1), Ct));
        Assert.False(await Store.FireScheduleAsync("s1", T0, NewTask("s1@0-again", assigned: "a1"), T0.AddMinutes(1), Ct));
        Assert.Null(await Store.GetTaskAsync("s1@0-again", Ct));
        var moved = await Store.GetScheduleAsync("s1", Ct);
        Assert.Equal((T0.AddMinutes(1), T0, "s1@0"), (moved!.NextFireAt, moved.LastFiredAt, moved.LastTaskId));
        Assert.NotNull(await Store.GetTaskAsync("s1@0", Ct));
        Assert.Empty(await Store.ListDueSchedulesAsync(T0.AddSeconds(59), Ct));

        Assert.True(await Store.DeleteScheduleAsync("s1", Ct));
        Assert.False(await Store.DeleteScheduleAsync("s1", Ct));
        Assert.False(await Store.FireScheduleAsync("s1", T0.AddMinutes(1), NewTask("s1@1"), T0.AddMinutes(2), Ct));
        Assert.Equal(["s2"], (await Store.ListSchedulesAsync("u1", Ct)).Select(s => s.ScheduleId));
        Assert.Empty(await Store.ListSchedulesAsync("u2", Ct));
    }

    [SkippableFact]
    public async Task Workflows_a_run_is_created_once_with_its_stages_and_finishes_once()
    {
        var stages = new[]
        {
            NewTask("w1-a", workflowId: "w1", stage: "a", status: "queued"),
            NewTask("w1-b", workflowId: "w1", stage: "b", dependencies: ["w1-a"]),
        };
        Assert.True(await Store.CreateWorkflowAsync(NewWorkflow("w1"), stages, T0, Ct));
        Assert.False(await Store.CreateWorkflowAsync(NewWorkflow("w1"), [NewTask("w1-c", workflowId: "w1", stage: "c")], T0, Ct));
        Assert.Null(await Store.GetTaskAsync("w1-c", Ct));
        Assert.Equal(["w1-a", "w1-b"], (await Store.ListWorkflowTasksAsync("w1", Ct)).Select(t => t.TaskId));
        Assert.Equal(["w1-b"], await Store.ListDependentsAsync("w1-a", Ct));

        Assert.True(await Store.FinishWorkflowAsync("w1", "failed", "stage a failed", T0.AddMinutes(1), Ct));
        Assert.False(await Store.FinishWorkflowAsync("w1", "completed", null, T0.AddMinutes(2), Ct));
        var finished = await Store.GetWorkflowAsync("w1", Ct);
        Assert.Equal(("failed", "stage a failed"), (finished!.Status, finished.Error));
    }

    [SkippableFact]
    public async Task Workflows_listing_filters_by_owner_and_status()
    {
        await Store.CreateWorkflowAsync(NewWorkflow("w1", createdAt: T0), [], T0, Ct);
        await Store.CreateWorkflowAsync(NewWorkflow("w2", createdAt: T0.AddSeconds(1)), [], T0, Ct);
        await Store.CreateWorkflowAsync(NewWorkflow("w3", "u2"), [], T0, Ct);
        await Store.FinishWorkflowAsync("w2", "completed", null, T0, Ct);
        var mine = await Store.ListWorkflowsAsync("u1", null, 10, 0, Ct);
        Assert.Equal((2, "w1,w2"), (mine.Total, string.Join(",", mine.Items.Select(w => w.WorkflowId))));
        Assert.Equal(["w2"], (await Store.ListWorkflowsAsync(null, "completed", 10, 0, Ct)).Items.Select(w => w.WorkflowId));
    }
}
