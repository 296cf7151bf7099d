namespace Kai.Hub.Messaging;

/// <summary>
/// TEMPORARY BRIDGE (issue 11 item 15, helper <c>hosted</c>): lets the router deliver a frame addressed to an agent
/// that has no live WebSocket link but is run by the hub itself (a hosted LLM agent). The router consults it only on
/// its slow path, after <see cref="ConnectionRegistry.AgentLink"/> found nothing. The lead replaces it with the new
/// router's delivery-target interface; <c>Hosting/HostedAgentSupervisor</c> is the only implementation.
/// </summary>
internal interface IAgentDeliveryHook
{
    /// <summary>The owner of <paramref name="agentId"/> when it is a hosted agent that is running now; null otherwise.</summary>
    string? RunningOwner(string agentId);

    /// <summary>Queues <paramref name="frame"/> (the UTF-8 frame the link would have received) for the hosted agent.</summary>
    /// <returns>False when the agent is not running (any more): the router answers <see cref="RouteStatus.Unavailable"/>.</returns>
    bool TryDeliver(string agentId, byte[] frame);
}
