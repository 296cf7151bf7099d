using System.Collections.Concurrent;

namespace Kai.Hub.Routing;

/// <summary>
/// The seam between this node's router and the other nodes of a cluster (centrifuge's <c>Broker</c>, SignalR's
/// <c>HubLifetimeManager</c>). Routing to agents uses broker-side bindings, not a presence lookup: a node binds the key of every
/// group it holds a link for (<c>agent.{id}</c>, <c>observers.{id}</c>, <c>user.{id}</c>, <c>session.{id}</c>, <c>stream.{id}</c>,
/// <c>node.{id}</c>), and a send to a key reaches exactly the nodes bound to it. Topic events go to every other node, each of which
/// matches them against its own subscription index.
/// </summary>
internal interface IBackplane
{
    /// <summary>This node's id.</summary>
    string NodeId { get; }

    /// <summary>Whether any other node is connected (the router skips the backplane otherwise).</summary>
    bool HasPeers { get; }

    /// <summary>Null when healthy; otherwise why cross-node delivery fails now (for <c>/ready</c>).</summary>
    string? Problem { get; }

    /// <summary>Where envelopes from other nodes are handed (set once by the router).</summary>
    Func<Envelope, CancellationToken, ValueTask>? Receive { get; set; }

    /// <summary>This node now holds a link of the group <paramref name="key"/>.</summary>
    void Bind(string key);

    /// <summary>This node holds no more links of the group <paramref name="key"/>.</summary>
    void Unbind(string key);

    /// <summary>Sends to the other nodes bound to <paramref name="key"/>; returns how many nodes took it.</summary>
    ValueTask<int> SendAsync(string key, Envelope envelope, CancellationToken ct);

    /// <summary>Publishes a numbered topic event to every other node.</summary>
    ValueTask PublishAsync(Envelope envelope, CancellationToken ct);

    /// <summary>
    /// Sends the reply to a request that came from another node (commands, RPC, invocations: whoever waits in that node's
    /// <see cref="PendingRequests"/>): to the node named by the request's reply-to when it came through here, else to every other
    /// node. <paramref name="kind"/> names the <see cref="IReplyCodec"/> that turns <paramref name="body"/> back into the reply.
    /// Returns whether a node took it.
    /// </summary>
    ValueTask<bool> ReplyAsync(string correlationId, string kind, byte[] body, CancellationToken ct);

    /// <summary>Where replies from other nodes are handed: correlation id, codec kind, body (set once by the router).</summary>
    Func<string, string, byte[], CancellationToken, ValueTask>? ReceiveReply { get; set; }
}

/// <summary>
/// Nodes in one process that share bindings: the default backplane of a single node (a cluster of one, so
/// <see cref="IBackplane.HasPeers"/> is false and routing never touches it), and a real multi-node seam for tests that start
/// several hubs in one process with the same cluster object.
/// </summary>
internal sealed class InMemoryCluster
{
    private readonly ConcurrentDictionary<string, InMemoryBackplane> _nodes = new(StringComparer.Ordinal);
    // Key -> the nodes bound to it with a count each. An immutable array swapped on change instead of a dictionary per key: a
    // single node binds every agent link it holds, and a dictionary each was about 400 B per idle link.
    private readonly ConcurrentDictionary<string, (string NodeId, int Count)[]> _bindings = new(StringComparer.Ordinal);

    public int NodeCount => _nodes.Count;

    public void Join(InMemoryBackplane node) => _nodes[node.NodeId] = node;

    public void Leave(InMemoryBackplane node)
    {
        _nodes.TryRemove(node.NodeId, out _);
        foreach (var key in _bindings.Keys)
        {
            Update(key, node.NodeId, remove: int.MaxValue);
        }
    }

    public void Bind(string key, string nodeId) => Update(key, nodeId, remove: -1);

    public void Unbind(string key, string nodeId) => Update(key, nodeId, remove: 1);

