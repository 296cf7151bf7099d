using System.Text.Encodings.Web;
using Kai.Protocol;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Auth;

/// <summary>
/// Reads <c>Authorization: Bearer</c>, or <c>?token=</c> on WebSocket upgrades (browsers cannot set headers there),
/// and validates it with <see cref="TokenService"/>.
/// </summary>
internal sealed class BearerAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, TokenService tokens)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Bearer";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var token = TokenFrom(Context);
        if (token is null)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }
        var principal = tokens.Validate(token, out var failure);
        return Task.FromResult(principal is null
            ? AuthenticateResult.Fail(failure ?? "invalid token")
            : AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName)));
    }

    public static string? TokenFrom(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return header["Bearer ".Length..].Trim();
        }
        if (context.WebSockets.IsWebSocketRequest && context.Request.Query.TryGetValue("token", out var q))
        {
            return q.ToString();
        }
        return null;
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer";
        throw new Errors.ApiException(ErrorCodes.AuthenticationFailed, "A valid bearer access token is required.");
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        throw new Errors.ApiException(ErrorCodes.Forbidden, "The principal lacks the permission this route requires.");
}
