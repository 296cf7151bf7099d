using System.Text.Json;

namespace Kai.Protocol.Rest;

/// <summary><c>POST /api/v1/agents/register</c> body (seed 004 "Register Agent").</summary>
/// <param name="Id">Optional agent id: 3 to 64 characters of letters, digits, <c>.</c>, <c>_</c> and <c>-</c>; generated when absent. A taken id gets 409.</param>
/// <param name="Type">The agent type, 1 to 64 characters, for example <c>code_generation</c>.</param>
/// <param name="Name">Display name, 1 to 100 characters; the id when absent.</param>
/// <param name="Version">Optional version string.</param>
/// <param name="Capabilities">Capability names, at most 64, each 1 to 64 characters.</param>
/// <param name="HealthCheckUrl">Optional absolute http(s) URL.</param>
/// <param name="Configuration">Optional object; <c>max_concurrent_tasks</c> in it is read by routing.</param>
public sealed record RegisterAgentRequest(
    string? Id, string Type, string? Name, string? Version, IReadOnlyList<string>? Capabilities,
    string? HealthCheckUrl, JsonElement? Configuration);

/// <summary><c>POST /api/v1/agents</c> body (seed 000 "Agent Management API").</summary>
/// <param name="Name">Display name, 1 to 100 characters.</param>
/// <param name="Type">The agent type, 1 to 64 characters.</param>
/// <param name="Capabilities">Capability names, at most 64.</param>
/// <param name="Config">Optional configuration object.</param>
/// <param name="AutoStart">For a hub-hosted agent (<c>type: "llm"</c>, issue 11 item 15): start it now and at every hub start. Other agents are external processes, so it has no effect on them.</param>
public sealed record CreateAgentRequest(string Name, string Type, IReadOnlyList<string>? Capabilities, JsonElement? Config, bool? AutoStart);

/// <summary>201 response of both agent-creation routes. The secret is shown only here; the hub keeps a hash.</summary>
/// <param name="AgentId">The agent id.</param>
/// <param name="ClientId">The OAuth client id for <c>POST /api/v1/auth/token</c>; equal to the agent id.</param>
/// <param name="ClientSecret">The client secret, 43 URL-safe characters (256 bits).</param>
/// <param name="Status">Always <c>created</c>.</param>
/// <param name="WebsocketUrl">The agent's live-link path, <c>/ws/agents/{agent_id}</c>, relative to the hub's base URL.</param>
public sealed record AgentCreatedResponse(string AgentId, string ClientId, string ClientSecret, string Status, string WebsocketUrl);

