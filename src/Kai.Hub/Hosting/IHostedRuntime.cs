using Kai.Protocol.Frames;

namespace Kai.Hub.Hosting;

/// <summary>
/// An agent the hub runs itself, frame in, frame out: the LLM agent (<see cref="HostedAgent"/>) or a webhook, custom-API or
/// shell agent (<see cref="Adapters.AdapterAgent"/>). <see cref="HostedAgentSupervisor"/> feeds it the frames the router would
/// write to a live link.
/// </summary>
internal interface IHostedRuntime
{
    string AgentId { get; }

    string OwnerId { get; }

    /// <summary>What it runs, for logs: <c>local/m1</c>, <c>webhook: webhook https://…</c>.</summary>
    string Describe { get; }

    Task HandleAsync(Frame frame, IHostedOutbox outbox, CancellationToken ct);
}
