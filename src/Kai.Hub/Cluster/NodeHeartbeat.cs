using Kai.Hub.Housekeeping;
using Kai.Hub.Observability;
using Kai.Hub.Routing;
using Kai.Hub.Storage;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
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
    NodeIdentity node, IAgentStore store, IOptions<ClusterOptions> options, TimeProvider time, IEnumerable<ILinkExpiryListener> listeners,
    IBackplane backplane) : IHousekeeping
{
    /// <summary>
    /// At start, before any link is accepted: connects the backplane (a broker that cannot be reached stops the start), registers
    /// the node and resets only its own links.
    /// </summary>
    /// <exception cref="BackplaneUnavailableException">The RabbitMQ broker cannot be reached.</exception>
    public async Task JoinAsync(CancellationToken ct)
    {
        if (backplane is RabbitMqBackplane rabbit)
        {
            await rabbit.StartAsync(ct);
        }
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
        services.AddOptions<ClusterOptions>().BindConfiguration(ClusterOptions.Section)
            .Configure<IConfiguration>((o, config) => o.RabbitMq = config.GetConnectionString("RabbitMQ"))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<ClusterOptions>, BackplaneSettingsValidation>();
        services.AddSingleton<NodeIdentity>();
        // Kai:Backplane chooses the seam to the other nodes; the router's in-memory default stays when it is memory.
        services.TryAddSingleton<InMemoryCluster>();
        services.TryAddSingleton<IBackplane>(sp =>
        {
            var cluster = sp.GetRequiredService<IOptions<ClusterOptions>>().Value;
            if (cluster.Backplane == "rabbitmq")
            {
                return new RabbitMqBackplane(sp.GetRequiredService<NodeIdentity>().Id, cluster.RabbitMq!, cluster.BackplaneTimeout,
                    sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<RabbitMqBackplane>>());
            }
            var nodeId = sp.GetRequiredService<IConfiguration>()["Kai:NodeId"] is { Length: > 0 } id ? id : "local";
            return new InMemoryBackplane(sp.GetRequiredService<InMemoryCluster>(), nodeId);
        });
        services.AddHealthChecks().AddCheck<BackplaneHealthCheck>("backplane", tags: ["ready"]);
        services.AddSingleton<NodeHeartbeat>();
        services.AddSingleton<IHousekeeping>(sp => sp.GetRequiredService<NodeHeartbeat>());
        // Drain: a stopping cluster node hands its agents' task leases back (a no-op without a backplane to other nodes).
        services.AddHostedService<LeaseHandBack>();
        return services;
    }
}

/// <summary>Says which backplane setting is wrong, in words (the generic <c>Validate</c> message names none).</summary>
internal sealed class BackplaneSettingsValidation : IValidateOptions<ClusterOptions>
{
    public ValidateOptionsResult Validate(string? name, ClusterOptions options) =>
        options.BackplaneProblem() is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
}

/// <summary>Ready while the backplane reaches the other nodes (always, for the in-memory one); otherwise says why not.</summary>
internal sealed class BackplaneHealthCheck(IBackplane backplane) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(backplane.Problem is { } problem
            ? HealthCheckResult.Unhealthy($"backplane: {problem}")
            : HealthCheckResult.Healthy($"backplane {(backplane is RabbitMqBackplane ? "rabbitmq" : "memory")} as node {backplane.NodeId}"));
}
