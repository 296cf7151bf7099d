using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Storage;

namespace Kai.Hub.Agents;

/// <summary>
/// Ownership of agents, checked in one place: an admin sees every agent, a user its own, an agent itself.
/// Anything else is reported as "not found" (404), so ids of other tenants' agents cannot be probed.
/// </summary>
internal sealed class AgentAccess(IHubStore store)
{
    public async Task<AgentRecord> GetAsync(KaiPrincipal principal, string agentId, CancellationToken ct)
    {
        var agent = agentId.Length <= 64 ? await store.GetAgentAsync(agentId, ct) : null;
        if (agent is null || !CanSee(principal, agent))
        {
            throw ApiException.AgentNotFound(agentId);
        }
        return agent;
    }

    /// <summary>An agent token sees only the incarnation of the agent it was issued for: same id, same owner, and the session of the
    /// agent's current client secret (<see cref="AuthService.AgentSessionId"/>). A token of a deleted agent therefore never matches an agent
    /// re-registered under the same id, even by the same owner, nor the agent after its secret was rotated.</summary>
    public static bool CanSee(KaiPrincipal principal, AgentRecord agent) =>
        principal.IsAdmin || (principal.IsAgent
            ? principal.Id == agent.AgentId && principal.OwnerId == agent.OwnerId && principal.SessionId == AuthService.AgentSessionId(agent.SecretHash)
            : principal.Id == agent.OwnerId);
}
