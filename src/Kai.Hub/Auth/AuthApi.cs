using Kai.Hub.Errors;
using Kai.Hub.Security;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.ModelBinding;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Auth;

internal static class AuthApi
{
    /// <summary>The refresh-token cookie (when <see cref="SecurityOptions.RefreshTokenCookie"/> is on): HTTP-only, Secure, SameSite=Strict, path-scoped.</summary>
    public const string RefreshCookie = "kai_refresh";
    private const string CookiePath = "/api/v1/auth";

    public static RouteGroupBuilder MapAuthApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/.well-known/jwks.json", Jwks).WithName("getJwks").WithSummary("The public keys that verify access tokens (JWKS, RFC 7517)").WithTags("Auth").AllowAnonymous("public keys that verify access tokens (RFC 7517)");
        // Credentials and ids only: a 16 KiB body limit per route instead of the hub-wide 1 MiB.
        var api = app.MapGroup("/api/v1/auth").WithTags("Auth").WithBodyLimit(BodyLimitExtensions.Small);
        api.MapPost("/register", RegisterAsync).WithName("registerUser").WithSummary("Create a user account").WithErrors(409).AllowAnonymous("creates an account").RequireRateLimiting(RateLimitCategories.Auth);
        api.MapPost("/login", LoginAsync).WithName("login").WithSummary("Log in with email and password; returns access and refresh tokens").WithErrors(401, 403).AllowAnonymous("exchanges a password for a session").RequireRateLimiting(RateLimitCategories.Auth);
        api.MapPost("/magic-link", MagicLinkAsync).WithName("requestMagicLink").WithSummary("Mail a sign-in link (the same answer for every email)").AllowAnonymous("mails a sign-in link; same answer for every email").RequireRateLimiting(RateLimitCategories.Auth);
        api.MapPost("/verify-magic", VerifyMagicAsync).WithName("verifyMagicLink").WithSummary("Exchange a magic-link token for a session").WithErrors(401).AllowAnonymous("exchanges a magic-link token for a session").RequireRateLimiting(RateLimitCategories.TokenVerify);
        api.MapPost("/refresh", RefreshAsync).WithName("refreshTokens").WithSummary("Exchange a refresh token for new tokens (rotation)").WithErrors(401).AllowAnonymous("exchanges a refresh token (the credential) for new tokens").RequireRateLimiting(RateLimitCategories.TokenVerify);
        api.MapPost("/token", TokenAsync).WithName("issueAgentToken").WithSummary("OAuth 2.0 client credentials: exchange an agent's client id and secret for an access token").WithErrors(400, 401, 413, 415)
            .Accepts<AgentTokenForm>("application/x-www-form-urlencoded").AllowAnonymous("OAuth client_credentials: the client secret is the credential")
            .RequireRateLimiting(RateLimitCategories.TokenVerify).DisableAntiforgery();
        api.MapPost("/logout", LogoutAsync).WithName("logout").WithSummary("End the current session and revoke its tokens").RequirePermission(Permissions.SessionSelf);
        api.MapGet("/session", Session).WithName("getSession").WithSummary("The current principal and session").RequirePermission(Permissions.SessionSelf);
        return api;
    }

    private static Ok<object> Jwks(SigningKeys keys, HttpContext http)
    {
        // Public keys may be cached briefly by verifiers; rotation keeps the previous key listed, so a short cache is safe.
        http.Response.Headers.CacheControl = "public, max-age=300";
        return TypedResults.Ok(keys.Jwks());
    }

    private static async Task<Created<RegisterResponse>> RegisterAsync(RegisterRequest request, AuthService auth, CancellationToken ct)
    {
        var result = await auth.RegisterAsync(request, ct);
        return TypedResults.Created($"/api/v1/users/{result.UserId}", result);
    }

    private static async Task<Ok<TokenResponse>> LoginAsync(LoginRequest request, HttpContext http, AuthService auth, IOptions<SecurityOptions> security, CancellationToken ct)
    {
        try
        {
            return TypedResults.Ok(WithCookie(http, security.Value, await auth.LoginAsync(request, http.Connection.RemoteIpAddress?.ToString(), ct)));
        }
        catch (LockedOutException ex)
        {
            var seconds = KaiRateLimits.SetRetryAfter(http, ex.Wait);
            throw new ApiException(ErrorCodes.RateLimitExceeded, $"Too many failed logins; retry after {seconds} s.",
                new Dictionary<string, object> { ["retry_after"] = seconds });
        }
    }

    /// <summary>Always 202 with the same body: whether a mail was sent is not disclosed.</summary>
    private static async Task<Accepted<MagicLinkResponse>> MagicLinkAsync(MagicLinkRequest request, HttpContext http, MagicLinks links, CancellationToken ct)
    {
        await links.RequestAsync(http, request.Email, ct);
        return TypedResults.Accepted((string?)null, new MagicLinkResponse(true, "If an account exists for this address, a sign-in link is on its way."));
    }

    private static async Task<Ok<TokenResponse>> VerifyMagicAsync(VerifyMagicRequest request, HttpContext http, MagicLinks links, IOptions<SecurityOptions> security, CancellationToken ct) =>
        TypedResults.Ok(WithCookie(http, security.Value, await links.VerifyAsync(http, request.MagicToken, ct)));

    private static async Task<Ok<TokenResponse>> RefreshAsync(
        [FromBody(EmptyBodyBehavior = EmptyBodyBehavior.Allow)] RefreshRequest? request, HttpContext http, AuthService auth, IOptions<SecurityOptions> security, CancellationToken ct)
    {
        var token = request?.RefreshToken;
        if (string.IsNullOrEmpty(token) && security.Value.RefreshTokenCookie)
        {
            token = http.Request.Cookies[RefreshCookie];
        }
        return TypedResults.Ok(WithCookie(http, security.Value, await auth.RefreshAsync(new RefreshRequest(token!), ct)));
    }

    /// <summary>OAuth 2.0 token endpoint, <c>client_credentials</c> grant only (RFC 6749 §4.4); credentials in the form or in HTTP Basic (§2.3.1).</summary>
    private static async Task<Ok<ClientTokenResponse>> TokenAsync(HttpContext context, AuthService auth, CancellationToken ct)
    {
        if (!context.Request.HasFormContentType)
        {
            throw new ApiException(ErrorCodes.UnsupportedMediaType, "Send application/x-www-form-urlencoded (RFC 6749 §4.4.2).");
        }
        var form = await context.Request.ReadFormAsync(ct);
        string? clientId = form["client_id"], clientSecret = form["client_secret"];
        var basic = context.Request.Headers.Authorization.ToString();
        if (basic.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                var pair = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(basic[6..].Trim())).Split(':', 2);
                if (pair.Length == 2)
                {
                    (clientId, clientSecret) = (Uri.UnescapeDataString(pair[0]), Uri.UnescapeDataString(pair[1]));
                }
            }
            catch (FormatException)
            {
                throw new ApiException(ErrorCodes.AuthenticationFailed, "The Basic credentials are not valid base64.");
            }
        }
        return TypedResults.Ok(await auth.ClientCredentialsAsync(form["grant_type"], clientId, clientSecret, ct));
    }

    /// <summary>Revokes the session: its access tokens at once, and its whole refresh-token family.</summary>
    private static async Task<Ok<LogoutResponse>> LogoutAsync(HttpContext context, AuthService auth, AuditLog audit, IOptions<SecurityOptions> security, CancellationToken ct)
    {
        var principal = context.Principal();
        await auth.RevokeAsync(principal.SessionId, ct);
        await audit.WriteAsync(context, AuditActions.Logout, principal.SessionId, AuditOutcomes.Success, null);
        if (security.Value.RefreshTokenCookie)
        {
            context.Response.Cookies.Delete(RefreshCookie, CookieOptions(context));
        }
        return TypedResults.Ok(new LogoutResponse(true));
    }

    private static Ok<SessionInfo> Session(HttpContext context)
    {
        var p = context.Principal();
        return TypedResults.Ok(new SessionInfo(p.Id, p.SessionId, p.ExpiresAt, Roles.PermissionsOf(p.Role), p.Role));
    }

    private static TokenResponse WithCookie(HttpContext http, SecurityOptions security, TokenResponse tokens)
    {
        if (security.RefreshTokenCookie)
        {
            var options = CookieOptions(http);
            options.MaxAge = TimeSpan.FromDays(30);
            http.Response.Cookies.Append(RefreshCookie, tokens.RefreshToken, options);
        }
        return tokens;
    }

    private static CookieOptions CookieOptions(HttpContext http) => new()
    {
        HttpOnly = true,
        Secure = true,
        SameSite = SameSiteMode.Strict,
        Path = CookiePath,
        IsEssential = true,
    };
}

