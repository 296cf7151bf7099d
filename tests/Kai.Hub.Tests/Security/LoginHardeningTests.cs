using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Rest;

namespace Kai.Hub.Tests.Security;

/// <summary>OWASP API2 (broken authentication): login back-off per account and per IP, password policy.</summary>
public sealed class LoginHardeningTests
{
    private static Task<HttpResponseMessage> LoginAsync(SecurityKit kit, string email, string password) =>
        kit.Hub.Http.PostAsJsonAsync("api/v1/auth/login", new LoginRequest(email, password), KaiJson.Options);

    [Fact]
    public async Task Failed_logins_back_off_per_account_with_the_same_answer_for_unknown_emails()
    {
        await using var kit = await SecurityKit.StartAsync(new Dictionary<string, string> { ["Kai:Security:LoginFailuresBeforeLockout"] = "3" });
        var user = await kit.Hub.NewUserAsync();
        foreach (var email in new[] { user.UserProfile.Email, "ghost@example.com" })
        {
            for (var i = 0; i < 3; i++)
            {
                await SecurityKit.ErrorAsync(await LoginAsync(kit, email, "wrong-password!"), HttpStatusCode.Unauthorized, ErrorCodes.AuthenticationFailed);
            }
        }
        // Locked: even the right password is refused, and known and unknown accounts look the same.
        var known = await LoginAsync(kit, user.UserProfile.Email, "correct-horse-battery");
        var unknown = await LoginAsync(kit, "ghost@example.com", "correct-horse-battery");
        var e1 = await SecurityKit.ErrorAsync(known, HttpStatusCode.TooManyRequests, ErrorCodes.RateLimitExceeded);
        var e2 = await SecurityKit.ErrorAsync(unknown, HttpStatusCode.TooManyRequests, ErrorCodes.RateLimitExceeded);
        Assert.Equal(e1.GetProperty("message").GetString(), e2.GetProperty("message").GetString());
        Assert.Equal("30", known.Headers.GetValues("Retry-After").Single());
        Assert.NotEmpty(await kit.AuditAsync("auth.login.locked_out"));

        // The lock-out ends on the hub clock; a further failure doubles it.
        kit.Time.Advance(TimeSpan.FromSeconds(31));
        await SecurityKit.ErrorAsync(await LoginAsync(kit, "ghost@example.com", "wrong-password!"), HttpStatusCode.Unauthorized, ErrorCodes.AuthenticationFailed);
        Assert.Equal("60", (await LoginAsync(kit, "ghost@example.com", "x-password-x")).Headers.GetValues("Retry-After").Single());
        Assert.Equal(HttpStatusCode.OK, (await LoginAsync(kit, user.UserProfile.Email, "correct-horse-battery")).StatusCode);
    }

    [Fact]
    public async Task Failed_logins_back_off_per_ip_across_accounts()
    {
        await using var kit = await SecurityKit.StartAsync(new Dictionary<string, string> { ["Kai:Security:LoginFailuresBeforeLockout"] = "2" });
        // Per IP the threshold is four times the per-account one (shared addresses); spread over many accounts.
        for (var i = 0; i < 8; i++)
        {
            await SecurityKit.ErrorAsync(await LoginAsync(kit, $"spray{i}@example.com", "wrong-password!"), HttpStatusCode.Unauthorized, ErrorCodes.AuthenticationFailed);
        }
        await SecurityKit.ErrorAsync(await LoginAsync(kit, "fresh@example.com", "wrong-password!"), HttpStatusCode.TooManyRequests, ErrorCodes.RateLimitExceeded);
    }

    [Theory]
    [InlineData("short-pw")]
    [InlineData("password123")]
    [InlineData("aaaaaaaaaaaa")]
    [InlineData("policy.user@example.com")]
    [InlineData("policy.user")]
    public async Task Weak_passwords_are_refused(string password)
    {
        await using var kit = await SecurityKit.StartAsync();
        var res = await kit.Hub.Http.PostAsJsonAsync("api/v1/auth/register", new RegisterRequest("policy.user@example.com", password, "P", true), KaiJson.Options);
        var error = await SecurityKit.ErrorAsync(res, HttpStatusCode.BadRequest, ErrorCodes.ValidationError);
        Assert.Equal(JsonValueKind.Array, error.GetProperty("details").GetProperty("password").ValueKind);
    }
}
