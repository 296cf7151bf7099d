using System.Collections.Concurrent;
using Kai.Protocol;

namespace Kai.Hub.Routing;

/// <summary>
/// The live links of this node, the router's local delivery target: at most one agent link per agent (a newer one replaces the
/// older, which is closed with 4006), any number of observer links per agent, the <c>/ws</c> event links, every link by its user,
/// the observer links of every agent of a user, and the links that joined a group (a chat session, a prompt stream). Each group this node holds a link of is bound on the
/// <see cref="IBackplane"/>, so other nodes route to it.
/// </summary>
internal sealed class ConnectionRegistry(Observability.HubMetrics metrics, IBackplane backplane) : Security.ILiveSessions
{
    private readonly ConcurrentDictionary<string, LinkConnection> _agentLinks = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, LinkConnection>> _groups = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, LinkConnection> _eventLinks = new(StringComparer.Ordinal);

    public int AgentLinkCount => _agentLinks.Count;

    public LinkConnection? AgentLink(string agentId) => _agentLinks.TryGetValue(agentId, out var link) ? link : null;

    public IEnumerable<LinkConnection> AgentLinks => _agentLinks.Values;

    public IEnumerable<LinkConnection> ObserverLinks =>
        _groups.Where(g => g.Key.StartsWith("observers.", StringComparison.Ordinal)).SelectMany(g => g.Value.Values);

    /// <summary>The general event links (<c>/ws</c>); routed to by topic, never by agent address.</summary>
    public IEnumerable<LinkConnection> EventLinks => _eventLinks.Values;

    /// <summary>Every link of this node, of every kind (for expiry, revocation and shutdown).</summary>
    public IEnumerable<LinkConnection> All => AgentLinks.Concat(ObserverLinks).Concat(EventLinks);

    /// <summary>The observer links of an agent.</summary>
    public IEnumerable<LinkConnection> Observers(string agentId) => Group(Address.ObserversOf(agentId));

    /// <summary>The links of a group address (observers, user, session, stream). Enumerates the live set without copying it.</summary>
    public IEnumerable<LinkConnection> Group(Address group)
    {
        if (!_groups.TryGetValue(group.GroupKey, out var set))
        {
            yield break;
        }
        foreach (var (_, link) in set)
        {
            yield return link;
        }
    }

    /// <summary>Registers a link (and counts it in <c>kai_connections</c>, by kind).</summary>
    public void Add(LinkConnection link)
    {
        metrics.Connections.Add(1, KindTag(link));
        if (link.Role == LinkRole.Events)
        {
            _eventLinks[link.ConnectionId] = link;
        }
        else if (link.Role == LinkRole.Agent)
        {
            LinkConnection? replaced = null;
            _agentLinks.AddOrUpdate(link.AgentId, link, (_, old) => { replaced = old; return link; });
            replaced?.RequestClose(CloseCodes.Replaced, "replaced by a newer link for this agent");
            if (replaced is null)
            {
                backplane.Bind(Address.Agent(link.AgentId).GroupKey);
            }
        }
        else
        {
            Join(Address.ObserversOf(link.AgentId), link);
            Join(Address.User(link.OwnerId), link);
        }
    }

    /// <summary>Adds a link to a group (a session or a stream it follows); it leaves when it closes.</summary>
    public void Join(Address group, LinkConnection link)
    {
        var key = group.GroupKey;
        var set = _groups.GetOrAdd(key, _ => new ConcurrentDictionary<string, LinkConnection>(StringComparer.Ordinal));
        if (set.TryAdd(link.ConnectionId, link))
        {
            link.Joined(key);
            if (set.Count == 1)
            {
                backplane.Bind(key);
            }
        }
    }

    /// <summary>Removes every link from a group.</summary>
    public void Disband(Address group)
    {
        if (_groups.TryGetValue(group.GroupKey, out var set))
        {
            foreach (var (_, link) in set)
            {
                Leave(group.GroupKey, link);
            }
        }
    }

    /// <summary>Removes a link from a group.</summary>
    public void Leave(Address group, LinkConnection link) => Leave(group.GroupKey, link);

    private void Leave(string key, LinkConnection link)
    {
        if (_groups.TryGetValue(key, out var set) && set.TryRemove(link.ConnectionId, out _))
        {
            link.Left(key);
            if (set.IsEmpty && _groups.TryRemove(new KeyValuePair<string, ConcurrentDictionary<string, LinkConnection>>(key, set)))
            {
                backplane.Unbind(key);
            }
        }
    }

    /// <summary>Removes the link from everything; returns true if it was the agent's current link (not already replaced).</summary>
    public bool Remove(LinkConnection link)
    {
        metrics.Connections.Add(-1, KindTag(link));
        foreach (var key in link.Groups)
        {
            Leave(key, link);
        }
        if (link.Role == LinkRole.Events)
        {
            _eventLinks.TryRemove(link.ConnectionId, out _);
            return false;
        }
        if (link.Role == LinkRole.Agent)
        {
            var current = _agentLinks.TryRemove(new KeyValuePair<string, LinkConnection>(link.AgentId, link));
            if (current)
            {
                backplane.Unbind(Address.Agent(link.AgentId).GroupKey);
            }
            return current;
        }
        return false;
    }

    private static KeyValuePair<string, object?> KindTag(LinkConnection link) => new("kind", link.Role switch
    {
        LinkRole.Agent => "agent",
        LinkRole.Observer => "observer",
        _ => "events",
    });

    /// <summary>Closes every link of this node (shutdown: 1001, so clients reconnect elsewhere or later).</summary>
    public void CloseEverything(int code, string reason)
    {
        foreach (var link in All)
        {
            link.RequestClose(code, reason);
        }
    }

    /// <summary>Closes every link whose principal matches (revoked credentials).</summary>
    public void CloseWhere(Func<Auth.KaiPrincipal, bool> match, int code, string reason)
    {
        foreach (var link in All)
        {
            if (match(link.Principal))
            {
                link.RequestClose(code, reason);
            }
        }
    }

    /// <summary>Closes every link about an agent (it was deleted).</summary>
    public void CloseAll(string agentId, int code, string reason)
    {
        AgentLink(agentId)?.RequestClose(code, reason);
        foreach (var o in Observers(agentId))
        {
            o.RequestClose(code, reason);
        }
    }
}
