using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Kai.Hub.Auth;

/// <summary>
/// Issues and validates access tokens: RS256 JWTs (RFC 7519) with <c>typ: at+jwt</c> (RFC 9068) and a <c>kid</c>.
/// Validation is Microsoft.IdentityModel.JsonWebTokens 8.x (<see cref="AccessTokenHandler"/>), the same handler instance the
/// ASP.NET Core JwtBearer scheme uses for REST, so REST, <c>/ws</c>, <c>/ws/agents/{id}</c> and SSE accept exactly the same tokens.
/// It pins the algorithm, issuer, audience, type and key id, allows at most the configured skew, and then checks our own claim
/// contract (see <see cref="AccessTokenHandler"/>).
/// </summary>
internal sealed class TokenService
{
    public const string AccessTokenType = "at+jwt";
    public const int MaxTokenLength = 8 * 1024;
    private readonly SigningKeys _keys;
    private readonly TimeProvider _time;
    private readonly AuthOptions _auth;
    private readonly JsonWebTokenHandler _issuer = new() { SetDefaultTimesOnTokenCreation = false };

    public TokenService(SigningKeys keys, IOptions<HubOptions> options, TimeProvider time, SessionRevocations revocations)
    {
        _keys = keys;
        _time = time;
        _auth = options.Value.Auth;
        Handler = new AccessTokenHandler(time, _auth.ClockSkew, revocations, keys);
        Parameters = new TokenValidationParameters
        {
            ValidIssuer = _auth.Issuer,
            ValidAudience = _auth.Audience,
            ValidAlgorithms = [SecurityAlgorithms.RsaSha256],
            ValidTypes = [AccessTokenType],
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateLifetime = true,
            ClockSkew = _auth.ClockSkew,
            // On the hub's TimeProvider, so tests drive expiry with a fake clock.
            LifetimeValidator = (notBefore, expires, _, p) =>
            {
                var now = time.GetUtcNow().UtcDateTime;
                return expires is { } exp && now <= exp + p.ClockSkew && (notBefore is not { } nbf || now >= nbf - p.ClockSkew);
            },
            // Only the key named by kid (current or previous): an unknown or missing kid fails instead of trying every key.
            IssuerSigningKeyResolver = (_, _, kid, _) => keys.Find(kid) is { } key ? [key] : [],
            TryAllIssuerSigningKeys = false,
            NameClaimType = "sub",
            RoleClaimType = KaiPrincipal.RoleClaim,
        };
    }

    /// <summary>The validating handler (also registered as the JwtBearer scheme's only token handler).</summary>
    public AccessTokenHandler Handler { get; }

    /// <summary>The pinned validation parameters (also the JwtBearer scheme's).</summary>
    public TokenValidationParameters Parameters { get; }

    public TimeSpan AccessLifetime => _auth.AccessTokenLifetime;

    public string IssueAccessToken(string subject, string role, string sessionId, string ownerId)
    {
        var now = _time.GetUtcNow();
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = _auth.Issuer,
            Audience = _auth.Audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = now.Add(_auth.AccessTokenLifetime).UtcDateTime,
            SigningCredentials = new SigningCredentials(_keys.Key, SecurityAlgorithms.RsaSha256),
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
        return _issuer.CreateToken(descriptor);
    }

    /// <summary>Validates an access token (the WebSocket edges and SSE, which authenticate after the upgrade); returns the principal, or
    /// null with the reason. Never throws for any input.</summary>
    public ClaimsPrincipal? Validate(string? token, out string? failure)
    {
        // The handler has no awaits that do not complete synchronously here: no configuration manager, keys resolved in memory.
        var result = Handler.ValidateTokenAsync(token ?? "", Parameters).GetAwaiter().GetResult();
        if (!result.IsValid)
        {
            failure = result.Exception?.Message ?? "invalid token";
            return null;
        }
        failure = null;
        return new ClaimsPrincipal(result.ClaimsIdentity);
    }

    /// <summary>A URL-safe random string of <paramref name="bytes"/> bytes of entropy.</summary>
    public static string NewId(int bytes) => Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(bytes));

    /// <summary>SHA-256 of a high-entropy secret (refresh token, client secret), hex. Slow hashing adds nothing at 256 bits of entropy.</summary>
    public static string HashSecret(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    public static bool SecretMatches(string secret, string hash) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(HashSecret(secret)), Encoding.ASCII.GetBytes(hash));
}

/// <summary>
/// The library's <see cref="JsonWebTokenHandler"/> plus what it does not check and our tokens promise:
/// <list type="bullet">
/// <item>only compact JWS of at most <see cref="TokenService.MaxTokenLength"/> characters (never JWE);</item>
/// <item>no <c>crit</c> header: we understand no extension, so RFC 7515 §4.1.11 says refuse;</item>
/// <item><c>exp</c>, <c>iat</c> (and <c>nbf</c> when present) are JSON numbers (RFC 7519 §2 NumericDate), <c>iat</c> is not in the future
/// beyond the skew;</item>
/// <item><c>sub</c> and <c>sid</c> are non-empty strings, <c>owner</c> a string when present, <c>role</c> one of <see cref="Roles.All"/>;</item>
/// <item>the session (<c>sid</c>) is not revoked (logout, secret rotation, agent deletion, user disabled).</item>
/// </list>
/// Every refusal is an invalid result with a short reason, never an exception to the caller.
/// </summary>
internal sealed class AccessTokenHandler : JsonWebTokenHandler
{
    // Tokens that passed every check, by their exact text. A client sends the same token with every request for its 15-minute life;
    // verifying the RS256 signature and parsing the claims again each time was a tenth of the hub's CPU per REST read (S4). A hit
    // still checks what can change after the first validation: expiry against the clock, the session's revocation, and that the key
    // that signed it has not been retired. Bounded: when full it is emptied (the next requests validate in full again).
    private const int RecentCapacity = 2048;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Validated> _recent = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly TimeSpan _skew;
    private readonly SessionRevocations _revocations;
    private readonly SigningKeys _keys;

