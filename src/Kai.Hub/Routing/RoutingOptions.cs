using System.ComponentModel.DataAnnotations;

namespace Kai.Hub.Routing;

/// <summary>Router settings, section <c>Kai:Routing</c> (docs/operations.md).</summary>
internal sealed class RoutingOptions
{
    public const string Section = "Kai:Routing";

    /// <summary>Envelopes one principal may route per second (every edge and frame type together); the hub itself is exempt. 0 turns the limit off.</summary>
    [Range(0, 10_000_000)]
    public int MaxPerSecondPerSender { get; set; } = 50_000;

    /// <summary>The burst above the steady rate a sender may use.</summary>
    [Range(1, 10_000_000)]
    public int Burst { get; set; } = 100_000;

    /// <summary>The <c>max_concurrent_tasks</c> of an agent that does not declare one (tasks and requests alike).</summary>
    [Range(1, 100_000)]
    public int DefaultMaxConcurrentTasks { get; set; } = 5;

    /// <summary>The in-process cluster name (tests start several hubs in one process that share it); empty: a cluster of one.</summary>
    public string? InMemoryCluster { get; set; }
}
