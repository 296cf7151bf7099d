using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Storage;

namespace Kai.Hub.Agents;

/// <summary>
/// Agent lookups for REST handlers, under the one policy (<see cref="Access.MayManageAgent"/>): an admin sees every agent, a user its own, an agent itself.
/// Anything else is reported as "not found" (404), so ids of other tenants' agents cannot be probed.
/// </summary>
internal sealed class AgentAccess(IAgentStore store)
{
    public async Task<AgentRecord> GetAsync(KaiPrincipal principal, string agentId, CancellationToken ct)
    {
        var agent = agentId.Length <= 64 ? await store.GetAgentAsync(agentId, ct) : null;
        if (agent is null || !Access.MayManageAgent(principal, agent))
        {
            throw ApiException.AgentNotFound(agentId);
        }
        return agent;
    }
}
