using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Kai.Hub.Auth;

/// <summary>
/// Issues and validates access tokens: RS256 JWTs (RFC 7519) with <c>typ: at+jwt</c> (RFC 9068) and a <c>kid</c>.
/// Validation pins the algorithm, issuer, audience, type and key id, and allows at most the configured skew.
/// </summary>
internal sealed class TokenService(SigningKeys keys, IOptions<HubOptions> options, TimeProvider time, SessionRevocations revocations)
{
    public const string AccessTokenType = "at+jwt";
    private const int MaxTokenLength = 8 * 1024;
    private readonly AuthOptions _auth = options.Value.Auth;
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };

    public TimeSpan AccessLifetime => _auth.AccessTokenLifetime;

    public string IssueAccessToken(string subject, string role, string sessionId, string ownerId)
    {
        var now = time.GetUtcNow();
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = _auth.Issuer,
            Audience = _auth.Audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = now.Add(_auth.AccessTokenLifetime).UtcDateTime,
            SigningCredentials = new SigningCredentials(keys.Key, SecurityAlgorithms.RsaSha256),
            AdditionalHeaderClaims = new Dictionary<string, object> { [JwtHeaderParameterNames.Typ] = AccessTokenType },
            Claims = new Dictionary<string, object>
            {
                ["sub"] = subject,
                [KaiPrincipal.RoleClaim] = role,
                [KaiPrincipal.SessionClaim] = sessionId,
                [KaiPrincipal.OwnerClaim] = ownerId,
                ["jti"] = NewId(16),
            },
        };
        return _handler.CreateToken(descriptor);
    }

    /// <summary>Validates an access token; returns the principal, or null with the reason.</summary>
    public ClaimsPrincipal? Validate(string? token, out string? failure)
    {
        failure = null;
        // Only compact JWS (three parts). Rejecting JWE before the library sees it also closes
        // CVE-2024-21319 (compressed JWE denial of service) in Microsoft.IdentityModel 6.x.
        if (string.IsNullOrEmpty(token) || token.Length > MaxTokenLength || token.Count(c => c == '.') != 2)
        {
            failure = "malformed token";
            return null;
        }
        var parameters = new TokenValidationParameters
        {
            ValidIssuer = _auth.Issuer,
            ValidAudience = _auth.Audience,
            ValidAlgorithms = [SecurityAlgorithms.RsaSha256],
            ValidTypes = [AccessTokenType],
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateLifetime = true,
            ClockSkew = _auth.ClockSkew,
            LifetimeValidator = (notBefore, expires, _, p) =>
            {
                var now = time.GetUtcNow().UtcDateTime;
                return expires is { } exp && now <= exp + p.ClockSkew && (notBefore is not { } nbf || now >= nbf - p.ClockSkew);
            },
            // Only the key named by kid (current or previous): an unknown or missing kid fails instead of trying every key.
            IssuerSigningKeyResolver = (_, _, kid, _) => keys.Find(kid) is { } key ? [key] : [],
            NameClaimType = "sub",
            RoleClaimType = KaiPrincipal.RoleClaim,
        };
        var result = _handler.ValidateToken(token, parameters);
        if (!result.IsValid)
        {
            failure = result.Exception?.GetType().Name ?? "invalid token";
            return null;
        }
        var jwt = (JsonWebToken)result.SecurityToken;
        if (jwt.Alg != SecurityAlgorithms.RsaSha256 || jwt.Typ != AccessTokenType)
        {
            failure = "unexpected header";
            return null;
        }
        var sid = jwt.GetPayloadValue<string>(KaiPrincipal.SessionClaim);
        if (revocations.IsRevoked(sid))
        {
            failure = "session revoked";
            return null;
        }
        return new ClaimsPrincipal(result.ClaimsIdentity);
    }

    /// <summary>A URL-safe random string of <paramref name="bytes"/> bytes of entropy.</summary>
    public static string NewId(int bytes) => Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(bytes));

    /// <summary>SHA-256 of a high-entropy secret (refresh token, client secret), hex. Slow hashing adds nothing at 256 bits of entropy.</summary>
    public static string HashSecret(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    public static bool SecretMatches(string secret, string hash) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(HashSecret(secret)), Encoding.ASCII.GetBytes(hash));
}

/// <summary>Revoked sessions, kept in memory so logout invalidates access tokens at once without a database read per request.</summary>
internal sealed class SessionRevocations
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _revoked = new(StringComparer.Ordinal);

    public void Revoke(string sessionId) => _revoked.TryAdd(sessionId, 0);

    public bool IsRevoked(string? sessionId) => sessionId is not null && _revoked.ContainsKey(sessionId);
}
