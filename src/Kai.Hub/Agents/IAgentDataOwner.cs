namespace Kai.Hub.Agents;

/// <summary>
/// A capability that keeps data per agent (files) and must hear when an agent is deleted. Registered as a service; the agent
/// delete route calls every one, so Agents does not depend on the capabilities that own data.
/// </summary>
internal interface IAgentDataOwner
{
    /// <param name="agentId">The deleted agent.</param>
    /// <param name="preserveData">The caller asked to keep the agent's data (<c>?preserve_data=true</c>).</param>
    /// <param name="ct">Cancellation.</param>
    Task AgentDeletedAsync(string agentId, bool preserveData, CancellationToken ct);
}
