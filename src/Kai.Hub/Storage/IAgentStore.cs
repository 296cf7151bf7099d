namespace Kai.Hub.Storage;

/// <summary>
/// Agents: registrations, credentials, presence and link state. Link state is per node: a linked agent's row records the
/// node (<c>Kai:NodeId</c>) holding its link, so a node resets only its own links at start and the links of a node that
/// stopped heart-beating expire (<see cref="ExpireNodeLinksAsync"/>) without touching the other nodes' agents.
/// </summary>
public interface IAgentStore
{
    /// <summary>Inserts an agent. False if the id exists.</summary>
    Task<bool> TryCreateAgentAsync(AgentRecord agent, CancellationToken ct);

    Task<AgentRecord?> GetAgentAsync(string agentId, CancellationToken ct);

    Task<(IReadOnlyList<AgentRecord> Items, int Total)> ListAgentsAsync(AgentQuery query, CancellationToken ct);

    /// <summary>Stores the registration fields (name, type, version, capabilities, config, health URL, secret hash). False if the agent is unknown.</summary>
    Task<bool> UpdateAgentAsync(AgentRecord agent, CancellationToken ct);

    /// <summary>Replaces the agent's client secret hash; the old secret stops working at once.</summary>
    Task<bool> SetAgentSecretAsync(string agentId, string secretHash, DateTimeOffset now, CancellationToken ct);

    /// <summary>
    /// Stores a liveness change. <see cref="AgentPresenceUpdate.Linked"/> <c>true</c> needs <see cref="AgentPresenceUpdate.LinkNode"/>
    /// (the node holding the link; <see cref="ArgumentException"/> without it). An unlink (<c>false</c>) with a node applies only
    /// while that node holds the link: when another node took the link over meanwhile, nothing changes.
    /// </summary>
    /// <returns>False if the agent is unknown or the unlink did not apply.</returns>
    Task<bool> UpdatePresenceAsync(AgentPresenceUpdate update, CancellationToken ct);

    /// <summary>Agents without a live link, not offline, whose last heartbeat is older than <paramref name="cutoff"/> (or absent).</summary>
    Task<IReadOnlyList<AgentRecord>> ListStaleAgentsAsync(DateTimeOffset cutoff, CancellationToken ct);

    /// <summary>Agents of <paramref name="ownerId"/> with a live link (on any node) whose type or capabilities include <paramref name="taskType"/>.</summary>
    Task<IReadOnlyList<AgentRecord>> ListEligibleAgentsAsync(string ownerId, string taskType, CancellationToken ct);

    /// <summary>
    /// At the start of node <paramref name="nodeId"/>: no link survives a restart, so the agents linked on this node (and links
    /// recorded without a node, from before link state was per node) become offline and unlinked. Links of other nodes stay.
    /// Returns how many agents changed.
    /// </summary>
    Task<int> ResetLinksAsync(string nodeId, DateTimeOffset now, CancellationToken ct);

    /// <summary>Records that node <paramref name="nodeId"/> is alive at <paramref name="now"/> (inserting it the first time).</summary>
    Task HeartbeatNodeAsync(string nodeId, DateTimeOffset now, CancellationToken ct);

    /// <summary>
    /// Nodes whose last heartbeat is before <paramref name="seenBefore"/> are dead: their node rows are removed and the agents
    /// linked on them become offline and unlinked, atomically. Returns those agents as they were before (their previous status),
    /// so the caller can tell observers.
    /// </summary>
    Task<IReadOnlyList<AgentRecord>> ExpireNodeLinksAsync(DateTimeOffset seenBefore, DateTimeOffset now, CancellationToken ct);

    /// <summary>Known nodes and their last heartbeat, oldest node first.</summary>
    Task<IReadOnlyList<NodeRecord>> ListNodesAsync(CancellationToken ct);

    /// <summary>Deletes the agent (and its schema declarations) and fails its open commands.</summary>
    Task<bool> DeleteAgentAsync(string agentId, DateTimeOffset now, CancellationToken ct);

    /// <summary>
    /// Replaces the agent's schema declarations (JSON of <c>AgentSchemaDeclarations</c>, stored as given); null removes them. False when the
    /// agent is unknown (nothing is stored then).
    /// </summary>
    Task<bool> SetAgentSchemasAsync(string agentId, string? schemasJson, DateTimeOffset now, CancellationToken ct);

    /// <summary>The agent's schema declarations, or null when it declared none (or is unknown).</summary>
    Task<AgentSchemasRecord?> GetAgentSchemasAsync(string agentId, CancellationToken ct);

    /// <summary>The schema declarations of every agent of <paramref name="ownerId"/>, the oldest change first (so a later declaration wins when folded in order).</summary>
    Task<IReadOnlyList<AgentSchemasRecord>> ListAgentSchemasAsync(string ownerId, CancellationToken ct);
}

/// <summary>One agent's stored schema declarations (<see cref="IAgentStore.SetAgentSchemasAsync"/>).</summary>
public sealed record AgentSchemasRecord(string AgentId, string OwnerId, string SchemasJson, DateTimeOffset UpdatedAt);

/// <summary>A hub node that has heart-beaten into the store (<see cref="IAgentStore.HeartbeatNodeAsync"/>).</summary>
public sealed record NodeRecord(string NodeId, DateTimeOffset FirstSeen, DateTimeOffset LastSeen);
