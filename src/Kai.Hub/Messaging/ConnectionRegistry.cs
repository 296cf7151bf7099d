using System.Collections.Concurrent;
using Kai.Protocol;

namespace Kai.Hub.Messaging;

/// <summary>
/// The live links of this node: at most one agent link per agent (a newer one replaces the older, which is closed
/// with 4006), and any number of observer links per agent.
/// </summary>
internal sealed class ConnectionRegistry(Observability.HubMetrics metrics)
{
    private readonly ConcurrentDictionary<string, LinkConnection> _agentLinks = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, LinkConnection>> _observers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, LinkConnection> _eventLinks = new(StringComparer.Ordinal);

    public int AgentLinkCount => _agentLinks.Count;

    public LinkConnection? AgentLink(string agentId) => _agentLinks.TryGetValue(agentId, out var link) ? link : null;

    public IEnumerable<LinkConnection> AgentLinks => _agentLinks.Values;

    public IEnumerable<LinkConnection> ObserverLinks => _observers.Values.SelectMany(d => d.Values);

    /// <summary>The general event links (<c>/ws</c>); routed to by topic through the event bus, never by agent address.</summary>
    public IEnumerable<LinkConnection> EventLinks => _eventLinks.Values;

    /// <summary>Every link of this node, of every kind (for expiry, revocation and shutdown).</summary>
    public IEnumerable<LinkConnection> All => AgentLinks.Concat(ObserverLinks).Concat(EventLinks);

    /// <summary>The observer links of an agent. Enumerates the live set without copying it (ConcurrentDictionary.Values would copy on every call).</summary>
    public IEnumerable<LinkConnection> Observers(string agentId)
    {
        if (!_observers.TryGetValue(agentId, out var set))
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
        }
        else
        {
            _observers.GetOrAdd(link.AgentId, _ => new ConcurrentDictionary<string, LinkConnection>(StringComparer.Ordinal))[link.ConnectionId] = link;
        }
    }

    /// <summary>Removes the link; returns true if it was the agent's current link (not already replaced).</summary>
    public bool Remove(LinkConnection link)
    {
        metrics.Connections.Add(-1, KindTag(link));
        if (link.Role == LinkRole.Events)
        {
            _eventLinks.TryRemove(link.ConnectionId, out _);
            return false;
        }
        if (link.Role == LinkRole.Agent)
        {
            return _agentLinks.TryRemove(new KeyValuePair<string, LinkConnection>(link.AgentId, link));
        }
        if (_observers.TryGetValue(link.AgentId, out var set))
        {
            set.TryRemove(link.ConnectionId, out _);
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
