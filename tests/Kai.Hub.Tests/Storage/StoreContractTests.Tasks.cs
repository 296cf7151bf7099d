using Kai.Hub.Storage;

namespace Kai.Hub.Tests.Storage;

public abstract partial class StoreContractTests
{
    private static readonly string[] Work = ["work"];

    private Task<IReadOnlyList<TaskRecord>> ClaimNextAsync(string agent, int limit, DateTimeOffset? now = null, string owner = "u1", IReadOnlyCollection<string>? types = null, IHubStore? store = null)
    {
        var at = now ?? T0.AddMinutes(1);
        return (store ?? Store).ClaimNextAsync(agent, owner, types ?? Work, limit, at, at.AddSeconds(30), Ct);
    }

    [SkippableFact]
    public async Task Tasks_an_idempotency_key_or_a_repeated_id_returns_the_existing_task_of_the_same_owner()
    {
        var first = await Store.CreateTaskAsync(NewTask("t1", idempotencyKey: "k1"), T0, Ct);
        Assert.True(first.Created);
        var sameKey = await Store.CreateTaskAsync(NewTask("t2", idempotencyKey: "k1"), T0, Ct);
        Assert.Equal((false, "t1"), (sameKey.Created, sameKey.Task!.TaskId));
        Assert.Null(await Store.GetTaskAsync("t2", Ct));
        var sameId = await Store.CreateTaskAsync(NewTask("t1", type: "other"), T0, Ct);
        Assert.Equal((false, "work"), (sameId.Created, sameId.Task!.Type));
        var otherOwnerKey = await Store.CreateTaskAsync(NewTask("t3", owner: "u2", idempotencyKey: "k1"), T0, Ct);
        Assert.True(otherOwnerKey.Created);
        var otherOwnerId = await Store.CreateTaskAsync(NewTask("t1", owner: "u2"), T0, Ct);
        Assert.Equal((false, true, (TaskRecord?)null), (otherOwnerId.Created, otherOwnerId.IdTaken, otherOwnerId.Task));
    }

    [SkippableFact]
    public async Task Tasks_dependencies_must_exist_for_the_owner_and_decide_the_initial_status()
    {
        var missing = await Store.CreateTaskAsync(NewTask("t1", dependencies: ["nope"]), T0, Ct);
        Assert.Equal((false, "nope"), (missing.Created, string.Join(",", missing.MissingDependencies)));
        Assert.Null(await Store.GetTaskAsync("t1", Ct));
        await QueuedAsync(NewTask("other", owner: "u2"));
        Assert.Equal(["other"], (await Store.CreateTaskAsync(NewTask("t1", dependencies: ["other"]), T0, Ct)).MissingDependencies);

        await QueuedAsync(NewTask("dep"));
        var waiting = await Store.CreateTaskAsync(NewTask("waiting", dependencies: ["dep"]), T0, Ct);
        Assert.Equal("pending", waiting.Task!.Status);
        var later = await Store.CreateTaskAsync(NewTask("later", runAt: T0.AddHours(1)), T0, Ct);
        Assert.Equal("pending", later.Task!.Status);

        var claimed = (await ClaimNextAsync("a1", 1)).Single();
        Assert.Equal(0, await Store.PromotePendingAsync(T0.AddMinutes(1), null, Ct));
        Assert.NotNull(await Store.CompleteAttemptAsync("dep", "a1", claimed.FencingToken, "{}", T0.AddMinutes(1), Ct));
        Assert.Equal(["waiting"], await Store.ListDependentsAsync("dep", Ct));
        Assert.Equal(1, await Store.PromotePendingAsync(T0.AddMinutes(1), ["waiting", "later"], Ct));
        Assert.Equal("queued", (await Store.GetTaskAsync("waiting", Ct))!.Status);
        Assert.Equal(1, await Store.PromotePendingAsync(T0.AddHours(1), null, Ct));
        Assert.Equal("queued", (await Store.GetTaskAsync("later", Ct))!.Status);
    }

