using Kai.Hub.Auth;
using Kai.Hub.Routing;
using Kai.Hub.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Cluster;

/// <summary>One node of the cluster as <c>GET /api/v1/admin/nodes</c> lists it.</summary>
/// <param name="NodeId">The node's id (<c>Kai:NodeId</c>).</param>
/// <param name="FirstSeen">Its first heartbeat into the store.</param>
/// <param name="LastSeen">Its last heartbeat (one per housekeeping sweep).</param>
/// <param name="Alive">Whether <see cref="LastSeen"/> is within <c>Kai:NodeTimeout</c> (a dead node's links expire).</param>
/// <param name="Self">Whether this is the node that answered.</param>
/// <param name="AgentLinks">The agents whose live link this node holds, by the store's link state.</param>
/// <param name="Load">The node's own counts; only for <see cref="Self"/> (other nodes are asked directly, through the load balancer or their own address).</param>
public sealed record NodeView(
    string NodeId, DateTimeOffset FirstSeen, DateTimeOffset LastSeen, bool Alive, bool Self, IReadOnlyList<string> AgentLinks, NodeLoad? Load);

/// <summary>What a node carries now.</summary>
/// <param name="AgentLinks">Live agent links.</param>
/// <param name="ObserverLinks">Live observer links.</param>
/// <param name="EventLinks">Live <c>/ws</c> event links.</param>
/// <param name="TopicSubscribers">Event subscribers in its subscription index.</param>
/// <param name="PendingRequests">Requests waiting for a reply on it (commands, RPC, invocations).</param>
/// <param name="Backplane"><c>memory</c> or <c>rabbitmq</c>.</param>
/// <param name="BackplaneProblem">Null when the backplane is healthy; otherwise why cross-node delivery fails (as <c>/ready</c> says).</param>
public sealed record NodeLoad(int AgentLinks, int ObserverLinks, int EventLinks, int TopicSubscribers, int PendingRequests, string Backplane, string? BackplaneProblem);

/// <summary>The answer of <c>GET /api/v1/admin/nodes</c>.</summary>
/// <param name="Nodes">Every node that heart-beat into the store and has not expired, oldest first.</param>
public sealed record NodeListResponse(IReadOnlyList<NodeView> Nodes);

/// <summary>The cluster's admin routes.</summary>
internal static class NodesApi
{
    public static IEndpointRouteBuilder MapNodesApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/admin/nodes", ListNodesAsync).WithTags("Admin").WithName("listNodes")
            .WithSummary("List the hub nodes of the cluster with their links and this node's load").RequirePermission(Permissions.SystemAdmin);
        return app;
    }

    private static async Task<Ok<NodeListResponse>> ListNodesAsync(
        IAgentStore store, IBackplane backplane, ConnectionRegistry links, Router router, NodeIdentity node, IOptions<ClusterOptions> options,
        TimeProvider time, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var linked = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        for (var offset = 0; ; offset += 100)
        {
            var (items, total) = await store.ListAgentsAsync(new AgentQuery(null, null, null, null, 100, offset), ct);
            foreach (var a in items.Where(a => a.Linked && a.LinkNode is not null))
            {
                (linked.TryGetValue(a.LinkNode!, out var list) ? list : linked[a.LinkNode!] = []).Add(a.AgentId);
            }
            if (items.Count == 0 || offset + items.Count >= total)
            {
                break;
            }
        }
        var load = new NodeLoad(links.AgentLinkCount, links.ObserverLinks.Count(), links.EventLinks.Count(), router.TopicSubscriberCount,
            router.Pending.Count, backplane is RabbitMqBackplane ? "rabbitmq" : "memory", backplane.Problem);
        var nodes = (await store.ListNodesAsync(ct)).Select(n => new NodeView(
            n.NodeId, n.FirstSeen, n.LastSeen, now - n.LastSeen <= options.Value.NodeTimeout, n.NodeId == node.Id,
            linked.GetValueOrDefault(n.NodeId) ?? [], n.NodeId == node.Id ? load : null)).ToList();
        return TypedResults.Ok(new NodeListResponse(nodes));
    }
}
