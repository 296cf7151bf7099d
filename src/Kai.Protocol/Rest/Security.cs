using System.Text.Json;

namespace Kai.Protocol.Rest;

/// <summary><c>POST /api/v1/auth/magic-link</c> body (seed 000 "magicLink").</summary>
/// <param name="Email">The account's address; the answer is the same whether or not it exists.</param>
public sealed record MagicLinkRequest(string? Email);

/// <summary><c>POST /api/v1/auth/verify-magic</c> body (seed 000).</summary>
/// <param name="MagicToken">The single-use token from the mail (10 minutes).</param>
public sealed record VerifyMagicRequest(string? MagicToken);

/// <summary><c>PUT /api/v1/admin/users/{user_id}/role</c> body.</summary>
/// <param name="Role"><c>user</c>, <c>developer</c> or <c>admin</c>.</param>
public sealed record SetRoleRequest(string? Role);

/// <summary>Answer of <c>POST /api/v1/agents/{id}/rotate-secret</c>: the new credentials, shown once.</summary>
/// <param name="AgentId">The agent.</param>
/// <param name="ClientId">The OAuth client id (equal to the agent id).</param>
/// <param name="ClientSecret">The new client secret (<c>kas_…</c>).</param>
public sealed record RotateSecretResponse(string AgentId, string ClientId, string ClientSecret);

/// <summary>Answer of <c>POST /api/v1/auth/magic-link</c>, the same for every email.</summary>
/// <param name="Accepted">Always true.</param>
/// <param name="Message">The same text for every request.</param>
public sealed record MagicLinkResponse(bool Accepted, string Message);

/// <summary>An account as the admin routes show it (no password material).</summary>
/// <param name="UserId">The user id (<c>usr_…</c>).</param>
/// <param name="Email">The email, lower case.</param>
/// <param name="DisplayName">The display name.</param>
/// <param name="Role"><c>user</c>, <c>developer</c> or <c>admin</c>.</param>
/// <param name="Disabled">Whether the account is disabled.</param>
/// <param name="CreatedAt">When it was created (UTC).</param>
public sealed record AdminUser(string UserId, string Email, string DisplayName, string Role, bool Disabled, DateTimeOffset CreatedAt);

/// <summary>Answer of <c>GET /api/v1/admin/users</c>.</summary>
/// <param name="Users">This page.</param>
/// <param name="Total">All accounts.</param>
/// <param name="Pagination">The page.</param>
public sealed record UserListResponse(IReadOnlyList<AdminUser> Users, int Total, Pagination Pagination);

/// <summary>Answer of <c>POST /api/v1/admin/keys/rotate</c>.</summary>
/// <param name="Kid">The new current key id (RFC 7638 thumbprint).</param>
/// <param name="RetiredKid">The key that no longer validates, if any.</param>
public sealed record KeyRotationResponse(string Kid, string? RetiredKid);

/// <summary>One audit entry.</summary>
/// <param name="AuditId">The entry id.</param>
/// <param name="At">When (UTC).</param>
/// <param name="ActorId">Who acted, if known.</param>
/// <param name="ActorRole">Their role, if known.</param>
/// <param name="Action">What, for example <c>agent.secret_rotated</c>.</param>
/// <param name="Target">On what (an id), if any.</param>
/// <param name="Outcome"><c>success</c>, <c>failure</c> or <c>denied</c>.</param>
/// <param name="Ip">The client IP, if any.</param>
/// <param name="Details">Action-specific details (never passwords, tokens or secrets).</param>
public sealed record AuditEntry(string AuditId, DateTimeOffset At, string? ActorId, string? ActorRole, string Action, string? Target, string Outcome, string? Ip, JsonElement Details);

/// <summary>Answer of <c>GET /api/v1/audit</c>, newest first.</summary>
/// <param name="Entries">This page.</param>
/// <param name="Total">Entries matching the filters.</param>
/// <param name="Pagination">The page.</param>
public sealed record AuditListResponse(IReadOnlyList<AuditEntry> Entries, int Total, Pagination Pagination);
