using Kai.Protocol.Kail;

namespace Kai.Hub.Invocations;

internal sealed partial class InvocationService
{
    /// <summary>
    /// The caller's tenant of running invocation <paramref name="id"/> when it is with <paramref name="agentId"/> (any agent, for null):
    /// its current try was routed to that agent, or it names that agent as its target (so the answer holds from the moment the frame
    /// is sent, before the try is recorded); null when it is not running or is with another agent.
    /// </summary>
    internal string? HeldTenant(string id, string? agentId) =>
        _runs.TryGetValue(id, out var run) && !run.Finished
        && (agentId is null || run.CurrentAgentId == agentId || run.Invocation.Target == KailTypes.LocalHandle(agentId))
            ? run.Caller.OwnerId
            : null;
}
