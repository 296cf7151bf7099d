using System.Collections.Concurrent;
using Kai.Hub.Storage;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Routing;

/// <summary>
/// What the router needs to know about agents to resolve addresses: whose they are (for the authorize filter), whether they
/// exist (NotFound against Unavailable), which Kind Agent Handle names which agent, and which agents of a tenant have a
/// capability and can be reached now (the <see cref="CapabilityResolver"/>'s candidates).
/// </summary>
internal sealed class AgentDirectory(
    ConnectionRegistry links, IAgentStore store, IEnumerable<IDeliveryTarget> targets, IBackplane backplane, IOptionsMonitor<RoutingOptions> options,
    TimeProvider time)
{
    /// <summary>
    /// How long a node trusts the tenant it read from the store for an agent it holds no link of (cluster only). Without it, every
    /// message to an agent connected to another node read the agents table on the sender's link loop, which capped cross-node
    /// traffic at a few hundred messages per second per link. An agent's owner changes only when the agent is deleted and its id
    /// created again by another tenant; for that window the receiving node checks the sender against its link's owner again
    /// (<see cref="Router"/>), so a stale entry can at most acknowledge a message that is then dropped.
    /// </summary>
    public static readonly TimeSpan RemoteTenantTtl = TimeSpan.FromSeconds(2);

    private const int MaxRemoteTenants = 100_000;
    private readonly ConcurrentDictionary<string, (string Owner, DateTimeOffset Until)> _remoteTenants = new(StringComparer.Ordinal);

    /// <summary>The prefix of a Kind Agent Handle (seed 002).</summary>
    public const string HandlePrefix = "kah:";

    private readonly IReadOnlyList<IDeliveryTarget> _targets = [.. targets];
    private readonly ConcurrentDictionary<string, int> _inFlight = new(StringComparer.Ordinal);
    // Read on each use: these settings may change at run time (/api/v1/config).
    private RoutingOptions _options => options.CurrentValue;

    /// <summary>The tenant (owner) of an agent, or null when there is no such agent.</summary>
    /// <param name="agentId">The agent.</param>
    /// <param name="ct">Cancels the store read.</param>
    /// <param name="cached">
    /// Whether a tenant read up to <see cref="RemoteTenantTtl"/> ago will do (in a cluster, for an agent this node holds no link of).
    /// Only for checks the receiving node makes again: the reach check of a frame to one agent (the router re-checks against the
    /// link's owner on the node that holds it).
    /// </param>
    public async ValueTask<string?> TenantOfAsync(string agentId, CancellationToken ct, bool cached = false)
    {
        if (links.AgentLink(agentId) is { } link)
        {
            return link.OwnerId;
        }
        var cluster = backplane.HasPeers;
        if (cached && cluster && _remoteTenants.TryGetValue(agentId, out var known) && known.Until > time.GetUtcNow())
        {
            return known.Owner;
        }
        if (agentId.Length <= 64 && (await store.GetAgentAsync(agentId, ct))?.OwnerId is { } owner)
        {
            if (cluster)
            {
                if (_remoteTenants.Count >= MaxRemoteTenants)
                {
                    _remoteTenants.Clear(); // bounded; entries are cheap to read again
                }
                _remoteTenants[agentId] = (owner, time.GetUtcNow() + RemoteTenantTtl);
            }
            return owner;
        }
        // Agents that live only in a delivery target (chat session participants) name their tenant there.
        foreach (var target in _targets)
        {
            if (await target.TenantOfAsync(agentId, ct) is { } tenant)
            {
                return tenant;
            }
        }
        return null;
    }

    public async ValueTask<bool> ExistsAsync(string agentId, CancellationToken ct) => await TenantOfAsync(agentId, ct) is not null;

    /// <summary>
    /// Resolves <c>kah:agent.local.&lt;name&gt;</c> (an agent of this hub) and <c>kah:agent.&lt;node&gt;.&lt;name&gt;</c> (an agent on that
    /// node, reached through the backplane) to an agent id; null for a malformed or unknown handle.
    /// </summary>
    public async ValueTask<string?> ResolveHandleAsync(string handle, CancellationToken ct)
    {
        if (!TryParseHandle(handle, out var node, out var name))
        {
            return null;
        }
        if (node != "local" && node != backplane.NodeId && !backplane.HasPeers)
        {
            return null;
        }
        return await ExistsAsync(name, ct) ? name : null;
    }

    /// <summary>
    /// Splits <c>kah:agent.{node}.{name}</c> (the name may contain dots); the short form <c>kah:{agent id}</c> (an id that does not
    /// start with <c>agent.</c>) is an agent of this hub.
    /// </summary>
    public static bool TryParseHandle(string handle, out string node, out string name)
    {
        node = name = "";
        if (!handle.StartsWith(HandlePrefix, StringComparison.Ordinal))
        {
            return false;
        }
        if (!handle.StartsWith(HandlePrefix + "agent.", StringComparison.Ordinal))
        {
            node = "local";
            name = handle[HandlePrefix.Length..];
            return name.Length is > 0 and <= 64 && !name.Contains(':', StringComparison.Ordinal);
        }
        var rest = handle[(HandlePrefix.Length + "agent.".Length)..];
        var dot = rest.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0 || dot == rest.Length - 1)
        {
            return false;
        }
        node = rest[..dot];
        name = rest[(dot + 1)..];
        return name.Length <= 64;
    }

    /// <summary>Agents of <paramref name="tenant"/> with <paramref name="capability"/> that can be reached now, with their load.</summary>
    public async ValueTask<IReadOnlyList<Candidate>> CandidatesAsync(string tenant, string capability, CancellationToken ct)
    {
        var agents = await store.ListEligibleAgentsAsync(tenant, capability, ct);
        var result = new List<Candidate>(agents.Count);
        foreach (var a in agents)
        {
            if (AsCandidate(a) is { } c)
            {
                result.Add(c);
            }
        }
        return result;
    }

    /// <summary>One agent as a candidate (a task pinned to it), or null when it is unknown or cannot be reached now.</summary>
    public async ValueTask<Candidate?> CandidateAsync(string agentId, CancellationToken ct) =>
        await store.GetAgentAsync(agentId, ct) is { } agent ? AsCandidate(agent) : null;

    private Candidate? AsCandidate(AgentRecord a)
    {
        var link = links.AgentLink(a.AgentId);
        var reachable = link is { IsClosing: false } || _targets.Any(t => t.Serves(a.AgentId))
            || (backplane.HasPeers && a.Status != Kai.Protocol.Frames.AgentStatuses.Offline);
        return reachable
            ? new Candidate(a.AgentId, CapabilityResolver.MaxConcurrent(a.ConfigJson, _options.DefaultMaxConcurrentTasks), InFlight(a.AgentId), a.Status, link is null ? 0 : 1)
            : null;
    }

    /// <summary>Open requests the router holds for an agent on this node.</summary>
    public int InFlight(string agentId) => _inFlight.GetValueOrDefault(agentId);

    public void BeginWork(string agentId) => _inFlight.AddOrUpdate(agentId, 1, (_, n) => n + 1);

    public void EndWork(string agentId) => _inFlight.AddOrUpdate(agentId, 0, (_, n) => Math.Max(0, n - 1));
}
