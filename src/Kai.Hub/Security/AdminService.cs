using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Messaging;
using Kai.Hub.Storage;
using Kai.Protocol;

namespace Kai.Hub.Security;

/// <summary>User administration: roles, disabling, agent secret rotation and signing-key rotation. Every change is audited.</summary>
internal sealed class AdminService(
    IAuthStore store, IAgentStore agentStore, SessionRevocations revocations, ILiveSessions links, SigningKeys keys, AuditLog audit, TimeProvider time)
{
    public async Task<UserRecord> SetRoleAsync(HttpContext http, string userId, string? role, CancellationToken ct)
    {
        new Validation().Check(Roles.IsRole(role) && role != Roles.Agent, "role", "must be user, developer or admin").ThrowIfInvalid();
        var actor = http.Principal();
        var user = await UserAsync(userId, ct);
        if (user.UserId == actor.Id)
        {
            throw new ApiException(ErrorCodes.Conflict, "An admin cannot change their own role (another admin must).");
        }
        await store.SetUserRoleAsync(user.UserId, role!, ct);
        // Access tokens carry the role: end the user's sessions so the new role applies at once, upwards or downwards.
        await EndSessionsAsync(user.UserId, includeAgents: false, ct);
        await audit.WriteAsync(http, AuditActions.RoleChanged, user.UserId, AuditOutcomes.Success, new { from = user.Role, to = role });
        return user with { Role = role! };
    }

    public async Task<UserRecord> SetDisabledAsync(HttpContext http, string userId, bool disabled, CancellationToken ct)
    {
        var actor = http.Principal();
        var user = await UserAsync(userId, ct);
        if (user.UserId == actor.Id)
        {
            throw new ApiException(ErrorCodes.Conflict, "An admin cannot disable their own account.");
        }
        await store.SetUserDisabledAsync(user.UserId, disabled, ct);
        if (disabled)
        {
            await EndSessionsAsync(user.UserId, includeAgents: true, ct);
        }
        await audit.WriteAsync(http, disabled ? AuditActions.UserDisabled : AuditActions.UserEnabled, user.UserId, AuditOutcomes.Success, null);
        return user with { Disabled = disabled };
    }

    /// <summary>Issues a new client secret; the old one stops working, and so do the access tokens issued for it.</summary>
    public async Task<string> RotateAgentSecretAsync(HttpContext http, AgentRecord agent, CancellationToken ct)
    {
        var secret = "kas_" + TokenService.NewId(32);
        var now = time.GetUtcNow();
        await agentStore.SetAgentSecretAsync(agent.AgentId, TokenService.HashSecret(secret), now, ct);
        var oldSession = AuthService.AgentSessionId(agent.SecretHash);
        revocations.Revoke(oldSession);
        await store.RecordRevokedSessionAsync(oldSession, agent.OwnerId, now, now.AddDays(1), ct);
        links.CloseWhere(p => p.IsAgent && p.Id == agent.AgentId, CloseCodes.SessionExpired, "client secret rotated; reconnect with a new token");
        await audit.WriteAsync(http, AuditActions.SecretRotated, agent.AgentId, AuditOutcomes.Success, null);
        return secret;
    }

    public async Task<(string NewKid, string? RetiredKid)?> RotateKeysIfOlderThanAsync(TimeSpan age)
    {
        var result = keys.RotateIfOlderThan(age);
        if (result is { } r)
        {
            await audit.WriteAsync(null, null, AuditActions.KeysRotated, r.NewKid, AuditOutcomes.Success, null, new { retired = r.RetiredKid, scheduled = true });
        }
        return result;
    }

    public async Task<(string NewKid, string? RetiredKid)> RotateKeysAsync(HttpContext? http)
    {
        var result = keys.Rotate();
        await audit.WriteAsync(http, AuditActions.KeysRotated, result.NewKid, AuditOutcomes.Success, new { retired = result.RetiredKid });
        return result;
    }

    private async Task EndSessionsAsync(string userId, bool includeAgents, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        foreach (var sid in await store.RevokeUserSessionsAsync(userId, now, ct))
        {
            revocations.Revoke(sid);
        }
        if (includeAgents)
        {
            var (agents, _) = await agentStore.ListAgentsAsync(new AgentQuery(userId, null, null, null, 10_000, 0), ct);
            foreach (var agent in agents)
            {
                var sid = AuthService.AgentSessionId(agent.SecretHash);
                revocations.Revoke(sid);
                await store.RecordRevokedSessionAsync(sid, userId, now, now.AddDays(1), ct);
            }
        }
        // Live links hold a validated principal: close them too, rather than waiting for the token to expire.
        links.CloseWhere(p => p.Id == userId || (includeAgents && Access.IsTenant(p.OwnerId, userId)), CloseCodes.SessionExpired, "session revoked");
    }

    private async Task<UserRecord> UserAsync(string userId, CancellationToken ct) =>
        (userId.Length <= 64 ? await store.GetUserAsync(userId, ct) : null) ?? throw ApiException.NotFound($"User '{userId}'");
}
