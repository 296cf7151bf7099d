namespace Kai.Hub.Routing;

/// <summary>The kinds of address an envelope can carry (docs/architecture.md, "Addresses").</summary>
internal enum AddressKind
{
    /// <summary>An agent's own live link (or the target that hosts it: hosted agent, webhook, another node).</summary>
    Agent,
    /// <summary>Every observer link of an agent (its owner's and admins' links).</summary>
    Observers,
    /// <summary>
    /// Every observer and controller link about a user's agents (the user's own, and admins watching them). <c>/ws</c> event links
    /// are not in it: they get what they subscribe to, by topic.
    /// </summary>
    User,
    /// <summary>One agent of a tenant that has the capability, chosen by the <see cref="CapabilityResolver"/> (load-balanced, health-scored).</summary>
    Capability,
    /// <summary>A Kind Agent Handle (seed 002), <c>kah:agent.local.&lt;name&gt;</c> or <c>kah:agent.&lt;node&gt;.&lt;name&gt;</c>.</summary>
    Kah,
    /// <summary>The links that joined a chat session (seed 003).</summary>
    Session,
    /// <summary>The links that follow a prompt stream (seed 000 stream-prompt).</summary>
    Stream,
    /// <summary>Every event subscriber whose patterns match the topic and who may see the event.</summary>
    Topic,
    /// <summary>Another hub node, through the backplane.</summary>
    Node,
}

/// <summary>Where an envelope goes.</summary>
/// <param name="Kind">The kind of address.</param>
/// <param name="Id">The agent id, user id, capability name, handle, session id, stream id, topic or node id.</param>
/// <param name="Tenant">For <see cref="AddressKind.Capability"/>: the tenant whose agents are candidates. For groups (session, stream): their tenant when known.</param>
internal readonly record struct Address(AddressKind Kind, string Id, string? Tenant = null)
{
    public static Address Agent(string agentId) => new(AddressKind.Agent, agentId);

    public static Address ObserversOf(string agentId) => new(AddressKind.Observers, agentId);

    public static Address User(string userId) => new(AddressKind.User, userId, userId);

    public static Address Capability(string capability, string tenant) => new(AddressKind.Capability, capability, tenant);

    public static Address Kah(string handle) => new(AddressKind.Kah, handle);

    public static Address Session(string sessionId, string? tenant = null) => new(AddressKind.Session, sessionId, tenant);

    public static Address Stream(string streamId, string? tenant = null) => new(AddressKind.Stream, streamId, tenant);

    public static Address Topic(string topic) => new(AddressKind.Topic, topic);

    public static Address Node(string nodeId) => new(AddressKind.Node, nodeId);

    /// <summary>The key under which links of this group are registered locally and bound on the backplane.</summary>
    public string GroupKey => Kind switch
    {
        AddressKind.Agent => "agent." + Id,
        AddressKind.Observers => "observers." + Id,
        AddressKind.User => "user." + Id,
        AddressKind.Session => "session." + Id,
        AddressKind.Stream => "stream." + Id,
        AddressKind.Node => "node." + Id,
        _ => Kind.ToString().ToLowerInvariant() + "." + Id,
    };

    /// <summary>The label used for metrics (bounded cardinality).</summary>
    public string KindLabel => Kind switch
    {
        AddressKind.Agent => "agent",
        AddressKind.Observers => "observers",
        AddressKind.User => "user",
        AddressKind.Capability => "capability",
        AddressKind.Kah => "kah",
        AddressKind.Session => "session",
        AddressKind.Stream => "stream",
        AddressKind.Topic => "topic",
        _ => "node",
    };

    public override string ToString() => $"{KindLabel}:{Id}";
}
