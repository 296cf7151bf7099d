using Kai.Hub.Storage;

namespace Kai.Hub.Tests.Storage;

/// <summary>A database the store contract suite runs on: empty when created, deleted when disposed.</summary>
public interface IStoreTestDatabase : IAsyncDisposable
{
    /// <summary>A new store object on this database, as a second node would open it (not migrated; the suite migrates). Disposed with the database.</summary>
    IHubStore Open();

    /// <summary>Runs one SQL statement on the database directly, past the store, to check what the database itself refuses.</summary>
    Task ExecuteAsync(string sql);
}

/// <summary>
/// The contract every <see cref="IHubStore"/> implementation must keep, one partial file per capability interface. It uses only
/// the interfaces (and, for what the database itself must refuse, portable SQL through <see cref="IStoreTestDatabase.ExecuteAsync"/>),
/// so an implementation plugs in with one subclass that says how to create an empty database: <see cref="SqliteStoreContractTests"/>
/// now, PostgreSQL later. Times are fixed instants, not the clock.
/// </summary>
public abstract partial class StoreContractTests : IAsyncLifetime
{
    protected static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);

    private IStoreTestDatabase? _database;
    private IHubStore? _store;

    /// <summary>Creates an empty database for one test.</summary>
    protected abstract Task<IStoreTestDatabase> CreateDatabaseAsync();

    protected IStoreTestDatabase Database => _database ?? throw new InvalidOperationException("not initialized");

    /// <summary>The store under test, migrated.</summary>
    protected IHubStore Store => _store ?? throw new InvalidOperationException("not initialized");

    public async Task InitializeAsync()
    {
        _database = await CreateDatabaseAsync();
        _store = Database.Open();
        await Store.MigrateAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }

    /// <summary>A second store object on the same database (another node), migrated.</summary>
    protected async Task<IHubStore> OpenSecondAsync()
    {
        var second = Database.Open();
        await second.MigrateAsync(CancellationToken.None);
        return second;
    }

    protected static CancellationToken Ct => CancellationToken.None;

    protected static UserRecord NewUser(string id, string? email = null) =>
        new(id, email ?? $"{id}@example.com", "hash-" + id, "User " + id, "user", false, T0);

    protected static AgentRecord NewAgent(string id, string owner = "u1", string type = "worker", params string[] capabilities) =>
        new(id, owner, "Agent " + id, type, "1.0", capabilities, "{}", null, "secret-" + id, "offline", null, 0, null, null, null, T0, T0);

    protected static TaskRecord NewTask(
        string id, string owner = "u1", string type = "work", string priority = "normal", string? assigned = null,
        DateTimeOffset? createdAt = null, DateTimeOffset? runAt = null, IReadOnlyList<string>? dependencies = null, string? idempotencyKey = null,
        int timeoutSeconds = 60, string? workflowId = null, string? stage = null, string status = "pending")
    {
        var created = createdAt ?? T0;
        return new TaskRecord(id, owner, owner, type, priority, status, assigned, null, workflowId, stage, "{}", dependencies ?? [], timeoutSeconds, 3, "none",
            0, 0, 0, null, null, null, null, idempotencyKey, null, runAt ?? created, null, null, created, created);
    }

    protected static CommandRecord NewCommand(string id, string agent, string priority = "normal", DateTimeOffset? createdAt = null, DateTimeOffset? deadline = null, string owner = "u1") =>
        new(id, agent, owner, owner, "do", "{}", priority, "queued", null, null, null, null, 0, deadline ?? T0.AddHours(1), createdAt ?? T0, createdAt ?? T0);

    /// <summary>Creates a task that must come out queued (no dependencies, due).</summary>
    protected async Task<TaskRecord> QueuedAsync(TaskRecord task, IHubStore? store = null)
    {
        var result = await (store ?? Store).CreateTaskAsync(task, task.RunAt, Ct);
        Assert.True(result.Created);
        Assert.Equal("queued", result.Task!.Status);
        return result.Task;
    }

    protected async Task LinkAsync(string agentId, string node, IHubStore? store = null) =>
        Assert.True(await (store ?? Store).UpdatePresenceAsync(new AgentPresenceUpdate(agentId, "active", T0, Linked: true, LinkNode: node), Ct));
}
