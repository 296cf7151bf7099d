using System.Text.Json;
using Kai.Protocol.Rest;

namespace Kai.Client;

public sealed partial class HubClient
{
    /// <summary>
    /// <c>POST /api/v1/agents/{id}/rotate-secret</c> (owner or admin; <c>agent_operations</c> rate limit): makes a new client secret. The old
    /// secret and every token issued with it stop working at once, and the agent's open links close with 4002, so a running agent must be
    /// restarted with the new credentials. The secret is shown only once: store it.
    /// </summary>
    /// <exception cref="HubApiException"><c>AGENT_NOT_FOUND</c> (404) for an unknown agent or another user's.</exception>
    public Task<RotateSecretResponse> RotateAgentSecretAsync(string agentId, CancellationToken ct = default) =>
        SendAsync<RotateSecretResponse>(HttpMethod.Post, $"api/v1/agents/{Uri.EscapeDataString(agentId)}/rotate-secret", null, ct);

    /// <summary>
    /// <c>POST /api/v1/auth/magic-link</c> (seed 000): asks the hub to mail a sign-in token to <paramref name="email"/>. The answer (202) is the
    /// same whether or not the account exists; at most 5 mails per address per hour are sent.
    /// </summary>
    public Task<MagicLinkResponse> RequestMagicLinkAsync(string email, CancellationToken ct = default) =>
        SendAsync<MagicLinkResponse>(HttpMethod.Post, "api/v1/auth/magic-link", new MagicLinkRequest(email), ct, authenticate: false);

    /// <summary><c>POST /api/v1/auth/verify-magic</c>: exchanges the mailed <c>kml_…</c> token for a session and keeps the tokens, like
    /// <see cref="LoginAsync"/>. Throws with <c>AUTHENTICATION_FAILED</c> (401) when the token is unknown, used or older than 10 minutes.</summary>
    public async Task<TokenResponse> VerifyMagicLinkAsync(string magicToken, CancellationToken ct = default)
    {
        var tokens = await SendAsync<TokenResponse>(HttpMethod.Post, "api/v1/auth/verify-magic", new VerifyMagicRequest(magicToken), ct, authenticate: false);
        Accept(tokens);
        return tokens;
    }

    /// <summary><c>GET /api/v1/admin/users</c> (permission <c>user.manage</c>): every account, <paramref name="limit"/> 1 to 100 (default 50).</summary>
    /// <exception cref="HubApiException"><c>FORBIDDEN</c> (403) for a non-admin.</exception>
    public Task<UserListResponse> ListUsersAsync(int? limit = null, int? offset = null, CancellationToken ct = default) =>
        SendAsync<UserListResponse>(HttpMethod.Get, "api/v1/admin/users" + Query(("limit", Str(limit)), ("offset", Str(offset))), null, ct);

    /// <summary>
    /// <c>PUT /api/v1/admin/users/{id}/role</c> (permission <c>user.manage</c>): <paramref name="role"/> is <c>user</c>, <c>developer</c> or
    /// <c>admin</c>. The user's sessions end so the new role applies at once.
    /// </summary>
    /// <exception cref="HubApiException"><c>FORBIDDEN</c> (403) for a non-admin, <c>CONFLICT</c> (409) on oneself, <c>NOT_FOUND</c>,
    /// <c>VALIDATION_ERROR</c> for an unknown role.</exception>
    public Task<AdminUser> ChangeRoleAsync(string userId, string role, CancellationToken ct = default) =>
        SendAsync<AdminUser>(HttpMethod.Put, $"api/v1/admin/users/{Uri.EscapeDataString(userId)}/role", new SetRoleRequest(role), ct);

