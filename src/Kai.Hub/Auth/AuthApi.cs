using Kai.Hub.Errors;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Kai.Hub.Auth;

internal static class AuthApi
{
    public static RouteGroupBuilder MapAuthApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/auth").WithTags("Auth");
        api.MapPost("/register", RegisterAsync).AllowAnonymous();
        api.MapPost("/login", LoginAsync).AllowAnonymous();
        api.MapPost("/refresh", RefreshAsync).AllowAnonymous();
        api.MapPost("/token", TokenAsync).AllowAnonymous().DisableAntiforgery();
        api.MapPost("/logout", LogoutAsync).RequireAuthorization();
        api.MapGet("/session", Session).RequireAuthorization();
        return api;
    }

    private static async Task<Created<RegisterResponse>> RegisterAsync(RegisterRequest request, AuthService auth, CancellationToken ct)
    {
        var result = await auth.RegisterAsync(request, ct);
        return TypedResults.Created($"/api/v1/users/{result.UserId}", result);
    }

    private static async Task<Ok<TokenResponse>> LoginAsync(LoginRequest request, AuthService auth, CancellationToken ct) =>
        TypedResults.Ok(await auth.LoginAsync(request, ct));

    private static async Task<Ok<TokenResponse>> RefreshAsync(RefreshRequest request, AuthService auth, CancellationToken ct) =>
        TypedResults.Ok(await auth.RefreshAsync(request, ct));

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

    private static async Task<Ok<LogoutResponse>> LogoutAsync(HttpContext context, AuthService auth, CancellationToken ct)
    {
        await auth.RevokeAsync(context.Principal().SessionId, ct);
        return TypedResults.Ok(new LogoutResponse(true));
    }

    private static Ok<SessionInfo> Session(HttpContext context)
    {
        var p = context.Principal();
        return TypedResults.Ok(new SessionInfo(p.Id, p.SessionId, p.ExpiresAt, Roles.PermissionsOf(p.Role), p.Role));
    }
}