    [SkippableFact]
    public async Task Tasks_a_failed_dependency_fails_the_task_and_its_pending_dependents()
    {
        await QueuedAsync(NewTask("dep"));
        await Store.CreateTaskAsync(NewTask("waiting", dependencies: ["dep"]), T0, Ct);
        Assert.NotNull(await Store.CancelTaskAsync("dep", "no", T0, Ct));
        var failed = await Store.FailDependentsAsync("dep", "dependency canceled", T0, Ct);
        Assert.Equal([("waiting", "failed", "DEPENDENCY_NOT_MET")], failed.Select(t => (t.TaskId, t.Status, t.ErrorCode)));
        Assert.Empty(await Store.FailDependentsAsync("dep", "again", T0, Ct));
        var late = await Store.CreateTaskAsync(NewTask("late", dependencies: ["dep"]), T0, Ct);
        Assert.Equal((true, "failed", "DEPENDENCY_NOT_MET"), (late.Created, late.Task!.Status, late.Task.ErrorCode));
    }

    [SkippableFact]
    public async Task Tasks_each_attempt_gets_a_higher_fencing_token_and_stale_tokens_change_nothing()
    {
        await QueuedAsync(NewTask("t1", timeoutSeconds: 120));
        var first = await Store.ClaimTaskAsync("t1", "a1", T0.AddMinutes(1), T0.AddMinutes(1).AddSeconds(30), Ct);
        Assert.Equal(("in_progress", "a1", 1, 1L), (first!.Status, first.CurrentAgent, first.Attempts, first.FencingToken));
        Assert.Equal((T0.AddMinutes(1).AddSeconds(30), T0.AddMinutes(3)), (first.LeaseExpiresAt, first.Deadline));
        Assert.Null(await Store.ClaimTaskAsync("t1", "a2", T0.AddMinutes(1), T0.AddMinutes(2), Ct));

        var retried = await Store.FailAttemptAsync("t1", first.FencingToken, "boom", "AGENT_ERROR", T0.AddMinutes(2), T0.AddMinutes(1), Ct);
        Assert.Equal(("queued", T0.AddMinutes(2)), (retried!.Status, retried.RunAt));
        Assert.Null(await Store.FailAttemptAsync("t1", first.FencingToken, "again", null, null, T0.AddMinutes(1), Ct));
        Assert.Empty(await ClaimNextAsync("a2", 5, T0.AddMinutes(1)));
        var second = (await ClaimNextAsync("a2", 5, T0.AddMinutes(2))).Single();
        Assert.True(second.FencingToken > first.FencingToken);
        Assert.Equal(2, second.Attempts);

        Assert.False(await Store.RenewLeaseAsync("t1", "a1", first.FencingToken, 50, null, T0.AddMinutes(5), T0.AddMinutes(2), Ct));
        Assert.Null(await Store.CompleteAttemptAsync("t1", "a1", first.FencingToken, "{}", T0.AddMinutes(2), Ct));
        Assert.Null(await Store.CompleteAttemptAsync("t1", "a1", second.FencingToken, "{}", T0.AddMinutes(2), Ct));
        Assert.True(await Store.RenewLeaseAsync("t1", "a2", second.FencingToken, 50, """{"part":1}""", T0.AddMinutes(5), T0.AddMinutes(2), Ct));
        var renewed = await Store.GetTaskAsync("t1", Ct);
        Assert.Equal((50, """{"part":1}""", T0.AddMinutes(5)), (renewed!.Progress, renewed.OutputJson, renewed.LeaseExpiresAt));
        var done = await Store.CompleteAttemptAsync("t1", "a2", second.FencingToken, """{"r":1}""", T0.AddMinutes(3), Ct);
        Assert.Equal(("completed", 100, """{"r":1}"""), (done!.Status, done.Progress, done.ResultJson));
        Assert.Null(await Store.CompleteAttemptAsync("t1", "a2", second.FencingToken, "{}", T0.AddMinutes(3), Ct));
        Assert.Null(await Store.ClaimTaskAsync("t1", "a1", T0.AddMinutes(4), T0.AddMinutes(5), Ct));
    }