    // Adds one binding of nodeId to key (remove = -1) or takes up to `remove` away; a key with no bindings left is dropped.
    private void Update(string key, string nodeId, int remove)
    {
        while (true)
        {
            var old = _bindings.GetValueOrDefault(key) ?? [];
            var i = Array.FindIndex(old, b => b.NodeId == nodeId);
            (string, int)[] next;
            if (remove < 0)
            {
                next = i < 0 ? [.. old, (nodeId, 1)] : [.. old];
                if (i >= 0)
                {
                    next[i] = (nodeId, old[i].Count + 1);
                }
            }
            else if (i < 0)
            {
                return;
            }
            else if (old[i].Count > remove)
            {
                next = [.. old];
                next[i] = (nodeId, old[i].Count - remove);
            }
            else
            {
                next = [.. old[..i], .. old[(i + 1)..]];
            }
            var swapped = old.Length == 0
                ? _bindings.TryAdd(key, next)
                : next.Length == 0 ? _bindings.TryRemove(new KeyValuePair<string, (string, int)[]>(key, old)) : _bindings.TryUpdate(key, next, old);
            if (swapped)
            {
                return;
            }
        }
    }

    public IEnumerable<InMemoryBackplane> BoundTo(string key, string except)
    {
        if (!_bindings.TryGetValue(key, out var nodes))
        {
            yield break;
        }
        foreach (var (nodeId, _) in nodes)
        {
            if (nodeId != except && _nodes.TryGetValue(nodeId, out var node))
            {
                yield return node;
            }
        }
    }

    public IEnumerable<InMemoryBackplane> Others(string except) => _nodes.Values.Where(n => n.NodeId != except);
}

/// <summary>The in-process backplane (see <see cref="InMemoryCluster"/>).</summary>
internal sealed class InMemoryBackplane : IBackplane, IDisposable
{
    private readonly InMemoryCluster _cluster;

    public InMemoryBackplane(InMemoryCluster cluster, string nodeId)
    {
        _cluster = cluster;
        NodeId = nodeId;
        cluster.Join(this);
        cluster.Bind("node." + nodeId, nodeId);
    }

    public string NodeId { get; }

    public bool HasPeers => _cluster.NodeCount > 1;

    public string? Problem => null;

    public Func<Envelope, CancellationToken, ValueTask>? Receive { get; set; }

    public void Bind(string key) => _cluster.Bind(key, NodeId);

    public void Unbind(string key) => _cluster.Unbind(key, NodeId);

    public async ValueTask<int> SendAsync(string key, Envelope envelope, CancellationToken ct)
    {
        var n = 0;
        foreach (var node in _cluster.BoundTo(key, NodeId))
        {
            if (node.Receive is { } receive)
            {
                await receive(Copy(envelope), ct);
                n++;
            }
        }
        return n;
    }

    public async ValueTask PublishAsync(Envelope envelope, CancellationToken ct)
    {
        foreach (var node in _cluster.Others(NodeId))
        {
            if (node.Receive is { } receive)
            {
                await receive(Copy(envelope), ct);
            }
        }
    }

    public Func<string, string, byte[], CancellationToken, ValueTask>? ReceiveReply { get; set; }

    public async ValueTask<bool> ReplyAsync(string correlationId, string kind, byte[] body, CancellationToken ct)
    {
        var any = false;
        foreach (var node in _cluster.Others(NodeId))
        {
            if (node.ReceiveReply is { } receive)
            {
                await receive(correlationId, kind, body, ct);
                any = true;
            }
        }
        return any;
    }

    private static Envelope Copy(Envelope e) => new(e.Type, e.Target, e.Frame, e.Sender)
    {
        Delivery = e.Delivery, Deadline = e.Deadline, CorrelationId = e.CorrelationId, TraceParent = e.TraceParent, Event = e.Event, FromBackplane = true,
    };

    public void Dispose() => _cluster.Leave(this);
}
