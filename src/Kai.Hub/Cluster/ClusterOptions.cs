using System.ComponentModel.DataAnnotations;

namespace Kai.Hub.Cluster;

/// <summary>This node's identity and how long a silent node keeps its links. Bound from the <c>Kai</c> section (docs/operations.md).</summary>
public sealed class ClusterOptions
{
    public const string Section = "Kai";

    /// <summary>
    /// <c>Kai:NodeId</c>: this node's id, 1 to 64 letters, digits or <c>- _ .</c>. Default: none, meaning an id generated on the first
    /// start and kept in <c>node.id</c> in the data directory, so a restart is the same node.
    /// </summary>
    [RegularExpression(NodeIdentity.Pattern, ErrorMessage = "Kai:NodeId must be 1 to 64 letters, digits or - _ .")]
    public string? NodeId { get; set; }

    /// <summary>
    /// <c>Kai:NodeTimeout</c>: a node whose last heartbeat (one per housekeeping sweep) is older than this is dead, and the agents
    /// linked on it go offline. 10 seconds to 1 day. Default: 1 minute. Keep it well above <c>Kai:Links:SweepInterval</c>.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:10", "1.00:00:00")]
    public TimeSpan NodeTimeout { get; set; } = TimeSpan.FromMinutes(1);
}
