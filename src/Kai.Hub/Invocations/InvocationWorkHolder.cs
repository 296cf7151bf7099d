using Kai.Hub.Auth;

namespace Kai.Hub.Invocations;

/// <summary>
/// Invocations as work that references files (issue 13): the agent an invocation's current try was routed to holds it until the
/// invocation finishes. Invocations run in memory on the node that accepted them, so this answers for that node's invocations.
/// </summary>
internal sealed class InvocationWorkHolder(InvocationService invocations) : IWorkHolder
{
    public string Kind => WorkKinds.Invocation;

    public Task<string?> HeldTenantAsync(string workId, string agentId, CancellationToken ct) => Task.FromResult(invocations.HeldTenant(workId, agentId));

    public Task<string?> TenantAsync(string workId, CancellationToken ct) => Task.FromResult(invocations.HeldTenant(workId, null));
}