    /// <summary><c>POST /api/v1/admin/users/{id}/disable</c> (permission <c>user.manage</c>): revokes the user's sessions, closes their links
    /// (4002) and revokes their agents' tokens.</summary>
    /// <exception cref="HubApiException"><c>FORBIDDEN</c> (403) for a non-admin, <c>CONFLICT</c> (409) on oneself, <c>NOT_FOUND</c>.</exception>
    public Task<AdminUser> DisableUserAsync(string userId, CancellationToken ct = default) =>
        SendAsync<AdminUser>(HttpMethod.Post, $"api/v1/admin/users/{Uri.EscapeDataString(userId)}/disable", null, ct);

    /// <summary><c>POST /api/v1/admin/users/{id}/enable</c> (permission <c>user.manage</c>).</summary>
    /// <exception cref="HubApiException"><c>FORBIDDEN</c> (403) for a non-admin, <c>NOT_FOUND</c>.</exception>
    public Task<AdminUser> EnableUserAsync(string userId, CancellationToken ct = default) =>
        SendAsync<AdminUser>(HttpMethod.Post, $"api/v1/admin/users/{Uri.EscapeDataString(userId)}/enable", null, ct);

    /// <summary><c>GET /api/v1/admin/agents</c> (permission <c>agent.manage.all</c>): every tenant's agents, optionally of one owner.</summary>
    /// <exception cref="HubApiException"><c>FORBIDDEN</c> (403) for a non-admin.</exception>
    public Task<AgentListResponse> ListAllAgentsAsync(string? ownerId = null, int? limit = null, int? offset = null, CancellationToken ct = default) =>
        SendAsync<AgentListResponse>(HttpMethod.Get, "api/v1/admin/agents" + Query(("owner_id", ownerId), ("limit", Str(limit)), ("offset", Str(offset))), null, ct);

    /// <summary><c>POST /api/v1/admin/keys/rotate</c> (permission <c>system.config.write</c>): a new signing key; the previous one keeps
    /// validating until the next rotation.</summary>
    /// <exception cref="HubApiException"><c>FORBIDDEN</c> (403) for a non-admin.</exception>
    public Task<KeyRotationResponse> RotateSigningKeyAsync(CancellationToken ct = default) =>
        SendAsync<KeyRotationResponse>(HttpMethod.Post, "api/v1/admin/keys/rotate", null, ct);

    /// <summary><c>GET /api/v1/audit</c> (permission <c>audit.read</c>): audit entries, newest first.</summary>
    /// <param name="query">Filters and page; null for the newest 50.</param>
    /// <param name="ct">Cancellation.</param>
    /// <exception cref="HubApiException"><c>FORBIDDEN</c> (403) for a non-admin, <c>VALIDATION_ERROR</c> when <c>from</c> is after <c>to</c>.</exception>
    public Task<AuditListResponse> GetAuditAsync(AuditQuery? query = null, CancellationToken ct = default)
    {
        query ??= new AuditQuery();
        return SendAsync<AuditListResponse>(HttpMethod.Get, "api/v1/audit" + Query(
            ("actor", query.Actor), ("action", query.Action), ("from", Iso(query.From)), ("to", Iso(query.To)),
            ("limit", Str(query.Limit)), ("offset", Str(query.Offset))), null, ct);
    }

    private static string? Iso(DateTimeOffset? value) =>
        value?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);

}

/// <summary>Filters of <c>GET /api/v1/audit</c>; every one is optional.</summary>
/// <param name="Actor">Actor id (user or agent id, or <c>cli</c>), 1 to 254 characters.</param>
/// <param name="Action">Action, for example <c>admin.user.role_changed</c> (see docs/security.md "Audit log").</param>
/// <param name="From">Entries at or after this time.</param>
/// <param name="To">Entries at or before this time.</param>
/// <param name="Limit">Page size, 1 to 100 (default 50).</param>
/// <param name="Offset">Entries to skip.</param>
public sealed record AuditQuery(string? Actor = null, string? Action = null, DateTimeOffset? From = null, DateTimeOffset? To = null, int? Limit = null, int? Offset = null);

