using Kai.Hub.Errors;
using Kai.Protocol;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Security;

/// <summary>
/// Response hardening and the browser-origin gate, in one middleware placed before routing-dependent work:
/// <list type="bullet">
/// <item><c>X-Content-Type-Options: nosniff</c>, <c>X-Frame-Options: DENY</c>, <c>Referrer-Policy: no-referrer</c> on every response;
/// <c>Content-Security-Policy: default-src 'none'; frame-ancestors 'none'</c> and <c>Cache-Control: no-store</c> on API answers
/// (the docs pages get only <c>frame-ancestors 'none'</c>, so Swagger UI and ReDoc keep working; the dashboard under <c>/ui</c> gets
/// <see cref="DashboardPolicy"/>); HSTS on HTTPS.</item>
/// <item>A WebSocket upgrade that carries an <c>Origin</c> not in <see cref="SecurityOptions.AllowedOrigins"/> is refused with 403
/// before the upgrade (cross-site WebSocket hijacking), unless it is the hub's own origin. Clients that send no <c>Origin</c> (agents, CLIs) are not browsers and pass.</item>
/// </list>
/// </summary>
internal sealed class SecurityHeadersMiddleware(RequestDelegate next, IOptions<SecurityOptions> options, AuditLog audit)
{
    private readonly SecurityOptions _o = options.Value;
    private readonly HashSet<string> _origins = new(options.Value.AllowedOrigins.Select(o => o.TrimEnd('/')), StringComparer.OrdinalIgnoreCase);

    public async Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path;
        // On start, not now: the error envelope is written after a Response.Clear(), which would drop headers set here.
        context.Response.OnStarting(static state =>
        {
            var (ctx, hsts) = ((HttpContext, bool))state;
            if (ctx.Response.StatusCode == StatusCodes.Status101SwitchingProtocols)
            {
                // An accepted WebSocket upgrade has no content for these to govern, and its response headers live as long as the link.
                return Task.CompletedTask;
            }
            var headers = ctx.Response.Headers;
            var p = ctx.Request.Path;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "no-referrer";
            var isDocs = p.StartsWithSegments("/docs") || p.StartsWithSegments("/redoc");
            var isDashboard = p.StartsWithSegments(DashboardPath);
            headers.ContentSecurityPolicy = isDocs ? "frame-ancestors 'none'" : isDashboard ? DashboardPolicy : "default-src 'none'; frame-ancestors 'none'";
            if (!isDocs && !p.StartsWithSegments("/.well-known") && !(isDashboard && headers.CacheControl.Count > 0))
            {
                headers.CacheControl = "no-store";
            }
            if (ctx.Request.IsHttps && hsts)
            {
                headers.StrictTransportSecurity = "max-age=31536000; includeSubDomains";
            }
            return Task.CompletedTask;
        }, (context, _o.Hsts));
        if (context.WebSockets.IsWebSocketRequest && context.Request.Headers.Origin is { Count: > 0 } origin && !IsAllowedOrigin(origin.ToString())
            && !IsSameOrigin(context.Request, origin.ToString()))
        {
            await audit.WriteAsync(context, AuditActions.OriginRefused, path, AuditOutcomes.Denied, new { origin = origin.ToString()[..Math.Min(200, origin.ToString().Length)] });
            throw new ApiException(ErrorCodes.Forbidden, "This Origin may not open WebSockets on this hub.", new Dictionary<string, string> { ["reason"] = "origin_not_allowed" });
        }
        await next(context);
    }

    public bool IsAllowedOrigin(string origin) => _origins.Contains(origin.TrimEnd('/'));

    /// <summary>
    /// The hub's own pages (the web dashboard at <see cref="DashboardPath"/>) open <c>/ws</c> from the hub's own origin: an
    /// <c>Origin</c> equal to this request's scheme and host is not cross-site. (Tokens travel in the query, never in cookies,
    /// so even a rebinding host name gains nothing without the user's token.)
    /// </summary>
    private static bool IsSameOrigin(HttpRequest request, string origin) =>
        string.Equals(origin.TrimEnd('/'), $"{request.Scheme}://{request.Host.Value}", StringComparison.OrdinalIgnoreCase);

    /// <summary>Where the web dashboard is served (Dashboard/DashboardEndpoints.cs).</summary>
    public const string DashboardPath = "/ui";

    /// <summary>
    /// The dashboard's policy: its own scripts, styles and images only (no inline code, no eval), fetch and WebSocket to the
    /// hub itself, no framing, no plugins, no base-URI changes, forms post only to the hub.
    /// </summary>
    public const string DashboardPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
}

internal static class SecurityHeadersExtensions
{
    public const string CorsPolicy = "kai";

    public static IServiceCollection AddKaiSecurity(this IServiceCollection services)
    {
        services.AddOptions<SecurityOptions>().BindConfiguration(SecurityOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddCors();
        services.AddOptions<Microsoft.AspNetCore.Cors.Infrastructure.CorsOptions>().Configure<IOptions<SecurityOptions>>((cors, security) =>
            cors.AddPolicy(CorsPolicy, p =>
            {
                // Default: no origin is allowed, so browsers refuse cross-origin calls. Bearer tokens, not cookies, so no credentials.
                p.WithOrigins([.. security.Value.AllowedOrigins.Select(o => o.TrimEnd('/'))])
                    .WithMethods("GET", "POST", "PUT", "PATCH", "DELETE")
                    .WithHeaders("Authorization", "Content-Type", "Idempotency-Key", "X-Correlation-Id", "traceparent")
                    .WithExposedHeaders("X-Correlation-Id", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After")
                    .SetPreflightMaxAge(TimeSpan.FromMinutes(10));
            }));
        services.AddKaiRateLimiting();
        services.AddSingleton<AuditLog>();
        services.AddSingleton<LoginThrottle>();
        services.AddSingleton<WebSocketGate>();
        services.AddSingleton<AdminService>();
        services.AddSingleton<Auth.MailSender>();
        services.AddSingleton<Auth.MagicLinks>();
        services.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationMiddlewareResultHandler, Auth.AuditingAuthorizationResultHandler>();
        services.AddHostedService<KeyRotationService>();
        return services;
    }

    public static IApplicationBuilder UseKaiSecurityHeaders(this IApplicationBuilder app) => app.UseMiddleware<SecurityHeadersMiddleware>();
}
