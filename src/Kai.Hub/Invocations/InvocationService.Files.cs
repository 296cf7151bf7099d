namespace Kai.Hub.Invocations;

internal sealed partial class InvocationService
{
    /// <summary>
    /// The caller's tenant of running invocation <paramref name="workId"/> (<see cref="Run.WorkId"/>) when it is with
    /// <paramref name="agentId"/> (any agent, for null): the router chose that agent for its current try (set before the frame is
    /// written, <see cref="Routing.Envelope.OnAgentChosen"/>); null when it is not running or is with another agent.
    /// </summary>
    internal string? HeldTenant(string workId, string? agentId)
    {
        return Auth.InMemoryWorkHolder.IdOf(workId) is { } id && _runs.TryGetValue(id, out var run) && run.WorkId == workId && !run.Finished
            && (agentId is null || run.CurrentAgentId == agentId)
                ? run.Caller.OwnerId
                : null;
    }
}
