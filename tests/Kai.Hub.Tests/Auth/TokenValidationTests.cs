using Microsoft.Extensions.Time.Testing;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Kai.Protocol;
using Kai.Testing;

namespace Kai.Hub.Tests.Auth;

/// <summary>
/// The negative suite for access tokens: every forged, altered or misused token is refused on REST (401) and on
/// the live link (close 4003). Tokens are built by hand here, signed with the hub's own key where the attack needs it.
/// </summary>
public sealed class TokenValidationTests
{
    private sealed record Forge(string Name, Func<Ctx, string> Make);

    private sealed record Ctx(RSA Key, string Kid, string UserId, string SessionId, DateTimeOffset Now);

    private static readonly Forge[] Attacks =
    [
        new("alg none", c => Jwt(new { alg = "none", typ = "at+jwt", kid = c.Kid }, Claims(c), null)),
        new("alg none without signature part", c => Jwt(new { alg = "none", typ = "at+jwt" }, Claims(c), null).TrimEnd('.')),
        new("HS256 keyed with the public key (RS/HS confusion)", c =>
        {
            var publicPem = Encoding.UTF8.GetBytes(c.Key.ExportSubjectPublicKeyInfoPem());
            return Jwt(new { alg = "HS256", typ = "at+jwt", kid = c.Kid }, Claims(c), data => HMACSHA256.HashData(publicPem, data));
        }),
        new("wrong issuer", c => Signed(c, Claims(c, iss: "evil-hub"))),
        new("wrong audience", c => Signed(c, Claims(c, aud: "other-api"))),
        new("wrong typ (a plain JWT, e.g. a refresh or magic-link token)", c => Signed(c, Claims(c), typ: "JWT")),
        new("unknown kid", c => Signed(c, Claims(c), kid: "not-our-key")),
        new("no kid", c => Signed(c, Claims(c), kid: null)),
        new("expired beyond the 30 s skew", c => Signed(c, Claims(c, exp: c.Now.AddSeconds(-31)))),
        new("not yet valid", c => Signed(c, Claims(c, nbf: c.Now.AddMinutes(5)))),
        new("signed by another RSA key", c =>
        {
            using var other = RSA.Create(2048);
            return Signed(c with { Key = other }, Claims(c));
        }),
        new("tampered payload", c =>
        {
            var parts = Signed(c, Claims(c)).Split('.');
            var payload = JsonSerializer.Serialize(Claims(c, role: "admin"));
            return $"{parts[0]}.{B64(Encoding.UTF8.GetBytes(payload))}.{parts[2]}";
        }),
        new("tampered signature", c =>
        {
            var token = Signed(c, Claims(c));
            var last = token[^2] == 'A' ? 'B' : 'A';
            return token[..^2] + last + token[^1];
        }),
        new("JWE-shaped (five parts)", c => Signed(c, Claims(c)) + ".e30.e30"),
        new("no expiry", c => Signed(c, Claims(c, noExp: true))),
        // Issue 10, item 2: a signed token without sid was a 500 (IDX14304).
        new("no sid", c => Signed(c, Without(Claims(c), "sid"))),
        // Issue 10, item 3: claims the library does not check.
        new("unknown crit header parameter (RFC 7515 §4.1.11)", c => Signed(c, Claims(c), crit: ["exp-ext"])),
        new("exp as a string", c => Signed(c, With(Claims(c), "exp", c.Now.AddMinutes(10).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture)))),
        new("iat years in the future", c => Signed(c, With(Claims(c), "iat", c.Now.AddYears(3).ToUnixTimeSeconds()))),
        new("non-string sid", c => Signed(c, With(Claims(c), "sid", 12345))),
        new("role not in the role table", c => Signed(c, Claims(c, role: "superuser"))),
        new("no role", c => Signed(c, Without(Claims(c), "role"))),
        new("no sub", c => Signed(c, Without(Claims(c), "sub"))),
    ];

    public static TheoryData<string> AttackNames() => [.. Attacks.Select(a => a.Name)];

    [Theory]
    [MemberData(nameof(AttackNames))]
    public async Task Forged_tokens_are_refused_on_rest_and_on_the_live_link(string attack)
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        await hub.NewAgentAsync(user.AccessToken, "target-agent");
        using var rsa = RSA.Create();
        rsa.ImportFromPem(await File.ReadAllTextAsync(Path.Combine(hub.DataDirectory, "keys", "jwt-signing.pem")));
        var kid = JsonDocument.Parse(Convert.FromBase64String(Pad(user.AccessToken.Split('.')[0]))).RootElement.GetProperty("kid").GetString()!;
        var session = JsonDocument.Parse(Convert.FromBase64String(Pad(user.AccessToken.Split('.')[1]))).RootElement.GetProperty("sid").GetString()!;
        var ctx = new Ctx(rsa, kid, user.UserProfile.UserId, session, DateTimeOffset.UtcNow);

        // Control: a token we build the honest way is accepted, so each refusal below is the attack's doing.
        Assert.Equal(HttpStatusCode.OK, (await hub.Client(Signed(ctx, Claims(ctx))).GetAsync("api/v1/auth/session")).StatusCode);

        var forged = Attacks.Single(a => a.Name == attack).Make(ctx);
        var rest = await hub.Client(forged).GetAsync("api/v1/agents");
        Assert.Equal(HttpStatusCode.Unauthorized, rest.StatusCode);
        await AuthApiTests.AssertError(rest, ErrorCodes.AuthenticationFailed);
        await using var socket = await hub.ConnectAsync("ws/agents/target-agent", forged);
        Assert.Equal(CloseCodes.AuthenticationFailed, await socket.ReceiveCloseAsync());
        await using var events = await hub.ConnectAsync("ws", forged);
        Assert.Equal(CloseCodes.AuthenticationFailed, await events.ReceiveCloseAsync());
        var sse = await hub.Client(forged).GetAsync("api/v1/events/stream", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.Unauthorized, sse.StatusCode);
    }

    [Fact]
    public async Task An_expired_token_within_the_skew_is_accepted_and_beyond_it_refused()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var hub = await TestHub.StartAsync(clock);
        var user = await hub.NewUserAsync();
        using var client = hub.Client(user.AccessToken);
        clock.Advance(TimeSpan.FromMinutes(15) + TimeSpan.FromSeconds(29));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("api/v1/auth/session")).StatusCode);
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("api/v1/auth/session")).StatusCode);
    }

    [Fact]
    public async Task A_refresh_token_is_not_an_access_token()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        Assert.Equal(HttpStatusCode.Unauthorized, (await hub.Client(user.RefreshToken).GetAsync("api/v1/auth/session")).StatusCode);
    }

    private static Dictionary<string, object> Claims(Ctx c, string iss = "kai-hub", string aud = "kai-api", DateTimeOffset? exp = null,
        DateTimeOffset? nbf = null, string role = "user", bool noExp = false)
    {
        var claims = new Dictionary<string, object>
        {
            ["sub"] = c.UserId, ["role"] = role, ["sid"] = c.SessionId, ["owner"] = c.UserId, ["iss"] = iss, ["aud"] = aud,
            ["iat"] = c.Now.AddSeconds(-5).ToUnixTimeSeconds(), ["nbf"] = (nbf ?? c.Now.AddSeconds(-5)).ToUnixTimeSeconds(), ["jti"] = Guid.NewGuid().ToString("N"),
        };
        if (!noExp)
        {
            claims["exp"] = (exp ?? c.Now.AddMinutes(10)).ToUnixTimeSeconds();
        }
        return claims;
    }

    private static Dictionary<string, object> With(Dictionary<string, object> claims, string name, object value)
    {
        claims[name] = value;
        return claims;
    }

    private static Dictionary<string, object> Without(Dictionary<string, object> claims, string name)
    {
        claims.Remove(name);
        return claims;
    }

    private static string Signed(Ctx c, object claims, string typ = "at+jwt", string? kid = "<ours>", string[]? crit = null)
    {
        var header = new Dictionary<string, object> { ["alg"] = "RS256", ["typ"] = typ };
        if (crit is not null)
        {
            header["crit"] = crit;
            header["exp-ext"] = true;
        }
        if (kid is not null)
        {
            header["kid"] = kid == "<ours>" ? c.Kid : kid;
        }
        return Jwt(header, claims, data => c.Key.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
    }

    private static string Jwt(object header, object claims, Func<byte[], byte[]>? sign)
    {
        var signingInput = $"{B64(JsonSerializer.SerializeToUtf8Bytes(header))}.{B64(JsonSerializer.SerializeToUtf8Bytes(claims))}";
        return $"{signingInput}.{(sign is null ? "" : B64(sign(Encoding.ASCII.GetBytes(signingInput))))}";
    }

    private static string B64(byte[] data) => Convert.ToBase64String(data).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string Pad(string s)
    {
        s = s.Replace('-', '+').Replace('_', '/');
        return s.PadRight(s.Length + ((4 - (s.Length % 4)) % 4), '=');
    }
}
