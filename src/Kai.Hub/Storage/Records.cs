namespace Kai.Hub.Storage;

/// <summary>An account. <c>Username</c> is its name, if one is set: unique case-insensitively, a login name beside the email.</summary>
public sealed record UserRecord(
    string UserId, string Email, string PasswordHash, string DisplayName, string Role, bool Disabled, DateTimeOffset CreatedAt, string? Username = null);

public sealed record SessionRecord(
    string SessionId, string UserId, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, DateTimeOffset? RevokedAt);

public sealed record RefreshTokenRecord(
    string TokenHash, string SessionId, string UserId, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, DateTimeOffset? UsedAt);

public sealed record AgentRecord(
    string AgentId,
    string OwnerId,
    string Name,
    string Type,
    string? Version,
    IReadOnlyList<string> Capabilities,
    string ConfigJson,
    string? HealthCheckUrl,
    string SecretHash,
    string Status,
    string? ReportedStatus,
    int CurrentTasks,
    string? MetricsJson,
    DateTimeOffset? LastHeartbeat,
    DateTimeOffset? LastActivity,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    bool Linked = false,
    string? LinkNode = null);

public sealed record CommandRecord(
    string CommandId,
    string AgentId,
    string OwnerId,
    string RequestedBy,
    string Command,
    string ParametersJson,
    string Priority,
    string Status,
    string? ResultJson,
    string? Error,
    string? CorrelationId,
    string? TraceParent,
    int Deliveries,
    DateTimeOffset Deadline,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

public sealed record AgentQuery(string? OwnerId, string? Status, string? Capability, string? Type, int Limit, int Offset);

/// <summary>
/// What changed about an agent's liveness; null fields are left as they are. <c>Linked</c> true: the agent has a live link, held
/// by node <c>LinkNode</c> (<c>Kai:NodeId</c>, required then); false: its link closed (see <see cref="IAgentStore.UpdatePresenceAsync"/>).
/// </summary>
public sealed record AgentPresenceUpdate(
    string AgentId, string Status, DateTimeOffset LastActivity, DateTimeOffset? LastHeartbeat = null,
    string? ReportedStatus = null, int? CurrentTasks = null, string? MetricsJson = null, bool? Linked = null, string? LinkNode = null);
