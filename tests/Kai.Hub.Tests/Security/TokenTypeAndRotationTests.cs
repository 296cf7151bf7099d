using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Microsoft.Extensions.DependencyInjection;

namespace Kai.Hub.Tests.Security;

/// <summary>RFC 8725 §3.11–3.12: only access tokens are access tokens. Signing-key rotation with two kids and the JWKS document.</summary>
public sealed class TokenTypeAndRotationTests
{
    private static string KidOf(string jwt)
    {
        var header = jwt.Split('.')[0].Replace('-', '+').Replace('_', '/');
        header = header.PadRight(header.Length + ((4 - (header.Length % 4)) % 4), '=');
        return JsonDocument.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(header))).RootElement.GetProperty("kid").GetString()!;
    }

    [Fact]
    public async Task Refresh_magic_and_client_secrets_are_never_access_tokens()
    {
        await using var kit = await SecurityKit.StartAsync();
        var user = await kit.Hub.NewUserAsync();
        var agent = await kit.Hub.NewAgentAsync(user.AccessToken, "typed", "t");
        await kit.Hub.Http.PostAsJsonAsync("api/v1/auth/magic-link", new { email = user.UserProfile.Email }, KaiJson.Options);
        var magic = MagicLinkTests.TokenFromOutbox(kit.Hub.DataDirectory);
        foreach (var notAccess in new[] { user.RefreshToken, magic, agent.ClientSecret })
        {
            var res = await kit.Hub.Client(notAccess).GetAsync("api/v1/auth/session");
            await SecurityKit.ErrorAsync(res, HttpStatusCode.Unauthorized, ErrorCodes.AuthenticationFailed);
            await using var ws = await kit.Hub.ConnectAsync("ws/agents/typed", notAccess);
            Assert.Equal(CloseCodes.AuthenticationFailed, await ws.ReceiveCloseAsync());
        }
        // The real access token of the same session works, so the refusals are about the token type.
        Assert.Equal(HttpStatusCode.OK, (await kit.Hub.Client(user.AccessToken).GetAsync("api/v1/auth/session")).StatusCode);
    }

    [Fact]
    public async Task Jwks_publishes_current_and_previous_public_keys_only()
    {
        await using var kit = await SecurityKit.StartAsync();
        var user = await kit.Hub.NewUserAsync();
        var jwks = await kit.Hub.Http.GetFromJsonAsync<JsonElement>(".well-known/jwks.json");
        var key = Assert.Single(jwks.GetProperty("keys").EnumerateArray());
        Assert.Equal(KidOf(user.AccessToken), key.GetProperty("kid").GetString());
        Assert.Equal("RS256", key.GetProperty("alg").GetString());
        foreach (var privateMember in new[] { "d", "p", "q", "dp", "dq", "qi" })
        {
            Assert.False(key.TryGetProperty(privateMember, out _), $"JWKS must not carry the private member '{privateMember}'");
        }

        var admin = await kit.AdminAsync();
        Assert.Equal(HttpStatusCode.OK, (await kit.Hub.Client(admin.AccessToken).PostAsync("api/v1/admin/keys/rotate", null)).StatusCode);
        var kids = (await kit.Hub.Http.GetFromJsonAsync<JsonElement>(".well-known/jwks.json")).GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("kid").GetString()).ToList();
        Assert.Equal(2, kids.Count);
        Assert.Equal(KidOf(user.AccessToken), kids[1]);
    }

    [Fact]
    public async Task A_rotated_key_keeps_validating_until_it_is_retired()
    {
        await using var kit = await SecurityKit.StartAsync();
        var user = await kit.Hub.NewUserAsync();
        var admin = await kit.AdminAsync();
        using var adminClient = kit.Hub.Client(admin.AccessToken);
        var rotated = await (await adminClient.PostAsync("api/v1/admin/keys/rotate", null)).Content.ReadFromJsonAsync<JsonElement>(KaiJson.Options);
        var newKid = rotated.GetProperty("kid").GetString();

        // Old token (previous kid) still valid; new tokens carry the new kid.
        Assert.Equal(HttpStatusCode.OK, (await kit.Hub.Client(user.AccessToken).GetAsync("api/v1/auth/session")).StatusCode);
        var fresh = await kit.LoginAsync(user.UserProfile.Email, "correct-horse-battery");
        Assert.Equal(newKid, KidOf(fresh.AccessToken));

        // A second rotation retires the first key: tokens signed with it are refused (unknown kid), the newer ones still pass.
        var admin2 = await kit.AdminAsync();
        var second = await (await kit.Hub.Client(admin2.AccessToken).PostAsync("api/v1/admin/keys/rotate", null)).Content.ReadFromJsonAsync<JsonElement>(KaiJson.Options);
        Assert.Equal(KidOf(user.AccessToken), second.GetProperty("retired_kid").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, (await kit.Hub.Client(user.AccessToken).GetAsync("api/v1/auth/session")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await kit.Hub.Client(fresh.AccessToken).GetAsync("api/v1/auth/session")).StatusCode);
        Assert.Equal(2, (await kit.AuditAsync("admin.keys.rotated")).Count);
    }

    [Fact]
    public async Task Scheduled_rotation_happens_once_on_the_hub_clock()
    {
        await using var kit = await SecurityKit.StartAsync(new Dictionary<string, string> { ["Kai:Security:KeyRotationInterval"] = "00:10:00" });
        var user = await kit.Hub.NewUserAsync();
        var service = kit.Hub.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<Kai.Hub.Security.KeyRotationService>().Single();
        Assert.False(await service.RotateIfDueAsync());
        // Advancing the clock also fires the service's own timer, which may rotate first; either way exactly one rotation happens.
        kit.Time.Advance(TimeSpan.FromMinutes(10));
        await service.RotateIfDueAsync();
        Assert.False(await service.RotateIfDueAsync());
        var kids = (await kit.Hub.Http.GetFromJsonAsync<JsonElement>(".well-known/jwks.json")).GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("kid").GetString()).ToList();
        Assert.Equal(2, kids.Count);
        Assert.Contains(KidOf(user.AccessToken), kids);
        Assert.True(File.Exists(Path.Combine(kit.Hub.DataDirectory, "keys", "jwt-signing-previous.pem")));
    }
}