    public AccessTokenHandler(TimeProvider time, TimeSpan skew, SessionRevocations revocations, SigningKeys keys)
    {
        _time = time;
        _skew = skew;
        _revocations = revocations;
        _keys = keys;
        MaximumTokenSizeInBytes = TokenService.MaxTokenLength;
        MapInboundClaims = false;
    }

    private sealed record Validated(JsonWebToken Token, ClaimsIdentity Identity, DateTime Expires, string SessionId);

    /// <summary>Validates with the pinned parameters of <see cref="TokenService"/> (the only ones this handler is given).</summary>
    public override async Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
    {
        if (token is not null && _recent.TryGetValue(token, out var seen))
        {
            if (_time.GetUtcNow().UtcDateTime <= seen.Expires + _skew && !_revocations.IsRevoked(seen.SessionId) && _keys.Find(seen.Token.Kid) is not null)
            {
                // A copy of the identity: a request may add to its own principal without touching another request's.
                return new TokenValidationResult { IsValid = true, SecurityToken = seen.Token, ClaimsIdentity = seen.Identity.Clone() };
            }
            _recent.TryRemove(token, out _);
        }
        var result = await ValidateUncachedAsync(token!, validationParameters);
        if (result.IsValid && result.SecurityToken is JsonWebToken jwt && jwt.TryGetPayloadValue<string>(KaiPrincipal.SessionClaim, out var sid))
        {
            if (_recent.Count >= RecentCapacity)
            {
                _recent.Clear();
            }
            _recent[token!] = new Validated(jwt, result.ClaimsIdentity.Clone(), jwt.ValidTo, sid);
        }
        return result;
    }

    private async Task<TokenValidationResult> ValidateUncachedAsync(string token, TokenValidationParameters validationParameters)
    {
        // Only compact JWS (three parts). Rejecting JWE before the library sees it keeps decompression and decryption out of reach.
        if (string.IsNullOrEmpty(token) || token.Length > TokenService.MaxTokenLength || token.Count(c => c == '.') != 2)
        {
            return Refused("malformed token");
        }
        TokenValidationResult result;
        try
        {
            result = await base.ValidateTokenAsync(token, validationParameters);
        }
        catch (Exception ex) when (ex is ArgumentException or SecurityTokenException or JsonException or FormatException or InvalidOperationException)
        {
            return Refused("malformed token");
        }
        if (!result.IsValid)
        {
            return Refused(result.Exception is SecurityTokenExpiredException ? "token expired" : "invalid token");
        }
        var jwt = (JsonWebToken)result.SecurityToken;
        var problem = Check(jwt);
        return problem is null ? result : Refused(problem);
    }

    private string? Check(JsonWebToken jwt)
    {
        if (jwt.Alg != SecurityAlgorithms.RsaSha256 || jwt.Typ != TokenService.AccessTokenType)
        {
            return "unexpected header";
        }
        if (jwt.TryGetHeaderValue<object>("crit", out _))
        {
            return "unsupported critical header parameter";
        }
        // The claim types, read from the payload as sent: the library converts some of them (a string exp, for one).
        using var payload = JsonDocument.Parse(Base64UrlEncoder.DecodeBytes(jwt.EncodedPayload));
        var claims = payload.RootElement;
        if (claims.ValueKind != JsonValueKind.Object)
        {
            return "malformed claims";
        }
        if (!IsNumericDate(claims, "exp", required: true) || !IsNumericDate(claims, "iat", required: true) || !IsNumericDate(claims, "nbf", required: false))
        {
            return "exp, iat and nbf must be NumericDate numbers";
        }
        if (DateTimeOffset.FromUnixTimeSeconds(claims.GetProperty("iat").GetInt64()) > _time.GetUtcNow() + _skew)
        {
            return "token issued in the future";
        }
        if (!IsString(claims, "sub", required: true) || !IsString(claims, KaiPrincipal.SessionClaim, required: true)
            || !IsString(claims, KaiPrincipal.OwnerClaim, required: false))
        {
            return "sub and sid must be strings";
        }
        if (!claims.TryGetProperty(KaiPrincipal.RoleClaim, out var role) || role.ValueKind != JsonValueKind.String || !Roles.IsRole(role.GetString()))
        {
            return "unknown role";
        }
        if (_revocations.IsRevoked(claims.GetProperty(KaiPrincipal.SessionClaim).GetString()))
        {
            return "session revoked";
        }
        return null;
    }

    private static bool IsNumericDate(JsonElement claims, string name, bool required) =>
        claims.TryGetProperty(name, out var v)
            ? v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var seconds) && seconds is >= 0 and <= 253_402_300_799
            : !required;

    private static bool IsString(JsonElement claims, string name, bool required) =>
        claims.TryGetProperty(name, out var v) ? v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 and <= 256 } : !required;

    private static TokenValidationResult Refused(string reason) =>
        new() { IsValid = false, Exception = new SecurityTokenValidationException(reason) };
}

/// <summary>Revoked sessions, kept in memory so logout invalidates access tokens at once without a database read per request.</summary>
internal sealed class SessionRevocations
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _revoked = new(StringComparer.Ordinal);

    public void Revoke(string sessionId) => _revoked.TryAdd(sessionId, 0);

    public bool IsRevoked(string? sessionId) => sessionId is not null && _revoked.ContainsKey(sessionId);
}
