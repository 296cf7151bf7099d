using Kai.Hub.Storage;

namespace Kai.Hub.Tests.Storage;

public abstract partial class StoreContractTests
{
    /// <summary>Portable SQL that tries to change the audit log past the store; the database must refuse it.</summary>
    protected virtual IEnumerable<string> AuditTamperingSql =>
        ["UPDATE audit_log SET outcome = 'tampered'", "DELETE FROM audit_log"];

    private static AuditRecord NewAudit(string id, DateTimeOffset at, string action = "user.login", string? actor = "u1") =>
        new(0, id, at, actor, "user", action, null, "success", "127.0.0.1", """{"k":"v"}""");

    [SkippableFact]
    public async Task Lifecycle_migration_is_idempotent_and_ping_answers_the_expected_version()
    {
        await Store.MigrateAsync(Ct);
        Assert.Equal(Store.ExpectedSchemaVersion, await Store.PingAsync(Ct));
        var second = await OpenSecondAsync();
        Assert.Equal(Store.ExpectedSchemaVersion, await second.PingAsync(Ct));
    }

    [SkippableFact]
    public async Task Audit_entries_are_listed_newest_first_and_filtered()
    {
        await Store.AppendAuditAsync(NewAudit("e1", T0), Ct);
        await Store.AppendAuditAsync(NewAudit("e2", T0.AddSeconds(1), "agent.delete"), Ct);
        await Store.AppendAuditAsync(NewAudit("e3", T0.AddSeconds(2), actor: "u2"), Ct);
        var all = await Store.ListAuditAsync(new AuditQuery(null, null, null, null, 10, 0), Ct);
        Assert.Equal((3, "e3,e2,e1"), (all.Total, string.Join(",", all.Items.Select(e => e.AuditId))));
        Assert.Equal(["e3", "e1"], (await Store.ListAuditAsync(new AuditQuery(null, "user.login", null, null, 10, 0), Ct)).Items.Select(e => e.AuditId));
        Assert.Equal(["e2", "e1"], (await Store.ListAuditAsync(new AuditQuery("u1", null, null, null, 10, 0), Ct)).Items.Select(e => e.AuditId));
        Assert.Equal(["e2"], (await Store.ListAuditAsync(new AuditQuery(null, null, T0.AddSeconds(1), T0.AddSeconds(2), 10, 0), Ct)).Items.Select(e => e.AuditId));
        Assert.Equal("""{"k":"v"}""", all.Items[0].DetailsJson);
    }

    [SkippableFact]
    public async Task Audit_rows_refuse_update_and_delete_even_past_the_store()
    {
        await Store.AppendAuditAsync(NewAudit("e1", T0), Ct);
        foreach (var sql in AuditTamperingSql)
        {
            await Assert.ThrowsAnyAsync<Exception>(() => Database.ExecuteAsync(sql));
        }
        var entry = (await Store.ListAuditAsync(new AuditQuery(null, null, null, null, 10, 0), Ct)).Items.Single();
        Assert.Equal(("e1", "success"), (entry.AuditId, entry.Outcome));
    }

    [SkippableFact]
    public async Task Logs_are_paged_newest_first_and_trimmed_by_age_and_count_per_agent()
    {
        for (var i = 0; i < 5; i++)
        {
            await Store.AppendLogAsync(new LogRecord(0, "a1", i % 2 == 0 ? "info" : "error", i % 2 == 0 ? 1 : 3, "m" + i, null, null, T0.AddSeconds(i), T0.AddSeconds(i)), Ct);
        }
        await Store.AppendLogAsync(new LogRecord(0, "a2", "info", 1, "other", null, null, T0, T0), Ct);
        var errors = await Store.ListLogsAsync(new LogQuery("a1", 3, null, null, 10), Ct);
        Assert.Equal((2, "m3,m1"), (errors.Total, string.Join(",", errors.Items.Select(l => l.Message))));
        var page = await Store.ListLogsAsync(new LogQuery("a1", 0, null, null, 2), Ct);
        Assert.Equal(["m4", "m3"], page.Items.Select(l => l.Message));
        Assert.Equal(["m2", "m1"], (await Store.ListLogsAsync(new LogQuery("a1", 0, null, page.Items[^1].LogId, 2), Ct)).Items.Select(l => l.Message));

        // Older than T0+1s goes (m0 and a2's entry); then a1 keeps its newest 2.
        Assert.Equal(4, await Store.TrimLogsAsync(T0.AddSeconds(1), 2, Ct));
        Assert.Equal(["m4", "m3"], (await Store.ListLogsAsync(new LogQuery("a1", 0, null, null, 10), Ct)).Items.Select(l => l.Message));
        Assert.Equal(0, (await Store.ListLogsAsync(new LogQuery("a2", 0, null, null, 10), Ct)).Total);
    }

    [SkippableFact]
    public async Task Metrics_count_agents_open_work_and_tasks_by_status()
    {
        await Store.TryCreateAgentAsync(NewAgent("a1"), Ct);
        await Store.TryCreateAgentAsync(NewAgent("a2", "u2"), Ct);
        await LinkAsync("a1", "n1");
        await Store.CreateCommandAsync(NewCommand("c1", "a1"), Ct);
        await Store.CreateCommandAsync(NewCommand("c2", "a1", createdAt: T0), Ct);
        await Store.TryCompleteCommandAsync("c2", "a1", "completed", null, null, T0.AddSeconds(4), Ct);
        await QueuedAsync(NewTask("t1"));
        await QueuedAsync(NewTask("t2"));
        await Store.CancelTaskAsync("t2", "x", T0, Ct);

        Assert.Equal(1, await Store.CountOpenCommandsAsync(Ct));
        var byStatus = await Store.CountTasksByStatusAsync(Ct);
        Assert.Equal((1, 1, 2), (byStatus["queued"], byStatus["canceled"], byStatus.Count));
        var snapshot = await Store.GetMetricsSnapshotAsync(null, Ct);
        Assert.Equal((1, 2, 0), (snapshot.ActiveAgents, snapshot.PendingTasks, snapshot.CompletedWorkflows));
        Assert.Equal([new AgentWorkStats("a1", 1, 0, 4.0), new AgentWorkStats("a2", 0, 0, 0)], snapshot.Agents);
        Assert.Equal(["a2"], (await Store.GetMetricsSnapshotAsync("u2", Ct)).Agents.Select(a => a.AgentId));
    }
}
