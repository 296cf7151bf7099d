namespace Kai.Hub.Routing;

/// <summary>
/// A place the router can deliver an agent's envelopes other than a live link of this node: a hosted provider agent, a
/// webhook agent. The router asks each in registration order after the local links, and before the backplane.
/// </summary>
internal interface IDeliveryTarget
{
    /// <summary>Whether this target serves <paramref name="agentId"/> now (it counts as reachable for capability routing).</summary>
    bool Serves(string agentId);

    /// <summary>Delivers to an agent this target serves; null when it does not serve it.</summary>
    ValueTask<RouteResult?> TryDeliverAsync(string agentId, Envelope envelope, CancellationToken ct);

    /// <summary>
    /// The tenant of an agent this target serves that is not in the agent registry (a chat session's participants,
    /// <c>human_{session}</c>, <c>ai1_{session}</c>), so the authorize filter can check reach; null for agents it does not know.
    /// </summary>
    ValueTask<string?> TenantOfAsync(string agentId, CancellationToken ct) => ValueTask.FromResult<string?>(null);
}
