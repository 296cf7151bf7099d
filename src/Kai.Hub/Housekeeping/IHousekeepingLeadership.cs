namespace Kai.Hub.Housekeeping;

/// <summary>
/// A store-wide chore (command deadlines, log retention, …): with several nodes on one store it runs on one node at a time, the
/// one holding the housekeeping leadership (<see cref="IHousekeepingLeadership"/>). Chores about this node's own links, memory
/// or heartbeat stay plain <see cref="IHousekeeping"/> and run on every node.
/// </summary>
internal interface IClusterHousekeeping : IHousekeeping;

/// <summary>
/// Which node runs the store-wide housekeeping. <see cref="HubSweeper"/> asks at the start of every sweep
/// (<see cref="TryLeadAsync"/>); steps then read <see cref="IsLeader"/>. On the embedded store the one node always leads; on
/// PostgreSQL the leader holds a session advisory lock, so when its process or connection dies the lock is released and the next
/// node to sweep takes over.
/// </summary>
internal interface IHousekeepingLeadership
{
    /// <summary>Whether this node held the leadership at its last <see cref="TryLeadAsync"/>.</summary>
    bool IsLeader { get; }

    /// <summary>Keeps the leadership if this node holds it (and its hold is still alive), or tries to take it. Never throws for a lost store: false then.</summary>
    Task<bool> TryLeadAsync(CancellationToken ct);
}

/// <summary>A single node (the embedded store): always the leader.</summary>
internal sealed class SingleNodeLeadership : IHousekeepingLeadership
{
    public bool IsLeader => true;

    public Task<bool> TryLeadAsync(CancellationToken ct) => Task.FromResult(true);
}