/// <summary>An agent as listed and shown.</summary>
/// <param name="AgentId">The id.</param>
/// <param name="Name">The display name.</param>
/// <param name="Type">The type.</param>
/// <param name="Capabilities">The capabilities.</param>
/// <param name="Status"><c>active</c>, <c>idle</c>, <c>offline</c> or <c>error</c>, derived from the live link and heartbeats.</param>
/// <param name="LastActivity">Last frame, heartbeat or connection, ISO 8601 UTC; absent if never seen.</param>
/// <param name="Version">The version, if registered.</param>
/// <param name="OwnerId">The owning user id.</param>
/// <param name="Config">The configuration object.</param>
/// <param name="HealthCheckUrl">The health check URL, if registered.</param>
/// <param name="Connected">Whether a live link is open now.</param>
/// <param name="CreatedAt">Creation time.</param>
/// <param name="UpdatedAt">Last update time.</param>
public sealed record AgentView(
    string AgentId, string Name, string Type, IReadOnlyList<string> Capabilities, string Status, DateTimeOffset? LastActivity,
    string? Version, string OwnerId, JsonElement Config, string? HealthCheckUrl, bool Connected, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>Paging information of a list response.</summary>
/// <param name="Limit">The page size used (1 to 100, default 20).</param>
/// <param name="Offset">The offset used.</param>
/// <param name="Total">The number of matching items.</param>
/// <param name="HasMore">Whether items follow this page.</param>
public sealed record Pagination(int Limit, int Offset, int Total, bool HasMore);

/// <summary><c>GET /api/v1/agents</c> response.</summary>
/// <param name="Agents">The page.</param>
/// <param name="Total">The number of matching agents.</param>
/// <param name="Pagination">Paging information.</param>
public sealed record AgentListResponse(IReadOnlyList<AgentView> Agents, int Total, Pagination Pagination);

/// <summary><c>PUT /api/v1/agents/{agent_id}</c> body; absent fields are left unchanged.</summary>
/// <param name="Name">New display name.</param>
/// <param name="Config">New configuration object (replaces the old one).</param>
/// <param name="Capabilities">New capability list (replaces the old one).</param>
/// <param name="Type">New type.</param>
/// <param name="Version">New version.</param>
public sealed record UpdateAgentRequest(string? Name, JsonElement? Config, IReadOnlyList<string>? Capabilities, string? Type = null, string? Version = null);

/// <summary><c>PUT /api/v1/agents/{agent_id}</c> response (seed 000).</summary>
/// <param name="AgentId">The agent.</param>
/// <param name="UpdatedFields">The fields that changed, snake_case.</param>
/// <param name="RestartRequired">Whether the change touches configuration a running agent has already read.</param>
public sealed record UpdateAgentResponse(string AgentId, IReadOnlyList<string> UpdatedFields, bool RestartRequired);

/// <summary><c>DELETE /api/v1/agents/{agent_id}</c> response (seed 000).</summary>
/// <param name="Deleted">Always <see langword="true"/> on 200.</param>
/// <param name="CleanupStatus"><c>completed</c>: credentials revoked, the live link closed, open commands failed.</param>
public sealed record DeleteAgentResponse(bool Deleted, string CleanupStatus);

/// <summary>Health part of <see cref="AgentStatusResponse"/>.</summary>
/// <param name="Connected">Whether a live link is open.</param>
/// <param name="HeartbeatInterval">Expected seconds between heartbeats (30).</param>
/// <param name="LastHeartbeat">The last heartbeat (frame or REST).</param>
/// <param name="MissedHeartbeats">Whole intervals since the last heartbeat; three mean offline.</param>
/// <param name="ReportedStatus">What the agent last reported about itself.</param>
public sealed record AgentHealth(bool Connected, int HeartbeatInterval, DateTimeOffset? LastHeartbeat, int MissedHeartbeats, string? ReportedStatus);

/// <summary>Resource part of <see cref="AgentStatusResponse"/>, as last reported by the agent.</summary>
/// <param name="CurrentTasks">Tasks in progress.</param>
/// <param name="PerformanceMetrics">The last <c>performance_metrics</c> object (seed 004), for example <c>cpu_usage</c>.</param>
public sealed record ResourceUsage(int CurrentTasks, JsonElement PerformanceMetrics);

/// <summary><c>GET /api/v1/agents/{agent_id}/status</c> response (seed 000).</summary>
/// <param name="AgentId">The agent.</param>
/// <param name="Status">The derived status.</param>
/// <param name="Health">Liveness details.</param>
/// <param name="LastActivity">Last activity, ISO 8601 UTC.</param>
/// <param name="ResourceUsage">Last reported load.</param>
public sealed record AgentStatusResponse(string AgentId, string Status, AgentHealth Health, DateTimeOffset? LastActivity, ResourceUsage ResourceUsage);

/// <summary><c>POST /api/v1/agents/{agent_id}/heartbeat</c> body (seed 004 "Agent Heartbeat").</summary>
/// <param name="Status">Optional: <c>active</c>, <c>idle</c> or <c>error</c>; <c>active</c> when absent.</param>
/// <param name="CurrentTasks">Optional tasks in progress, 0 or more.</param>
/// <param name="PerformanceMetrics">Optional metrics object.</param>
public sealed record HeartbeatRequest(string? Status, int? CurrentTasks, JsonElement? PerformanceMetrics);

/// <summary><c>POST /api/v1/agents/{agent_id}/heartbeat</c> response.</summary>
/// <param name="AgentId">The agent.</param>
/// <param name="Status">The derived status after the heartbeat.</param>
/// <param name="NextHeartbeatIn">Seconds until the next heartbeat is due.</param>
public sealed record HeartbeatResponse(string AgentId, string Status, int NextHeartbeatIn);

/// <summary><c>POST /api/v1/agents/{agent_id}/restart</c> body.</summary>
/// <param name="Force">Passed to the agent as the <c>force</c> parameter of the <c>restart</c> command.</param>
public sealed record RestartRequest(bool? Force);

/// <summary><c>POST /api/v1/agents/{agent_id}/restart</c> response (seed 000).</summary>
/// <param name="RestartId">The id of the <c>restart</c> command; follow it at <c>GET /api/v1/tasks/{id}/status</c>.</param>
/// <param name="EstimatedDowntime">Seconds; an estimate (the heartbeat interval).</param>
public sealed record RestartResponse(string RestartId, int EstimatedDowntime);
