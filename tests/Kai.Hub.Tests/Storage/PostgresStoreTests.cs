using System.Net.Http.Json;
using Dapper;
using Kai.Hub.Housekeeping;
using Kai.Hub.Storage;
using Kai.Hub.Storage.Postgres;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Kai.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Kai.Hub.Tests.Storage;

/// <summary>
/// What only the PostgreSQL store has to show, beyond the shared contract (<see cref="PostgresStoreContractTests"/>): nodes starting
/// together migrate once, a claim skips rows another claimer holds instead of waiting, the housekeeping leadership is one node's and
/// moves when that node's session dies, and two hub processes' worth of nodes share one system of record.
/// </summary>
public sealed class PostgresStoreTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly string _schema = "kai_p_" + Guid.NewGuid().ToString("N")[..20];
    private readonly List<IAsyncDisposable> _owned = [];
    private string _cs = "";

    public async Task InitializeAsync()
    {
        if (TestPostgres.Available)
        {
            _cs = await TestPostgres.CreateSchemaAsync(_schema);
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var d in Enumerable.Reverse(_owned))
        {
            await d.DisposeAsync();
        }
        if (TestPostgres.Available)
        {
            await TestPostgres.DropSchemaAsync(_schema);
        }
    }

    private PostgresHubStore Store()
    {
        var store = new PostgresHubStore(_cs);
        _owned.Add(new DisposeAction(store.Dispose));
        return store;
    }

    [SkippableFact]
    public async Task Nodes_starting_together_apply_each_migration_once()
    {
        TestPostgres.Require();
        var stores = Enumerable.Range(0, 4).Select(_ => Store()).ToList();
        await Task.WhenAll(stores.Select(s => Task.Run(() => s.MigrateAsync(CancellationToken.None))));
        await using var c = new NpgsqlConnection(_cs);
        var versions = (await c.QueryAsync<int>("SELECT version FROM schema_migrations ORDER BY version")).ToList();
        Assert.Equal(PostgresMigrations.Steps.Select(s => s.Version), versions);
        foreach (var s in stores)
        {
            Assert.Equal(s.ExpectedSchemaVersion, await s.PingAsync(CancellationToken.None));
        }
    }

    [SkippableFact]
    public async Task Claim_next_skips_a_task_another_transaction_holds_instead_of_waiting_for_it()
    {
        TestPostgres.Require();
        var store = Store();
        await store.MigrateAsync(CancellationToken.None);
        foreach (var (id, priority) in new[] { ("held", "urgent"), ("t2", "normal"), ("t3", "low") })
        {
            var task = new TaskRecord(id, "u1", "u1", "work", priority, "pending", null, null, null, null, "{}", [], 60, 3, "none",
                0, 0, 0, null, null, null, null, null, null, T0, null, null, T0, T0);
            Assert.Equal("queued", (await store.CreateTaskAsync(task, T0, CancellationToken.None)).Task!.Status);
        }
        // Another node is in the middle of claiming the most urgent task: its row is locked until that transaction ends.
        await using var other = new NpgsqlConnection(_cs);
        await other.OpenAsync();
        await using var tx = await other.BeginTransactionAsync();
        Assert.Equal("held", await other.ExecuteScalarAsync<string>("SELECT task_id FROM tasks WHERE task_id = 'held' FOR UPDATE", transaction: tx));

        var claimed = await store.ClaimNextAsync("a1", "u1", ["work"], 10, T0, T0.AddSeconds(30), CancellationToken.None)
            .WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(["t2", "t3"], claimed.Select(t => t.TaskId));
        await tx.RollbackAsync();
        Assert.Equal(["held"], (await store.ClaimNextAsync("a2", "u1", ["work"], 10, T0, T0.AddSeconds(30), CancellationToken.None)).Select(t => t.TaskId));
    }

    [SkippableFact]
    public async Task Housekeeping_leadership_is_one_nodes_and_moves_when_its_session_dies()
    {
        TestPostgres.Require();
        var store = Store();
        await store.MigrateAsync(CancellationToken.None);
        var n1 = Leadership(store);
        var n2 = Leadership(Store());
        Assert.True(await n1.TryLeadAsync(CancellationToken.None));
        Assert.False(await n2.TryLeadAsync(CancellationToken.None));
        Assert.True(await n1.TryLeadAsync(CancellationToken.None));
        Assert.Equal((true, false), (n1.IsLeader, n2.IsLeader));

        // Node 1 dies (kill -9 closes its socket; here the server ends its session): the lock goes with the session.
        await using (var admin = new NpgsqlConnection(_cs))
        {
            Assert.Equal(1, await admin.ExecuteScalarAsync<int>($"""
                SELECT COUNT(pg_terminate_backend(pid))::int FROM pg_locks
                WHERE locktype = 'advisory' AND classid = {PostgresHubStore.HousekeepingLockClass} AND objid = hashtext('{_schema}')::oid AND granted
                """));
        }
        Assert.True(await WaitForAsync(() => n2.TryLeadAsync(CancellationToken.None)));
        Assert.False(await n1.TryLeadAsync(CancellationToken.None));
        Assert.Equal((false, true), (n1.IsLeader, n2.IsLeader));

        // Another schema (another cluster sharing the server) has its own leader.
        var otherSchema = "kai_p_" + Guid.NewGuid().ToString("N")[..20];
        var otherStore = new PostgresHubStore(await TestPostgres.CreateSchemaAsync(otherSchema));
        try
        {
            await using var n3 = new PostgresHousekeepingLeadership(otherStore, NullLogger<PostgresHousekeepingLeadership>.Instance);
            Assert.True(await n3.TryLeadAsync(CancellationToken.None));
        }
        finally
        {
            otherStore.Dispose();
            await TestPostgres.DropSchemaAsync(otherSchema);
        }
    }

    [SkippableFact]
    public async Task Two_hub_nodes_on_one_database_share_users_and_nodes_and_one_of_them_leads_the_housekeeping()
    {
        TestPostgres.Require();
        var hubs = new List<TestHub>();
        foreach (var node in new[] { "n1", "n2" })
        {
            hubs.Add(await TestHub.StartAsync(settings: new Dictionary<string, string>
            {
                ["Kai:Store"] = "postgres", ["ConnectionStrings:Postgres"] = _cs, ["Kai:NodeId"] = node,
            }));
        }
        try
        {
            Assert.IsType<PostgresHubStore>(hubs[0].Service<IHubStore>());
            var email = $"u{Guid.NewGuid():N}@example.com";
            await hubs[0].NewUserAsync(email);
            var login = await hubs[1].Http.PostAsJsonAsync("api/v1/auth/login", new LoginRequest(email, "correct-horse-battery"), KaiJson.Options);
            Assert.Equal(System.Net.HttpStatusCode.OK, login.StatusCode);
            Assert.Equal(["n1", "n2"], (await hubs[1].Service<IAgentStore>().ListNodesAsync(CancellationToken.None)).Select(n => n.NodeId).Order());

            foreach (var hub in hubs)
            {
                await hub.Service<HubSweeper>().SweepOnceAsync(CancellationToken.None);
            }
            var leaders = hubs.Where(h => h.Service<IHousekeepingLeadership>().IsLeader).ToList();
            var leader = Assert.Single(leaders);
            var follower = hubs.Single(h => h != leader);
            await leader.DisposeAsync();
            hubs.Remove(leader);
            await follower.Service<HubSweeper>().SweepOnceAsync(CancellationToken.None);
            Assert.True(follower.Service<IHousekeepingLeadership>().IsLeader);
        }
        finally
        {
            foreach (var hub in hubs)
            {
                await hub.DisposeAsync();
            }
        }
    }

    private PostgresHousekeepingLeadership Leadership(PostgresHubStore store)
    {
        var leadership = new PostgresHousekeepingLeadership(store, NullLogger<PostgresHousekeepingLeadership>.Instance);
        _owned.Add(leadership);
        return leadership;
    }

    // The server ends a terminated session asynchronously; the next node's try succeeds within a few attempts.
    private static async Task<bool> WaitForAsync(Func<Task<bool>> attempt)
    {
        for (var i = 0; i < 100; i++)
        {
            if (await attempt())
            {
                return true;
            }
            await Task.Delay(50);
        }
        return false;
    }

    private sealed class DisposeAction(Action action) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            action();
            return ValueTask.CompletedTask;
        }
    }
}
