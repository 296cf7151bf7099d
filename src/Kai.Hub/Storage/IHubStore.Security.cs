namespace Kai.Hub.Storage;

/// <summary>One audit entry. <c>Details</c> is a JSON object; never holds secrets (no passwords, tokens or client secrets).</summary>
public sealed record AuditRecord(
    long Seq, string AuditId, DateTimeOffset At, string? ActorId, string? ActorRole, string Action, string? Target, string Outcome, string? Ip, string DetailsJson);

public sealed record AuditQuery(string? ActorId, string? Action, DateTimeOffset? From, DateTimeOffset? To, int Limit, int Offset);

/// <summary>A magic-link token, stored by its SHA-256 hash only.</summary>
public sealed record MagicLinkRecord(string TokenHash, string Email, string UserId, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, DateTimeOffset? UsedAt);

public partial interface IHubStore
{
    /// <summary>Appends an audit entry. There is no update or delete: the table refuses both (triggers).</summary>
    Task AppendAuditAsync(AuditRecord entry, CancellationToken ct);

    /// <summary>Audit entries, newest first.</summary>
    Task<(IReadOnlyList<AuditRecord> Items, int Total)> ListAuditAsync(AuditQuery query, CancellationToken ct);

    /// <summary>Users, oldest first.</summary>
    Task<(IReadOnlyList<UserRecord> Items, int Total)> ListUsersAsync(int limit, int offset, CancellationToken ct);

    Task<bool> SetUserRoleAsync(string userId, string role, CancellationToken ct);

    Task<bool> SetUserDisabledAsync(string userId, bool disabled, CancellationToken ct);

    /// <summary>Revokes every live session of the user and returns their ids.</summary>
    Task<IReadOnlyList<string>> RevokeUserSessionsAsync(string userId, DateTimeOffset now, CancellationToken ct);

    /// <summary>Records a revoked pseudo-session (an agent's credential generation), so the revocation survives a restart.</summary>
    Task RecordRevokedSessionAsync(string sessionId, string userId, DateTimeOffset now, DateTimeOffset expiresAt, CancellationToken ct);

    /// <summary>Replaces the agent's client secret hash; the old secret stops working at once.</summary>
    Task<bool> SetAgentSecretAsync(string agentId, string secretHash, DateTimeOffset now, CancellationToken ct);

    Task CreateMagicLinkAsync(MagicLinkRecord link, CancellationToken ct);

    /// <summary>Marks the link used if it is unused and unexpired, atomically; returns it, or null (unknown, used or expired).</summary>
    Task<MagicLinkRecord?> TryConsumeMagicLinkAsync(string tokenHash, DateTimeOffset now, CancellationToken ct);
}
