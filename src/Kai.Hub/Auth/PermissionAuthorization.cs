using Kai.Hub.Security;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Auth;

/// <summary>
/// The one place permissions are enforced: a route declares <c>.RequirePermission("agent.create")</c>, which
/// becomes the policy <c>perm:agent.create</c>; the handler checks the principal's role grants it.
/// Ownership of the object is checked by the capability's access service (for agents, <see cref="Agents.AgentAccess"/>).
/// A route that needs no token declares <c>.AllowAnonymous(reason)</c>; a route that declares neither fails the route inventory
/// test (RouteInventoryTests). No fallback policy: it would also apply to unknown paths and the docs middleware.
/// </summary>
internal sealed class PermissionRequirement(string permission) : IAuthorizationRequirement
{
    public string Permission { get; } = permission;
}

/// <summary>Endpoint metadata: the permission a route requires (read by the route inventory test and by docs).</summary>
internal sealed record RequiredPermission(string Permission);

/// <summary>Endpoint metadata: why a route is open without a token.</summary>
internal sealed record AnonymousReason(string Reason);

internal sealed class PermissionHandler : AuthorizationHandler<PermissionRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, PermissionRequirement requirement)
    {
        if (KaiPrincipal.From(context.User) is { } p && p.Can(requirement.Permission))
        {
            context.Succeed(requirement);
        }
        return Task.CompletedTask;
    }
}

internal sealed class PermissionPolicyProvider(IOptions<AuthorizationOptions> options) : DefaultAuthorizationPolicyProvider(options)
{
    public const string Prefix = "perm:";

    public override async Task<AuthorizationPolicy?> GetPolicyAsync(string policyName)
    {
        if (policyName.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return new AuthorizationPolicyBuilder(BearerTokens.SchemeName)
                .RequireAuthenticatedUser()
                .AddRequirements(new PermissionRequirement(policyName[Prefix.Length..]))
                .Build();
        }
        return await base.GetPolicyAsync(policyName);
    }
}

internal static class PermissionExtensions
{
    /// <summary>Requires an authenticated principal whose role grants <paramref name="permission"/>.</summary>
    public static TBuilder RequirePermission<TBuilder>(this TBuilder builder, string permission) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(PermissionPolicyProvider.Prefix + permission).WithMetadata(new RequiredPermission(permission));

    /// <summary>Opens the route without a token, saying why (the route inventory test requires a reason).</summary>
    public static TBuilder AllowAnonymous<TBuilder>(this TBuilder builder, string reason) where TBuilder : IEndpointConventionBuilder =>
        builder.AllowAnonymous().WithMetadata(new AnonymousReason(reason));
}

/// <summary>Audits 403s decided by the permission policies (the handler's Forbid path).</summary>
internal sealed class AuditingAuthorizationResultHandler(AuditLog audit) : IAuthorizationMiddlewareResultHandler
{
    private readonly Microsoft.AspNetCore.Authorization.Policy.AuthorizationMiddlewareResultHandler _default = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, Microsoft.AspNetCore.Authorization.Policy.PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Forbidden)
        {
            var required = policy.Requirements.OfType<PermissionRequirement>().Select(r => r.Permission).FirstOrDefault();
            await audit.WriteAsync(context, AuditActions.PermissionDenied, $"{context.Request.Method} {context.Request.Path}", AuditOutcomes.Denied,
                new { permission = required });
        }
        await _default.HandleAsync(next, context, policy, authorizeResult);
    }
}

/// <summary>Endpoint metadata that lowers the request body limit of one route (routing applies it before the body is read; over it: 413).</summary>
internal sealed record BodyLimit(long? MaxRequestBodySize) : Microsoft.AspNetCore.Http.Metadata.IRequestSizeLimitMetadata;

internal static class BodyLimitExtensions
{
    /// <summary>Small JSON bodies (credentials, ids): 16 KiB.</summary>
    public const long Small = 16 * 1024;

    public static TBuilder WithBodyLimit<TBuilder>(this TBuilder builder, long bytes) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new BodyLimit(bytes));
}
