using System.Text.Json;
using System.Text.RegularExpressions;
using Kai.Hub.Auth;
using Kai.Hub.Commands;
using Kai.Hub.Errors;
using Kai.Hub.Routing;
using Kai.Hub.Storage;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Agents;

/// <summary>The agent registry (seeds 000 and 004): creation with client credentials, listing, updates, deletion, status.</summary>
internal sealed partial class AgentService(
    IAgentStore store, AgentAccess access, AgentPresence presence, ConnectionRegistry links, CommandService commands,
    TimeProvider time, IOptions<HubOptions> options, Router router, SessionRevocations revocations, IAuthStore authStore,
    IEnumerable<IHostedAgentHooks> hostedHooks)
{
    // Agents the hub runs itself (Hosting/, type "llm"); absent when hosting is not registered.
    private readonly IHostedAgentHooks? _hosted = hostedHooks.FirstOrDefault();

    private readonly LinkOptions _links = options.Value.Links;

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$")]
    private static partial Regex AgentIdPattern();

    public Task<AgentCreatedResponse> RegisterAsync(KaiPrincipal owner, RegisterAgentRequest r, string baseUrl, CancellationToken ct)
    {
        var v = new Validation()
            .Check(r.Id is null || AgentIdPattern().IsMatch(r.Id), "id", "must be 3 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
            .Length(r.Name, "name", 1, 100, required: false)
            .Length(r.Version, "version", 1, 64, required: false)
            .Check(r.HealthCheckUrl is null || (Uri.TryCreate(r.HealthCheckUrl, UriKind.Absolute, out var u) && u.Scheme is "http" or "https"),
                "health_check_url", "must be an absolute http or https URL")
            .Object(r.Configuration, "configuration");
        return CreateAsync(owner, v, r.Id, r.Name ?? r.Id, r.Type, r.Version, r.Capabilities, r.Configuration, r.HealthCheckUrl, baseUrl, null, ct);
    }

    public Task<AgentCreatedResponse> CreateAsync(KaiPrincipal owner, CreateAgentRequest r, string baseUrl, CancellationToken ct) =>
        CreateAsync(owner, new Validation().Length(r.Name, "name", 1, 100).Object(r.Config, "config"),
            null, r.Name, r.Type, null, r.Capabilities, r.Config, null, baseUrl, r.AutoStart, ct);

    private async Task<AgentCreatedResponse> CreateAsync(
        KaiPrincipal owner, Validation v, string? id, string? name, string? type, string? version, IReadOnlyList<string>? capabilities,
        JsonElement? config, string? healthUrl, string baseUrl, bool? autoStart, CancellationToken ct)
    {
        v.Length(type, "type", 1, 64).Names(capabilities, "capabilities", 64, 64).ThrowIfInvalid();
        HostedAgentPlan? plan = null;
        if (_hosted is not null && _hosted.IsHostedType(type))
        {
            // Validated (and its inline API key taken out) before anything is stored.
            plan = await _hosted.PrepareAsync(owner, type!, config, autoStart, healthUrl, ct);
            capabilities = [.. capabilities ?? [], .. plan.Capabilities];
        }
        var agentId = id ?? "agent-" + Guid.NewGuid().ToString("N")[..12];
        var secret = "kas_" + TokenService.NewId(32);
        var now = time.GetUtcNow();
        var record = new AgentRecord(
            agentId, owner.OwnerId, name ?? agentId, type!, version, capabilities?.Distinct(StringComparer.Ordinal).ToArray() ?? [],
            plan?.ConfigJson ?? (config is { ValueKind: JsonValueKind.Object } c ? c.GetRawText() : "{}"), healthUrl, TokenService.HashSecret(secret),
            AgentStatuses.Offline, null, 0, null, null, null, now, now);
        if (!await store.TryCreateAgentAsync(record, ct))
        {
            throw new ApiException(ErrorCodes.Conflict, $"An agent with id '{agentId}' already exists.", new Dictionary<string, string> { ["agent_id"] = agentId });
        }
        if (plan is not null)
        {
            await _hosted!.CommitAsync(record, plan, ct);
        }
        await router.PublishAsync(new SystemEvent("agent.registered", agentId,
            new { agent_id = agentId, record.Name, record.Type, record.Version, record.Capabilities }, record.OwnerId, SourceAgent: agentId), KaiPrincipal.System, ct);
        return new AgentCreatedResponse(agentId, agentId, secret, "created", WebSocketUrl(baseUrl, agentId));
    }

    public static string WebSocketUrl(string baseUrl, string agentId) =>
        $"{baseUrl.Replace("https://", "wss://", StringComparison.Ordinal).Replace("http://", "ws://", StringComparison.Ordinal).TrimEnd('/')}/ws/agents/{Uri.EscapeDataString(agentId)}";

    public async Task<AgentListResponse> ListAsync(KaiPrincipal p, string? status, string? capability, string? type, int? limit, int? offset, CancellationToken ct)
    {
        new Validation()
            .Check(status is null || status is AgentStatuses.Active or AgentStatuses.Idle or AgentStatuses.Offline or AgentStatuses.Error, "status", "must be active, idle, offline or error")
            .Check(limit is null or (>= 1 and <= 100), "limit", "must be 1 to 100")
            .Check(offset is null or >= 0, "offset", "must be 0 or more")
            .Length(capability, "capability", 1, 64, required: false)
            .Length(type, "type", 1, 64, required: false)
            .ThrowIfInvalid();
        if (p.IsAgent)
        {
            throw new ApiException(ErrorCodes.Forbidden, "Agents cannot list agents.");
        }
        var query = new AgentQuery(p.Can(Permissions.AgentManageAll) ? null : p.Id, status, capability, type, limit ?? 20, offset ?? 0);
        var (items, total) = await store.ListAgentsAsync(query, ct);
        return new AgentListResponse(items.Select(View).ToList(), total, new Pagination(query.Limit, query.Offset, total, query.Offset + items.Count < total));
    }

    public async Task<AgentView> GetAsync(KaiPrincipal p, string agentId, CancellationToken ct) => View(await access.GetAsync(p, agentId, ct));

    public async Task<UpdateAgentResponse> UpdateAsync(KaiPrincipal p, string agentId, UpdateAgentRequest r, CancellationToken ct)
    {
        new Validation()
            .Length(r.Name, "name", 1, 100, required: false)
            .Length(r.Type, "type", 1, 64, required: false)
            .Length(r.Version, "version", 1, 64, required: false)
            .Object(r.Config, "config")
            .Names(r.Capabilities, "capabilities", 64, 64)
            .ThrowIfInvalid();
        var agent = await access.GetAsync(p, agentId, ct);
        var updated = agent;
        var fields = new List<string>();
        HostedAgentPlan? plan = null;
        if (_hosted is not null && _hosted.IsHostedType(r.Type ?? agent.Type) && (r.Config is { ValueKind: JsonValueKind.Object } || r.Type is not null))
        {
            // A hosted agent's new config is validated and its inline API key protected, exactly as at creation.
            plan = await _hosted.PrepareAsync(p, r.Type ?? agent.Type, r.Config ?? JsonDocument.Parse(agent.ConfigJson).RootElement, null, agent.HealthCheckUrl, ct);
            r = r with { Config = JsonDocument.Parse(plan.ConfigJson).RootElement };
        }
        if (r.Name is not null && r.Name != agent.Name) { updated = updated with { Name = r.Name }; fields.Add("name"); }
        if (r.Type is not null && r.Type != agent.Type) { updated = updated with { Type = r.Type }; fields.Add("type"); }
        if (r.Version is not null && r.Version != agent.Version) { updated = updated with { Version = r.Version }; fields.Add("version"); }
        if (r.Capabilities is not null && !r.Capabilities.SequenceEqual(agent.Capabilities))
        {
            updated = updated with { Capabilities = r.Capabilities.Distinct(StringComparer.Ordinal).ToArray() };
            fields.Add("capabilities");
        }
        if (r.Config is { ValueKind: JsonValueKind.Object } config && config.GetRawText() != agent.ConfigJson)
        {
            updated = updated with { ConfigJson = config.GetRawText() };
            fields.Add("config");
        }
        if (fields.Count > 0)
        {
            await store.UpdateAgentAsync(updated with { UpdatedAt = time.GetUtcNow() }, ct);
        }
        if (plan is not null)
        {
            await _hosted!.CommitAsync(updated, plan, ct);
        }
        return new UpdateAgentResponse(agentId, fields, fields.Contains("config") && links.AgentLink(agentId) is not null);
    }

    public async Task<DeleteAgentResponse> DeleteAsync(KaiPrincipal p, string agentId, CancellationToken ct)
    {
        var agent = await access.GetAsync(p, agentId, ct);
        if (_hosted is not null)
        {
            await _hosted.DeletedAsync(agent.AgentId, ct);
        }
        // The agent's credentials die with it: the session of its tokens is revoked (in memory first, so no request sees the agent gone
        // and its token still good) and recorded, so a restart keeps it revoked for longer than any access token lives.
        var sessionId = AuthService.AgentSessionId(agent.SecretHash);
        var now = time.GetUtcNow();
        revocations.Revoke(sessionId);
        await authStore.RecordRevokedSessionAsync(sessionId, agent.OwnerId, now, now.AddDays(1), ct);
        await store.DeleteAgentAsync(agent.AgentId, now, ct);
        links.CloseAll(agent.AgentId, CloseCodes.InvalidSession, "agent deleted");
        foreach (var link in links.EventLinks.Where(l => l.Principal.SessionId == sessionId))
        {
            link.RequestClose(CloseCodes.InvalidSession, "agent deleted");
        }
        return new DeleteAgentResponse(true, "completed");
    }

    public async Task<AgentStatusResponse> StatusAsync(KaiPrincipal p, string agentId, CancellationToken ct)
    {
        var agent = await access.GetAsync(p, agentId, ct);
        var link = links.AgentLink(agentId);
        var lastHeartbeat = Max(agent.LastHeartbeat, link?.LastInbound);
        var missed = lastHeartbeat is { } hb ? (int)((time.GetUtcNow() - hb) / _links.HeartbeatInterval) : 0;
        using var metrics = JsonDocument.Parse(agent.MetricsJson ?? "{}");
        return new AgentStatusResponse(agentId, agent.Status,
            new AgentHealth(link is not null, (int)_links.HeartbeatInterval.TotalSeconds, lastHeartbeat, Math.Max(0, missed), agent.ReportedStatus),
            Max(agent.LastActivity, link?.LastInbound), new ResourceUsage(agent.CurrentTasks, metrics.RootElement.Clone()));
    }

    public async Task<HeartbeatResponse> HeartbeatAsync(KaiPrincipal p, string agentId, HeartbeatRequest r, CancellationToken ct)
    {
        new Validation()
            .Check(r.Status is null or AgentStatuses.Active or AgentStatuses.Idle or AgentStatuses.Error, "status", "must be active, idle or error")
            .Check(r.CurrentTasks is null or >= 0, "current_tasks", "must be 0 or more")
            .Object(r.PerformanceMetrics, "performance_metrics")
            .ThrowIfInvalid();
        var agent = await access.GetAsync(p, agentId, ct);
        var metrics = r.PerformanceMetrics is { ValueKind: JsonValueKind.Object } m ? m.GetRawText() : null;
        await presence.HeartbeatAsync(agent.AgentId, r.Status ?? AgentStatuses.Active, r.CurrentTasks, metrics, viaLink: false, ct);
        return new HeartbeatResponse(agentId, r.Status ?? AgentStatuses.Active, (int)_links.HeartbeatInterval.TotalSeconds);
    }

    public async Task<RestartResponse> RestartAsync(KaiPrincipal p, string agentId, RestartRequest? r, CancellationToken ct)
    {
        var agent = await access.GetAsync(p, agentId, ct);
        if (_hosted is not null && await _hosted.TryRestartAsync(agent, ct))
        {
            return new RestartResponse("restart_" + Guid.NewGuid().ToString("N")[..12], 0);
        }
        if (links.AgentLink(agentId) is null)
        {
            throw new ApiException(ErrorCodes.AgentUnavailable, $"Agent '{agentId}' has no live link to receive the restart.",
                new Dictionary<string, object?> { ["agent_id"] = agentId, ["last_seen"] = agent.LastActivity });
        }
        var parameters = JsonSerializer.SerializeToElement(new Dictionary<string, bool> { ["force"] = r?.Force ?? false });
        var command = await commands.CreateAsync(p, agent, "restart", parameters, "urgent", (int)_links.OfflineAfter.TotalSeconds, null, false, ct);
        return new RestartResponse(command.CommandId, (int)_links.HeartbeatInterval.TotalSeconds);
    }

    public AgentView View(AgentRecord a)
    {
        var link = links.AgentLink(a.AgentId);
        using var config = JsonDocument.Parse(a.ConfigJson);
        return new AgentView(a.AgentId, a.Name, a.Type, a.Capabilities, a.Status, Max(a.LastActivity, link?.LastInbound), a.Version, a.OwnerId,
            config.RootElement.Clone(), a.HealthCheckUrl, link is not null, a.CreatedAt, a.UpdatedAt);
    }

    private static DateTimeOffset? Max(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a > b ? a : b;
}
