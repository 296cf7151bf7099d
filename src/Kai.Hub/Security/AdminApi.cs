using Kai.Hub.Agents;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Storage;
using Kai.Protocol.Rest;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Kai.Hub.Security;

/// <summary>Administration (admin role) and the audit log. There are no routes that change or delete audit entries.</summary>
internal static class AdminApi
{
    public static RouteGroupBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/audit", ListAuditAsync).WithName("listAudit").WithSummary("The audit log, filtered by time, actor and action").WithTags("Admin").RequirePermission(Permissions.AuditRead);
        var api = app.MapGroup("/api/v1/admin").WithTags("Admin");
        api.MapGet("/users", ListUsersAsync).WithName("listUsers").WithSummary("List user accounts").RequirePermission(Permissions.UserManage);
        api.MapPut("/users/{userId}/role", SetRoleAsync).WithName("setUserRole").WithSummary("Change a user's role").WithErrors(409).RequirePermission(Permissions.UserManage);
        api.MapPost("/users/{userId}/disable", DisableAsync).WithName("disableUser").WithSummary("Disable a user account and revoke its sessions").WithErrors(409).RequirePermission(Permissions.UserManage);
        api.MapPost("/users/{userId}/enable", EnableAsync).WithName("enableUser").WithSummary("Enable a user account").RequirePermission(Permissions.UserManage);
        api.MapPost("/keys/rotate", RotateKeysAsync).WithName("rotateSigningKeys").WithSummary("Rotate the token signing key (the previous key stays listed)").RequirePermission(Permissions.SystemConfigWrite);
        return api;
    }

    private static async Task<Ok<UserListResponse>> ListUsersAsync(IAuthStore store, int? limit, int? offset, CancellationToken ct)
    {
        var (l, o) = Page(limit, offset);
        var (items, total) = await store.ListUsersAsync(l, o, ct);
        return TypedResults.Ok(new UserListResponse(items.Select(AdminViews.From).ToList(), total, new Pagination(l, o, total, o + items.Count < total)));
    }

    private static async Task<Ok<AdminUser>> SetRoleAsync(string userId, SetRoleRequest request, HttpContext http, AdminService admin, CancellationToken ct) =>
        TypedResults.Ok(AdminViews.From(await admin.SetRoleAsync(http, userId, request.Role, ct)));

    private static async Task<Ok<AdminUser>> DisableAsync(string userId, HttpContext http, AdminService admin, CancellationToken ct) =>
        TypedResults.Ok(AdminViews.From(await admin.SetDisabledAsync(http, userId, true, ct)));

    private static async Task<Ok<AdminUser>> EnableAsync(string userId, HttpContext http, AdminService admin, CancellationToken ct) =>
        TypedResults.Ok(AdminViews.From(await admin.SetDisabledAsync(http, userId, false, ct)));

    private static async Task<Ok<KeyRotationResponse>> RotateKeysAsync(HttpContext http, AdminService admin)
    {
        var (kid, retired) = await admin.RotateKeysAsync(http);
        return TypedResults.Ok(new KeyRotationResponse(kid, retired));
    }

    private static async Task<Ok<AuditListResponse>> ListAuditAsync(
        IAuditStore store, string? actor, string? action, DateTimeOffset? from, DateTimeOffset? to, int? limit, int? offset, CancellationToken ct)
    {
        var (l, o) = Page(limit, offset);
        new Validation().Length(actor, "actor", 1, 254, required: false).Length(action, "action", 1, 64, required: false)
            .Check(from is null || to is null || from <= to, "from", "must not be after to").ThrowIfInvalid();
        var (items, total) = await store.ListAuditAsync(new AuditQuery(actor, action, from, to, l, o), ct);
        return TypedResults.Ok(new AuditListResponse(items.Select(AdminViews.From).ToList(), total, new Pagination(l, o, total, o + items.Count < total)));
    }

    /// <summary>Page sizes are capped at 100 on every list route.</summary>
    internal static (int Limit, int Offset) Page(int? limit, int? offset)
    {
        new Validation()
            .Check(limit is null or (>= 1 and <= 100), "limit", "must be 1 to 100")
            .Check(offset is null or (>= 0 and <= 1_000_000), "offset", "must be 0 to 1000000")
            .ThrowIfInvalid();
        return (limit ?? 50, offset ?? 0);
    }
}

internal static class AdminViews
{
    public static AdminUser From(UserRecord u) => new(u.UserId, u.Email, u.DisplayName, u.Role, u.Disabled, u.CreatedAt);

    public static AuditEntry From(AuditRecord r)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(r.DetailsJson);
        return new(r.AuditId, r.At, r.ActorId, r.ActorRole, r.Action, r.Target, r.Outcome, r.Ip, doc.RootElement.Clone());
    }
}