    [SkippableFact]
    public async Task Tasks_a_released_claim_is_queued_again_without_counting_the_attempt()
    {
        await QueuedAsync(NewTask("t1"));
        var claimed = (await ClaimNextAsync("a1", 1)).Single();
        Assert.True(await Store.ReleaseClaimAsync("t1", claimed.FencingToken, T0.AddMinutes(1), Ct));
        Assert.False(await Store.ReleaseClaimAsync("t1", claimed.FencingToken, T0.AddMinutes(1), Ct));
        var released = await Store.GetTaskAsync("t1", Ct);
        Assert.Equal(("queued", 0, (string?)null), (released!.Status, released.Attempts, released.CurrentAgent));
        var again = (await ClaimNextAsync("a1", 1)).Single();
        Assert.True(again.FencingToken > claimed.FencingToken);
    }

    [SkippableFact]
    public async Task Tasks_claim_next_takes_the_highest_priority_first_then_the_oldest_up_to_the_limit()
    {
        await QueuedAsync(NewTask("normal-old", priority: "normal", createdAt: T0));
        await QueuedAsync(NewTask("low", priority: "low", createdAt: T0));
        await QueuedAsync(NewTask("urgent", priority: "urgent", createdAt: T0.AddSeconds(3)));
        await QueuedAsync(NewTask("normal-new", priority: "normal", createdAt: T0.AddSeconds(2)));
        await QueuedAsync(NewTask("high", priority: "high", createdAt: T0.AddSeconds(4)));

        Assert.Equal(["urgent", "high"], (await ClaimNextAsync("a1", 2)).Select(t => t.TaskId));
        Assert.Equal(["normal-old", "normal-new", "low"], (await ClaimNextAsync("a1", 10)).Select(t => t.TaskId));
        Assert.Empty(await ClaimNextAsync("a1", 10));
    }

    [SkippableFact]
    public async Task Tasks_claim_next_takes_only_due_tasks_assigned_to_the_agent_or_unassigned_of_its_owner_and_types()
    {
        await Store.TryCreateAgentAsync(NewAgent("a1", "u1", "work"), Ct);
        await QueuedAsync(NewTask("mine", type: "work"));
        await QueuedAsync(NewTask("capability", type: "summarize"));
        await QueuedAsync(NewTask("pinned-here", type: "anything", assigned: "a1", owner: "u2"));
        await QueuedAsync(NewTask("pinned-elsewhere", type: "work", assigned: "a2"));
        await QueuedAsync(NewTask("other-owner", type: "work", owner: "u2"));
        await QueuedAsync(NewTask("other-type", type: "crawl"));
        await Store.CreateTaskAsync(NewTask("not-yet", type: "work", runAt: T0.AddHours(1)), T0, Ct);
        await QueuedAsync(NewTask("retry-later", type: "work"));
        var retry = await Store.ClaimTaskAsync("retry-later", "a9", T0, T0.AddSeconds(30), Ct);
        await Store.FailAttemptAsync("retry-later", retry!.FencingToken, "x", null, T0.AddHours(1), T0, Ct);

        var claimed = await ClaimNextAsync("a1", 10, types: ["work", "summarize"]);

        Assert.Equal(["capability", "mine", "pinned-here"], claimed.Select(t => t.TaskId).Order());
        Assert.All(claimed, t => Assert.Equal(("in_progress", "a1"), (t.Status, t.CurrentAgent)));
        foreach (var id in new[] { "pinned-elsewhere", "other-owner", "other-type", "retry-later" })
        {
            Assert.Equal("queued", (await Store.GetTaskAsync(id, Ct))!.Status);
        }
        Assert.Equal("pending", (await Store.GetTaskAsync("not-yet", Ct))!.Status);
        var inFlight = await Store.CountInFlightAsync(["a1", "a2"], Ct);
        Assert.Equal((1, 3), (inFlight.Count, inFlight["a1"]));
    }

