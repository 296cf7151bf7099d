using Kai.Hub.Auth;
using Kai.Hub.Cluster;
using Kai.Hub.Routing;
using Kai.Hub.Storage;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Agents;

/// <summary>
/// Derives agent status from the live link and heartbeats (seed 000: 30 s interval, 3 missed means offline),
/// stores it, and tells observers of every change with a <c>status_update</c> frame.
/// </summary>
/// <remarks>
/// Heartbeats on a live link only touch memory (the link's last-inbound time) unless the reported status or load
/// changes: the link itself proves liveness, and 20,000 agents must not cost 700 fsyncs a second.
/// Transitions of one agent are serialized so that a disconnect and a heartbeat cannot interleave their read-then-write.
/// Different agents' transitions run concurrently (striped gates): a burst of connects then shares the store writer's group
/// commit instead of waiting for one fsync each behind a single gate.
/// </remarks>
internal sealed class AgentPresence(
    IAgentStore store, Router router, ConnectionRegistry links, TimeProvider time, IOptions<HubOptions> options, NodeIdentity node)
    : ILinkExpiryListener, Housekeeping.IHousekeeping
{
    private const int GateStripes = 64;
    private readonly SemaphoreSlim[] _gates = Enumerable.Range(0, GateStripes).Select(_ => new SemaphoreSlim(1, 1)).ToArray();
    private readonly LinkOptions _links = options.Value.Links;

    public Task LinkOpenedAsync(string agentId, CancellationToken ct) =>
        TransitionAsync(agentId, AgentStatuses.Active, "connected", heartbeat: true, reported: AgentStatuses.Active, linked: true, ct: ct);

    public Task LinkClosedAsync(string agentId, string reason, CancellationToken ct) =>
        TransitionAsync(agentId, AgentStatuses.Offline, reason, heartbeat: false, linked: false, ct: ct);

    /// <summary>A heartbeat by REST (always stored) or on the link (stored only when something changed).</summary>
    public Task HeartbeatAsync(string agentId, string? status, int? currentTasks, string? metricsJson, bool viaLink, CancellationToken ct) =>
        TransitionAsync(agentId, status, "heartbeat", heartbeat: !viaLink, reported: status, currentTasks: currentTasks, metricsJson: metricsJson, onlyIfChanged: viaLink, ct: ct);

    public Task ReportAsync(string agentId, string status, string? reason, CancellationToken ct) =>
        TransitionAsync(agentId, status, reason ?? "reported", heartbeat: false, reported: status, ct: ct);

    /// <summary>Marks offline the agents with neither a live link nor a heartbeat within the offline window.</summary>
    public async Task SweepAsync(CancellationToken ct)
    {
        var cutoff = time.GetUtcNow() - _links.OfflineAfter;
        foreach (var agent in await store.ListStaleAgentsAsync(cutoff, ct))
        {
            if (links.AgentLink(agent.AgentId) is null)
            {
                await TransitionAsync(agent.AgentId, AgentStatuses.Offline, "heartbeat_timeout", heartbeat: false, ct: ct);
            }
        }
    }

    /// <summary>The node holding these agents' links died: tell observers they went offline (the store already says so).</summary>
    public async Task LinksExpiredAsync(IReadOnlyList<AgentRecord> agents, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        foreach (var agent in agents.Where(a => a.Status != AgentStatuses.Offline))
        {
            await NotifyAsync(agent.AgentId, agent.OwnerId, AgentStatuses.Offline, agent.Status, "node_lost", now, ct);
        }
    }

    private async Task TransitionAsync(
        string agentId, string? status, string reason, bool heartbeat, string? reported = null, int? currentTasks = null,
        string? metricsJson = null, bool onlyIfChanged = false, bool? linked = null, CancellationToken ct = default)
    {
        var gate = _gates[(uint)StringComparer.Ordinal.GetHashCode(agentId) % GateStripes];
        await gate.WaitAsync(ct);
        try
        {
            var agent = await store.GetAgentAsync(agentId, ct);
            if (agent is null)
            {
                return;
            }
            var next = status ?? (agent.Status == AgentStatuses.Offline ? AgentStatuses.Active : agent.Status);
            var changed = next != agent.Status
                || (currentTasks is not null && currentTasks != agent.CurrentTasks)
                || (metricsJson is not null && metricsJson != agent.MetricsJson);
            if (onlyIfChanged && !changed)
            {
                return;
            }
            var now = time.GetUtcNow();
            // Link changes name this node; an unlink after another node took the link over changes nothing.
            if (!await store.UpdatePresenceAsync(new AgentPresenceUpdate(
                agentId, next, now, heartbeat ? now : null, reported, currentTasks, metricsJson, linked, linked is null ? null : node.Id), ct))
            {
                return;
            }
            if (next != agent.Status)
            {
                await NotifyAsync(agentId, agent.OwnerId, next, agent.Status, reason, now, ct);
            }
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task NotifyAsync(string agentId, string ownerId, string next, string previous, string reason, DateTimeOffset now, CancellationToken ct)
    {
        var frame = Frame.Encode(FrameTypes.StatusUpdate, new StatusUpdatePayload(agentId, next, previous, reason, now), timestamp: now);
        await router.RouteAsync(new Envelope(FrameTypes.StatusUpdate, Address.ObserversOf(agentId), frame, KaiPrincipal.System), ct);
        await router.PublishAsync(new SystemEvent("agent.status_changed", agentId,
            new { agent_id = agentId, status = next, previous_status = previous, reason }, ownerId, SourceAgent: agentId), KaiPrincipal.System, ct);
    }
}
