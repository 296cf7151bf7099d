using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Rest;

namespace Kai.Hub.Tests.Security;

/// <summary>Magic links: same answer for every email, random token stored hashed, 10 minutes, single use, per-email cap.</summary>
public sealed class MagicLinkTests
{
    internal static string[] Outbox(string dataDirectory)
    {
        var dir = Path.Combine(dataDirectory, "outbox");
        return Directory.Exists(dir) ? Directory.GetFiles(dir, "*.eml").Order(StringComparer.Ordinal).ToArray() : [];
    }

    internal static string TokenFromOutbox(string dataDirectory)
    {
        var text = File.ReadAllText(Outbox(dataDirectory)[^1]);
        var at = text.IndexOf("kml_", StringComparison.Ordinal);
        Assert.True(at >= 0, "the mail should carry a magic token");
        return new string(text[at..].TakeWhile(ch => char.IsAsciiLetterOrDigit(ch) || ch is '_' or '-').ToArray());
    }

    private static Task<HttpResponseMessage> RequestAsync(SecurityKit kit, string email) =>
        kit.Hub.Http.PostAsJsonAsync("api/v1/auth/magic-link", new { email }, KaiJson.Options);

    private static Task<HttpResponseMessage> VerifyAsync(SecurityKit kit, string token) =>
        kit.Hub.Http.PostAsJsonAsync("api/v1/auth/verify-magic", new { magic_token = token }, KaiJson.Options);

    [Fact]
    public async Task Same_answer_for_known_and_unknown_emails()
    {
        await using var kit = await SecurityKit.StartAsync();
        var user = await kit.Hub.NewUserAsync();
        var known = await RequestAsync(kit, user.UserProfile.Email);
        var unknown = await RequestAsync(kit, "nobody-here@example.com");
        Assert.Equal(HttpStatusCode.Accepted, known.StatusCode);
        Assert.Equal(known.StatusCode, unknown.StatusCode);
        Assert.Equal(await known.Content.ReadAsStringAsync(), await unknown.Content.ReadAsStringAsync());
        // Only the real account got mail.
        var mail = Assert.Single(Outbox(kit.Hub.DataDirectory));
        Assert.Contains("To: " + user.UserProfile.Email, await File.ReadAllTextAsync(mail), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Magic_token_works_once()
    {
        await using var kit = await SecurityKit.StartAsync();
        var user = await kit.Hub.NewUserAsync();
        await RequestAsync(kit, user.UserProfile.Email);
        var token = TokenFromOutbox(kit.Hub.DataDirectory);

        var first = await VerifyAsync(kit, token);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var session = (await first.Content.ReadFromJsonAsync<TokenResponse>(KaiJson.Options))!;
        Assert.Equal(user.UserProfile.UserId, session.UserProfile.UserId);
        Assert.Equal(HttpStatusCode.OK, (await kit.Hub.Client(session.AccessToken).GetAsync("api/v1/auth/session")).StatusCode);

        await SecurityKit.ErrorAsync(await VerifyAsync(kit, token), HttpStatusCode.Unauthorized, ErrorCodes.AuthenticationFailed);
        await SecurityKit.ErrorAsync(await VerifyAsync(kit, "kml_forged"), HttpStatusCode.Unauthorized, ErrorCodes.AuthenticationFailed);
        Assert.Single(await kit.AuditAsync("auth.magic_link.used"));
        Assert.Equal(2, (await kit.AuditAsync("auth.magic_link.rejected")).Count);
    }

    [Fact]
    public async Task Magic_token_expires_after_ten_minutes()
    {
        await using var kit = await SecurityKit.StartAsync();
        var user = await kit.Hub.NewUserAsync();
        await RequestAsync(kit, user.UserProfile.Email);
        var token = TokenFromOutbox(kit.Hub.DataDirectory);
        kit.Time.Advance(TimeSpan.FromMinutes(10) + TimeSpan.FromSeconds(1));
        await SecurityKit.ErrorAsync(await VerifyAsync(kit, token), HttpStatusCode.Unauthorized, ErrorCodes.AuthenticationFailed);
    }

    [Fact]
    public async Task Token_is_stored_hashed_and_mail_per_address_is_capped()
    {
        await using var kit = await SecurityKit.StartAsync(new Dictionary<string, string> { ["Kai:Security:MagicLinksPerEmailPerHour"] = "2" });
        var user = await kit.Hub.NewUserAsync();
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Accepted, (await RequestAsync(kit, user.UserProfile.Email)).StatusCode);
        }
        Assert.Equal(2, Outbox(kit.Hub.DataDirectory).Length);
        var token = TokenFromOutbox(kit.Hub.DataDirectory);

        var db = await File.ReadAllBytesAsync(Path.Combine(kit.Hub.DataDirectory, "kai.db"));
        var wal = Path.Combine(kit.Hub.DataDirectory, "kai.db-wal");
        var all = System.Text.Encoding.ASCII.GetString(db) + (File.Exists(wal) ? System.Text.Encoding.ASCII.GetString(await File.ReadAllBytesAsync(wal)) : "");
        Assert.DoesNotContain(token, all, StringComparison.Ordinal);
        Assert.Contains(Kai.Hub.Auth.TokenService.HashSecret(token), all, StringComparison.Ordinal);

        kit.Time.Advance(TimeSpan.FromHours(1));
        await RequestAsync(kit, user.UserProfile.Email);
        Assert.Equal(3, Outbox(kit.Hub.DataDirectory).Length);
    }
}