    [SkippableFact]
    public async Task Tasks_claim_next_with_no_type_takes_only_pinned_tasks_and_with_one_type_keeps_priority_then_fifo_up_to_the_limit()
    {
        // The dispatcher's two shapes (issue 16): a pinned pool (no type) and an owner-and-type pool (one type).
        await QueuedAsync(NewTask("pinned-low", type: "anything", assigned: "a1", priority: "low"));
        await QueuedAsync(NewTask("pinned-urgent", type: "anything", assigned: "a1", priority: "urgent", createdAt: T0.AddSeconds(1)));
        await QueuedAsync(NewTask("free-old", type: "work", createdAt: T0.AddSeconds(2)));
        await QueuedAsync(NewTask("free-new", type: "work", createdAt: T0.AddSeconds(3)));
        await QueuedAsync(NewTask("free-high", type: "work", priority: "high", createdAt: T0.AddSeconds(4)));
        await QueuedAsync(NewTask("free-other-type", type: "crawl"));

        var pinned = await ClaimNextAsync("a1", 10, T0.AddMinutes(1), types: []);
        Assert.Equal(["pinned-urgent", "pinned-low"], pinned.Select(t => t.TaskId));

        var two = await ClaimNextAsync("a1", 2, T0.AddMinutes(1), types: ["work"]);
        Assert.Equal(["free-high", "free-old"], two.Select(t => t.TaskId));
        Assert.All(two, t => Assert.Equal(("in_progress", "a1", 1, 1L), (t.Status, t.CurrentAgent, t.Attempts, t.FencingToken)));
        Assert.Equal(["free-new"], (await ClaimNextAsync("a2", 10, T0.AddMinutes(1), types: ["work"])).Select(t => t.TaskId));
        Assert.Empty(await ClaimNextAsync("a2", 10, T0.AddMinutes(1), types: ["work"]));
        Assert.Equal("queued", (await Store.GetTaskAsync("free-other-type", Ct))!.Status);
    }

