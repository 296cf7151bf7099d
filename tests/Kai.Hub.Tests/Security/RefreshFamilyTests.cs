using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Rest;

namespace Kai.Hub.Tests.Security;

/// <summary>Refresh-token families (RFC 9700 §4.14.2): rotation, the grace window for concurrent retries, reuse detection, logout, cookie mode.</summary>
public sealed class RefreshFamilyTests
{
    private static Task<HttpResponseMessage> RefreshAsync(HttpClient http, string token) =>
        http.PostAsJsonAsync("api/v1/auth/refresh", new RefreshRequest(token), KaiJson.Options);

    [Fact]
    public async Task Two_concurrent_refreshes_with_one_token_one_wins_and_the_family_survives()
    {
        await using var kit = await SecurityKit.StartAsync();
        var user = await kit.Hub.NewUserAsync();
        using var c1 = kit.Hub.Client();
        using var c2 = kit.Hub.Client();
        var results = await Task.WhenAll(RefreshAsync(c1, user.RefreshToken), RefreshAsync(c2, user.RefreshToken));

        var winners = results.Where(r => r.StatusCode == HttpStatusCode.OK).ToList();
        var losers = results.Where(r => r.StatusCode != HttpStatusCode.OK).ToList();
        Assert.Single(winners);
        var lost = await SecurityKit.ErrorAsync(Assert.Single(losers), HttpStatusCode.Unauthorized, ErrorCodes.AuthenticationFailed);
        Assert.Equal("refresh_token_rotated", lost.GetProperty("details").GetProperty("reason").GetString());

        // The winner's tokens keep working: the race did not revoke the family.
        var won = (await winners[0].Content.ReadFromJsonAsync<TokenResponse>(KaiJson.Options))!;
        Assert.Equal(HttpStatusCode.OK, (await kit.Hub.Client(won.AccessToken).GetAsync("api/v1/auth/session")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await RefreshAsync(kit.Hub.Http, won.RefreshToken)).StatusCode);
        Assert.Empty(await kit.AuditAsync("auth.refresh.reuse"));
    }

    [Fact]
    public async Task Reuse_after_the_grace_window_revokes_the_family()
    {
        await using var kit = await SecurityKit.StartAsync();
        var user = await kit.Hub.NewUserAsync();
        var second = (await (await RefreshAsync(kit.Hub.Http, user.RefreshToken)).Content.ReadFromJsonAsync<TokenResponse>(KaiJson.Options))!;

        kit.Time.Advance(TimeSpan.FromSeconds(11));
        var reuse = await RefreshAsync(kit.Hub.Http, user.RefreshToken);
        await SecurityKit.ErrorAsync(reuse, HttpStatusCode.Unauthorized, ErrorCodes.AuthenticationFailed);

        // Both the newer refresh token and the access token of the family are dead now.
        await SecurityKit.ErrorAsync(await RefreshAsync(kit.Hub.Http, second.RefreshToken), HttpStatusCode.Unauthorized, ErrorCodes.AuthenticationFailed);
        Assert.Equal(HttpStatusCode.Unauthorized, (await kit.Hub.Client(second.AccessToken).GetAsync("api/v1/auth/session")).StatusCode);
        var entry = Assert.Single(await kit.AuditAsync("auth.refresh.reuse"));
        Assert.Equal(user.UserProfile.UserId, entry.GetProperty("actor_id").GetString());
    }

    [Fact]
    public async Task Logout_revokes_the_family_and_clears_the_cookie()
    {
        await using var kit = await SecurityKit.StartAsync(new Dictionary<string, string> { ["Kai:Security:RefreshTokenCookie"] = "true" });
        var email = $"c{Guid.NewGuid():N}@example.com";
        await kit.Hub.Http.PostAsJsonAsync("api/v1/auth/register", new RegisterRequest(email, "cookie-password-1", "C", true), KaiJson.Options);
        using var browser = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = kit.Hub.BaseAddress };
        var login = await browser.PostAsJsonAsync("api/v1/auth/login", new LoginRequest(email, "cookie-password-1"), KaiJson.Options);
        var setCookie = Assert.Single(login.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith("kai_refresh=", setCookie, StringComparison.Ordinal);
        foreach (var attr in new[] { "httponly", "secure", "samesite=strict", "path=/api/v1/auth" })
        {
            Assert.Contains(attr, setCookie, StringComparison.OrdinalIgnoreCase);
        }
        var tokens = (await login.Content.ReadFromJsonAsync<TokenResponse>(KaiJson.Options))!;
        var cookie = setCookie.Split(';')[0];

        // Refresh with the cookie alone (no body).
        using var refresh = new HttpRequestMessage(HttpMethod.Post, "api/v1/auth/refresh");
        refresh.Headers.Add("Cookie", cookie);
        var refreshed = await browser.SendAsync(refresh);
        Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);
        var next = (await refreshed.Content.ReadFromJsonAsync<TokenResponse>(KaiJson.Options))!;

        using var logout = new HttpRequestMessage(HttpMethod.Post, "api/v1/auth/logout");
        logout.Headers.Authorization = new("Bearer", next.AccessToken);
        var res = await browser.SendAsync(logout);
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        Assert.Contains(res.Headers.GetValues("Set-Cookie"), c => c.StartsWith("kai_refresh=;", StringComparison.Ordinal));
        // Every member of the family is dead: the newest refresh token and the first access token.
        await SecurityKit.ErrorAsync(await RefreshAsync(kit.Hub.Http, next.RefreshToken), HttpStatusCode.Unauthorized, ErrorCodes.AuthenticationFailed);
        Assert.Equal(HttpStatusCode.Unauthorized, (await kit.Hub.Client(tokens.AccessToken).GetAsync("api/v1/auth/session")).StatusCode);
        Assert.NotEmpty(await kit.AuditAsync("auth.logout"));
    }
}
