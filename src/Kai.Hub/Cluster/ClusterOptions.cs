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

    /// <summary>
    /// <c>Kai:Backplane</c>: how this node reaches the other nodes. <c>memory</c> (the default): none, a single node.
    /// <c>rabbitmq</c>: through the RabbitMQ broker at <c>ConnectionStrings:RabbitMQ</c> (docs/operations.md, "Cluster").
    /// </summary>
    [RegularExpression("^(memory|rabbitmq)$", ErrorMessage = "Kai:Backplane must be memory or rabbitmq")]
    public string Backplane { get; set; } = "memory";

    /// <summary>
    /// <c>Kai:BackplaneTimeout</c>: how long a cross-node send waits for the broker's confirm before it counts as not delivered
    /// (Unavailable). 100 ms to 1 minute. Default: 5 seconds.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.1", "00:01:00")]
    public TimeSpan BackplaneTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// <c>ConnectionStrings:RabbitMQ</c> (bound here, not under <c>Kai</c>): the AMQP URI of the broker, for example
    /// <c>amqp://kai:secret@rabbit.internal:5672/kai</c> (<c>amqps://</c> for TLS). Needed when <see cref="Backplane"/> is <c>rabbitmq</c>.
    /// </summary>
    public string? RabbitMq { get; set; }

    /// <summary>Why the backplane settings cannot work, or null.</summary>
    internal string? BackplaneProblem()
    {
        if (Backplane != "rabbitmq")
        {
            return null;
        }
        if (string.IsNullOrWhiteSpace(RabbitMq))
        {
            return "Kai:Backplane is rabbitmq but ConnectionStrings:RabbitMQ is not set (an AMQP URI such as amqp://user:password@host:5672/vhost)";
        }
        if (!Uri.TryCreate(RabbitMq, UriKind.Absolute, out var uri) || uri.Scheme is not ("amqp" or "amqps") || uri.Host.Length == 0)
        {
            return $"ConnectionStrings:RabbitMQ must be an AMQP URI such as amqp://user:password@host:5672/vhost (got '{RabbitMqForDisplay(RabbitMq)}')";
        }
        return null;
    }

    /// <summary>The URI without its password, for messages and logs.</summary>
    internal static string RabbitMqForDisplay(string? uri)
    {
        if (uri is null || !Uri.TryCreate(uri, UriKind.Absolute, out var u))
        {
            return "(not a URI)";
        }
        var user = u.UserInfo.Split(':')[0];
        return $"{u.Scheme}://{(user.Length > 0 ? user + "@" : "")}{u.Host}{(u.IsDefaultPort ? "" : ":" + u.Port)}{u.AbsolutePath}";
    }
}