    [SkippableFact]
    public async Task Tasks_claim_next_leases_like_claim_task_and_rejects_a_negative_limit()
    {
        await QueuedAsync(NewTask("by-id", timeoutSeconds: 90));
        await QueuedAsync(NewTask("by-next", timeoutSeconds: 90, createdAt: T0.AddSeconds(1)));
        var now = T0.AddMinutes(1);
        var byId = await Store.ClaimTaskAsync("by-id", "a1", now, now.AddSeconds(30), Ct);
        var byNext = (await Store.ClaimNextAsync("a1", "u1", Work, 1, now, now.AddSeconds(30), Ct)).Single();
        Assert.Equal(byId! with { TaskId = "by-next", CreatedAt = byNext.CreatedAt, RunAt = byNext.RunAt }, byNext with { Dependencies = byId.Dependencies });
        Assert.Equal((now.AddSeconds(30), now.AddSeconds(90), 1, 1L), (byNext.LeaseExpiresAt, byNext.Deadline, byNext.Attempts, byNext.FencingToken));
        Assert.Empty(await ClaimNextAsync("a1", 0));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => ClaimNextAsync("a1", -1));
    }

    [SkippableFact]
    public async Task Tasks_concurrent_claimers_on_one_or_two_store_objects_never_get_the_same_task()
    {
        const int count = 60;
        for (var i = 0; i < count; i++)
        {
            await QueuedAsync(NewTask($"t{i:00}", createdAt: T0.AddMilliseconds(i)));
        }
        var second = await OpenSecondAsync();
        var claimers = Enumerable.Range(0, 4).Select(c => Task.Run(async () =>
        {
            var mine = new List<TaskRecord>();
            while (true)
            {
                var batch = await ClaimNextAsync("agent-" + c, 3, store: c % 2 == 0 ? Store : second);
                if (batch.Count == 0)
                {
                    return mine;
                }
                Assert.InRange(batch.Count, 1, 3);
                mine.AddRange(batch);
            }
        })).ToList();
        var all = (await Task.WhenAll(claimers)).SelectMany(x => x).ToList();

        Assert.Equal(count, all.Count);
        Assert.Equal(count, all.Select(t => t.TaskId).Distinct().Count());
        Assert.All(all, t => Assert.Equal(1L, t.FencingToken));
        var stored = await Store.GetTasksAsync(all.Select(t => t.TaskId).ToList(), Ct);
        Assert.All(stored, t => Assert.Equal(all.Single(c => c.TaskId == t.TaskId).CurrentAgent, t.CurrentAgent));
    }

    [SkippableFact]
    public async Task Tasks_expired_attempts_are_those_past_their_lease_or_deadline()
    {
        await QueuedAsync(NewTask("lease", timeoutSeconds: 3600));
        await QueuedAsync(NewTask("deadline", timeoutSeconds: 10, createdAt: T0.AddSeconds(1)));
        await QueuedAsync(NewTask("fine", timeoutSeconds: 3600, createdAt: T0.AddSeconds(2)));
        await Store.ClaimTaskAsync("lease", "a1", T0, T0.AddSeconds(5), Ct);
        await Store.ClaimTaskAsync("deadline", "a1", T0, T0.AddHours(1), Ct);
        await Store.ClaimTaskAsync("fine", "a1", T0, T0.AddHours(1), Ct);
        Assert.Empty(await Store.ListExpiredAttemptsAsync(T0.AddSeconds(4), Ct));
        Assert.Equal(["deadline", "lease"], (await Store.ListExpiredAttemptsAsync(T0.AddSeconds(10), Ct)).Select(t => t.TaskId).Order());
    }

    [SkippableFact]
    public async Task Tasks_cancel_applies_once_and_redrive_only_to_failed_or_canceled_tasks()
    {
        await QueuedAsync(NewTask("t1"));
        Assert.Null(await Store.RedriveTaskAsync("t1", T0, Ct));
        var before = await Store.CancelTaskAsync("t1", "user", T0.AddSeconds(1), Ct);
        Assert.Equal("queued", before!.Status);
        Assert.Equal("canceled", (await Store.GetTaskAsync("t1", Ct))!.Status);
        Assert.Null(await Store.CancelTaskAsync("t1", "again", T0.AddSeconds(2), Ct));
        Assert.Null(await Store.CancelTaskAsync("unknown", "x", T0, Ct));
        var redriven = await Store.RedriveTaskAsync("t1", T0.AddSeconds(3), Ct);
        Assert.Equal(("pending", 0), (redriven!.Status, redriven.Attempts));
        Assert.Null(await Store.RedriveTaskAsync("t1", T0.AddSeconds(4), Ct));
    }

    [SkippableFact]
    public async Task Tasks_listing_filters_and_pages_in_creation_order()
    {
        await QueuedAsync(NewTask("t1", type: "a", createdAt: T0));
        await QueuedAsync(NewTask("t2", type: "b", createdAt: T0.AddSeconds(1)));
        await QueuedAsync(NewTask("t3", type: "a", owner: "u2", createdAt: T0.AddSeconds(2)));
        await QueuedAsync(NewTask("t4", type: "a", assigned: "a7", createdAt: T0.AddSeconds(3)));
        var byOwner = await Store.ListTasksAsync(new TaskQuery("u1", null, null, null, null, 2, 0), Ct);
        Assert.Equal((3, "t1,t2"), (byOwner.Total, string.Join(",", byOwner.Items.Select(t => t.TaskId))));
        Assert.Equal(["t1", "t3", "t4"], (await Store.ListTasksAsync(new TaskQuery(null, "queued", "a", null, null, 10, 0), Ct)).Items.Select(t => t.TaskId));
        Assert.Equal(["t4"], (await Store.ListTasksAsync(new TaskQuery(null, null, null, "a7", null, 10, 0), Ct)).Items.Select(t => t.TaskId));
        Assert.Equal(["t1", "t2", "t3"], (await Store.ListReadyTasksAsync(T0.AddMinutes(1), 3, Ct)).Select(t => t.TaskId).Order());
    }
}
