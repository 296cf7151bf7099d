using Kai.Hub.Housekeeping;
using Kai.Hub.Observability;
using Kai.Hub.Storage;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Cluster;

/// <summary>Told about agents whose link was held by a node that died (their status is already offline in the store).</summary>
internal interface ILinkExpiryListener
{
    /// <param name="agents">The agents as they were before (their previous status).</param>
    /// <param name="ct">Cancellation.</param>
    Task LinksExpiredAsync(IReadOnlyList<AgentRecord> agents, CancellationToken ct);
}

/// <summary>
/// The node's part of link state: at start it joins (heartbeat, and reset of its own links, which no restart keeps); on every
/// housekeeping sweep it heartbeats and expires the links of nodes silent for <see cref="ClusterOptions.NodeTimeout"/>.
/// </summary>
internal sealed class NodeHeartbeat(
    NodeIdentity node, IAgentStore store, IOptions<ClusterOptions> options, TimeProvider time, IEnumerable<ILinkExpiryListener> listeners) : IHousekeeping
{
    /// <summary>At start, before any link is accepted: registers the node and resets only its own links.</summary>
    public async Task JoinAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        await store.HeartbeatNodeAsync(node.Id, now, ct);
        await store.ResetLinksAsync(node.Id, now, ct);
    }

    public async Task SweepAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        await store.HeartbeatNodeAsync(node.Id, now, ct);
        var expired = await store.ExpireNodeLinksAsync(now - options.Value.NodeTimeout, now, ct);
        if (expired.Count == 0)
        {
            return;
        }
        foreach (var listener in listeners)
        {
            await listener.LinksExpiredAsync(expired, ct);
        }
    }
}

/// <summary>Service registration of the node identity and its heartbeat.</summary>
internal static class ClusterServiceCollectionExtensions
{
    public static IServiceCollection AddKaiCluster(this IServiceCollection services)
    {
        services.AddOptions<ClusterOptions>().BindConfiguration(ClusterOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<NodeIdentity>();
        services.AddSingleton<NodeHeartbeat>();
        services.AddSingleton<IHousekeeping>(sp => sp.GetRequiredService<NodeHeartbeat>());
        return services;
    }
}
