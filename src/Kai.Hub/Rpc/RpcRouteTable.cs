using System.Collections.Concurrent;
using Kai.Hub.Auth;
using Kai.Hub.Routing;
using Kai.Protocol.Rpc;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Rpc;

/// <summary>
/// The service routing table (seed 001 §9): method prefixes mapped to agents or capabilities. Entries come from configuration
/// (<c>Kai:Rpc:Routes</c>, for every tenant) and from <c>agent.register</c> (each registered capability becomes a prefix that routes to
/// that capability, for the registering agent's tenant). What an entry resolves to changes as agents come and go: the router picks a
/// reachable, healthy agent of the capability at call time, and <see cref="ViewAsync"/> shows each entry's health now.
/// </summary>
internal sealed class RpcRouteTable(IOptions<RpcOptions> options, AgentDirectory directory, CapabilityResolver resolver, CircuitBreakers breakers)
{
    private readonly IReadOnlyList<(string Prefix, RpcTarget Target)> _configured =
        [.. options.Value.Routes.Select(kv => (kv.Key, RpcTarget.Parse(kv.Value)!)).OrderBy(e => e.Key, StringComparer.Ordinal)];

    // tenant → prefix → registration
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, Registration>> _registered = new(StringComparer.Ordinal);

    /// <summary>The longest prefix (on dot boundaries) that matches <paramref name="method"/> for <paramref name="tenant"/>; registrations win ties.</summary>
    public (string Prefix, RpcTarget Target)? Resolve(string tenant, string method)
    {
        (string Prefix, RpcTarget Target)? best = null;
        if (_registered.TryGetValue(tenant, out var own))
        {
            foreach (var (prefix, reg) in own)
            {
                if (Matches(prefix, method) && (best is null || prefix.Length > best.Value.Prefix.Length) && reg.Agents.Count > 0)
                {
                    best = (prefix, new RpcTarget(true, reg.Capability));
                }
            }
        }
        foreach (var (prefix, target) in _configured)
        {
            if (Matches(prefix, method) && (best is null || prefix.Length > best.Value.Prefix.Length))
            {
                best = (prefix, target);
            }
        }
        return best;
    }

    /// <summary>Whether <paramref name="prefix"/> covers <paramref name="method"/>: equal, or followed by a dot.</summary>
    public static bool Matches(string prefix, string method) =>
        method.StartsWith(prefix, StringComparison.Ordinal) && (method.Length == prefix.Length || method[prefix.Length] == '.');

    /// <summary>Records an agent's registration: its capabilities become prefixes of its tenant (replacing what it registered before).</summary>
    public void Register(string tenant, string agentId, IReadOnlyList<string> capabilities, IReadOnlyList<string> intents)
    {
        var table = _registered.GetOrAdd(tenant, _ => new ConcurrentDictionary<string, Registration>(StringComparer.Ordinal));
        foreach (var reg in table.Values)
        {
            lock (reg)
            {
                reg.Agents.Remove(agentId);
            }
        }
        foreach (var capability in capabilities)
        {
            var reg = table.GetOrAdd(capability, c => new Registration(c));
            lock (reg)
            {
                reg.Agents.Add(agentId);
                foreach (var i in intents)
                {
                    reg.Intents.Add(i);
                }
            }
        }
    }

    /// <summary>The table as <paramref name="viewer"/> may see it: configured entries and its tenant's registrations (admins: every tenant's).</summary>
    public async Task<RpcRoutesResponse> ViewAsync(KaiPrincipal viewer, CancellationToken ct)
    {
        var rows = new List<RpcRouteView>();
        var tenant = viewer.OwnerId;
        foreach (var (prefix, target) in _configured)
        {
            var agents = target.IsCapability
                ? await CapabilityAgentsAsync(tenant, target.Name, null, ct)
                : await AgentAsync(viewer, target.Name, ct);
            rows.Add(new RpcRouteView(prefix, target.ToString(), "config", Health(agents), agents, []));
        }
        foreach (var (owner, table) in _registered)
        {
            if (!Access.MayReach(viewer, owner))
            {
                continue;
            }
            foreach (var (prefix, reg) in table)
            {
                string[] registered;
                string[] intents;
                lock (reg)
                {
                    registered = [.. reg.Agents];
                    intents = [.. reg.Intents.Order(StringComparer.Ordinal)];
                }
                if (registered.Length == 0)
                {
                    continue;
                }
                var agents = await CapabilityAgentsAsync(owner, reg.Capability, registered, ct);
                rows.Add(new RpcRouteView(prefix, "capability:" + reg.Capability, "registration", Health(agents), agents, intents));
            }
        }
        return new RpcRoutesResponse([.. rows.OrderBy(r => r.Prefix, StringComparer.Ordinal).ThenBy(r => r.Source, StringComparer.Ordinal)]);
    }

    private async Task<IReadOnlyList<RpcRouteAgent>> CapabilityAgentsAsync(string tenant, string capability, string[]? registered, CancellationToken ct)
    {
        var reachable = await directory.CandidatesAsync(tenant, capability, ct);
        var ids = reachable.Select(c => c.AgentId).ToHashSet(StringComparer.Ordinal);
        var all = registered is null ? ids : ids.Union(registered).ToHashSet(StringComparer.Ordinal);
        return [.. all.Order(StringComparer.Ordinal).Select(id => Agent(id, ids.Contains(id)))];
    }

    private async Task<IReadOnlyList<RpcRouteAgent>> AgentAsync(KaiPrincipal viewer, string agentId, CancellationToken ct)
    {
        // Someone else's agent is shown as nothing at all (no existence leak through the table).
        if (await directory.TenantOfAsync(agentId, ct) is not { } owner || !Access.MayReach(viewer, owner))
        {
            return [];
        }
        return [Agent(agentId, await directory.CandidateAsync(agentId, ct) is not null)];
    }

    private RpcRouteAgent Agent(string id, bool reachable) => new(id, reachable, resolver.IsHealthy(id), breakers.Status(id) switch
    {
        CircuitStatus.Open => "open",
        CircuitStatus.HalfOpen => "half_open",
        _ => "closed",
    });

    private static string Health(IReadOnlyList<RpcRouteAgent> agents)
    {
        var ok = agents.Count(a => a.Reachable && a.Healthy && a.Circuit != "open");
        return ok == 0 ? "unavailable" : ok == agents.Count ? "healthy" : "degraded";
    }

    private sealed class Registration(string capability)
    {
        public string Capability { get; } = capability;
        public HashSet<string> Agents { get; } = new(StringComparer.Ordinal);
        public HashSet<string> Intents { get; } = new(StringComparer.Ordinal);
    }
}
