using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Auth;

/// <summary>
/// The bearer scheme: ASP.NET Core's JwtBearer handler, with <see cref="TokenService"/>'s <see cref="AccessTokenHandler"/> as its only
/// token handler and its pinned <see cref="TokenService.Parameters"/>. The token comes from <c>Authorization: Bearer</c>, or from
/// <c>?token=</c> on WebSocket upgrades (browsers cannot set headers there).
/// A missing or refused token on a route that requires one is a 401, a missing permission a 403; the error middleware
/// writes the envelope.
/// </summary>
internal static class BearerTokens
{
    public const string SchemeName = JwtBearerDefaults.AuthenticationScheme;

    /// <summary>The token of a request: the bearer header, else <c>?token=</c> on a WebSocket upgrade, else null.</summary>
    public static string? From(HttpContext context)
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

    /// <summary>Registers the token service and the JwtBearer scheme as the default scheme.</summary>
    public static IServiceCollection AddKaiBearerAuthentication(this IServiceCollection services)
    {
        services.AddSingleton<SessionRevocations>();
        services.AddSingleton<TokenService>();
        services.AddSingleton<IConfigureOptions<JwtBearerOptions>, ConfigureJwtBearer>();
        services.AddAuthentication(SchemeName).AddJwtBearer(SchemeName, _ => { });
        return services;
    }

    private sealed class ConfigureJwtBearer(TokenService tokens) : IConfigureNamedOptions<JwtBearerOptions>
    {
        public void Configure(string? name, JwtBearerOptions options)
        {
            if (name != SchemeName)
            {
                return;
            }
            options.TokenHandlers.Clear();
            options.TokenHandlers.Add(tokens.Handler);
            options.MapInboundClaims = false;
            options.TokenValidationParameters = tokens.Parameters;
            // No Authority or metadata: the keys are our own (SigningKeys), never fetched.
            options.RefreshOnIssuerKeyNotFound = false;
            // The reason a token was refused stays in the log, out of WWW-Authenticate.
            options.IncludeErrorDetails = false;
            options.Events = new JwtBearerEvents
            {
                OnMessageReceived = context =>
                {
                    context.Token = From(context.HttpContext);
                    return Task.CompletedTask;
                },
                OnTokenValidated = context =>
                {
                    if (context.HttpContext.WebSockets.IsWebSocketRequest && context.Principal is { } validated)
                    {
                        context.Principal = KaiPrincipal.Slim(validated, SchemeName);
                    }
                    return Task.CompletedTask;
                },
            };
        }

        public void Configure(JwtBearerOptions options) => Configure(Options.DefaultName, options);
    }
}
