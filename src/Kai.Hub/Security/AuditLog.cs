using System.Text.Json;
using Kai.Hub.Auth;
using Kai.Hub.Storage;
using Kai.Protocol;

namespace Kai.Hub.Security;

/// <summary>Audit actions (stable strings; filter on them with <c>GET /api/v1/audit?action=</c>).</summary>
internal static class AuditActions
{
    public const string LoginSucceeded = "auth.login.succeeded";
    public const string LoginFailed = "auth.login.failed";
    public const string LoginLockedOut = "auth.login.locked_out";
    public const string Logout = "auth.logout";
    public const string RefreshReuse = "auth.refresh.reuse";
    public const string ClientAuthFailed = "auth.client.failed";
    public const string MagicLinkRequested = "auth.magic_link.requested";
    public const string MagicLinkUsed = "auth.magic_link.used";
    public const string MagicLinkRejected = "auth.magic_link.rejected";
    public const string PermissionDenied = "access.permission_denied";
    public const string OriginRefused = "access.origin_refused";
    public const string RoleChanged = "admin.user.role_changed";
    public const string UserDisabled = "admin.user.disabled";
    public const string UserEnabled = "admin.user.enabled";
    public const string UserCreated = "admin.user.created";
    public const string KeysRotated = "admin.keys.rotated";
    public const string ConfigChanged = "admin.config.changed";
    public const string AgentCreated = "agent.created";
    public const string AgentDeleted = "agent.deleted";
    public const string SecretRotated = "agent.secret_rotated";
}

internal static class AuditOutcomes
{
    public const string Success = "success";
    public const string Failure = "failure";
    public const string Denied = "denied";
}

/// <summary>
/// Writes the append-only audit log. Each write is committed before the request answers, so an audited action that returned is on disk.
/// Details never carry secrets: only ids, reasons and counts.
/// </summary>
internal sealed class AuditLog(IAuditStore store, TimeProvider time)
{
    // No cancellation token on purpose: an audited action is recorded even when the caller has gone away.
    public Task WriteAsync(HttpContext? http, string action, string? target, string outcome, object? details)
    {
        var principal = http is null ? null : KaiPrincipal.From(http.User);
        return WriteAsync(principal?.Id, principal?.Role, action, target, outcome, http?.Connection.RemoteIpAddress?.ToString(), details);
    }

    public Task WriteAsync(string? actorId, string? actorRole, string action, string? target, string outcome, string? ip, object? details) =>
        store.AppendAuditAsync(new AuditRecord(0, "aud_" + Guid.CreateVersion7().ToString("N"), time.GetUtcNow(), actorId, actorRole, action, target, outcome, ip,
            details is null ? "{}" : JsonSerializer.Serialize(details, KaiJson.Options)), CancellationToken.None);
}
