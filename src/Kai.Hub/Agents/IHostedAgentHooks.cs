using System.Text.Json;
using Kai.Hub.Auth;
using Kai.Hub.Storage;

namespace Kai.Hub.Agents;

/// <summary>
/// The seam through which the registry hands agents the hub runs itself (<c>Hosting/</c>, issue 11 item 15) to their
/// supervisor. <c>Agents/</c> only knows this interface, so it never depends on <c>Hosting/</c>.
/// </summary>
internal interface IHostedAgentHooks
{
    /// <summary>Whether agents of this type are hosted by the hub (for example <c>llm</c>).</summary>
    bool IsHostedType(string? type);

    /// <summary>
    /// Validates a hosted agent's config (clear <c>VALIDATION_ERROR</c> otherwise) and returns what the registry stores:
    /// the config without secrets, the capabilities to add, and the work to do once the agent row exists. The agent's
    /// <paramref name="healthCheckUrl"/> (seed 004), when it has one, is checked too: the hub probes it for the agents it runs.
    /// </summary>
    Task<HostedAgentPlan> PrepareAsync(KaiPrincipal owner, string type, JsonElement? config, bool? autoStart, string? healthCheckUrl, CancellationToken ct);

    /// <summary>Called after the agent row was written (create or config update): stores secrets and starts it when asked.</summary>
    Task CommitAsync(AgentRecord agent, HostedAgentPlan plan, CancellationToken ct);

    /// <summary>Stops a hosted agent and forgets its secrets and history; a no-op for other agents.</summary>
    Task DeletedAsync(string agentId, CancellationToken ct);

    /// <summary>Restarts a hosted agent; false when the agent is not hosted (the registry then sends the restart command).</summary>
    Task<bool> TryRestartAsync(AgentRecord agent, CancellationToken ct);
}

/// <summary>What <see cref="IHostedAgentHooks.PrepareAsync"/> decided.</summary>
/// <param name="ConfigJson">The config to store and show: never contains an inline API key.</param>
/// <param name="Capabilities">Capabilities the hosted runtime serves (for example <c>llm.chat</c>).</param>
/// <param name="State">Opaque state for <see cref="IHostedAgentHooks.CommitAsync"/> (the protected key, auto_start).</param>
internal sealed record HostedAgentPlan(string ConfigJson, IReadOnlyList<string> Capabilities, object State);
