using Microsoft.Extensions.Time.Testing;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Client.Tests;

/// <summary>The SDK against the hub's security features: rate limits, refresh races, secret rotation, admin routes, magic links.</summary>
public sealed class HubClientSecurityTests
{
    private const string AdminEmail = "root@example.com";
    private const string AdminPassword = "root-password-long-1";

    private static RegisterAgentRequest Agent(string id) => new(id, "worker", null, null, null, null, null);

    [Fact]
    public async Task A_429_is_retried_after_Retry_After_on_the_shared_clock_and_succeeds()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var hub = await TestHub.StartAsync(clock, settings: new Dictionary<string, string>
        {
            ["Kai:Security:RateLimits:AgentOperations"] = "1",
            ["Kai:Security:RateLimits:Window"] = "00:00:10",
        });
        using var client = new HubClient(hub.BaseAddress, time: clock);
        await client.RegisterAsync("limits@example.com", "limits-password-1", "Limits");
        await client.LoginAsync("limits@example.com", "limits-password-1");
        await client.RegisterAgentAsync(Agent("first-agent"));
        Assert.Equal((1, 0), (client.LastRateLimit!.Limit, client.LastRateLimit.Remaining));

        var waited = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.RateLimited += wait => waited.TrySetResult(wait);
        var second = client.RegisterAgentAsync(Agent("second-agent"));
        var wait = await waited.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.InRange(wait, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10));
        Assert.False(second.IsCompleted);

        // Move the shared clock in steps until the retry (scheduled on the same clock) has gone through; no real waiting.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!second.IsCompleted && DateTime.UtcNow < deadline)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAny(second, Task.Delay(20));
        }
        Assert.Equal("second-agent", (await second).AgentId);
        Assert.Equal(1, client.LastRateLimit.Limit);
    }

    [Fact]
    public async Task A_429_beyond_the_retry_budget_or_the_longest_wait_is_thrown_as_RATE_LIMIT_EXCEEDED()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var hub = await TestHub.StartAsync(clock, settings: new Dictionary<string, string>
        {
            ["Kai:Security:RateLimits:AgentOperations"] = "1",
            ["Kai:Security:RateLimits:Window"] = "00:01:00",
        });
        using var client = new HubClient(hub.BaseAddress, time: clock) { MaxRateLimitWait = TimeSpan.FromSeconds(30) };
        await client.RegisterAsync("budget@example.com", "budget-password-1", "Budget");
        await client.LoginAsync("budget@example.com", "budget-password-1");
        await client.RegisterAgentAsync(Agent("only-agent"));
        var retried = 0;
        client.RateLimited += _ => retried++;

        // The window has 60 s left, more than the client waits for: thrown at once.
        var tooLong = await Assert.ThrowsAsync<HubApiException>(() => client.RegisterAgentAsync(Agent("late-agent")));
        Assert.Equal(("RATE_LIMIT_EXCEEDED", 429), (tooLong.Code, tooLong.Status));
        Assert.True(tooLong.Details!.Value.GetProperty("retry_after").GetInt32() > 30);

        clock.Advance(TimeSpan.FromSeconds(45));
        client.MaxRateLimitRetries = 0;
        var noBudget = await Assert.ThrowsAsync<HubApiException>(() => client.RegisterAgentAsync(Agent("late-agent")));
        Assert.Equal("RATE_LIMIT_EXCEEDED", noBudget.Code);
        Assert.Equal(0, retried);
    }

    [Fact]
    public async Task A_refresh_token_rotated_by_another_client_gives_a_clear_error_and_reloaded_tokens_work()
    {
        await using var hub = await TestHub.StartAsync();
        using var first = new HubClient(hub.BaseAddress);
        await first.RegisterAsync("race@example.com", "race-password-1", "Race");
        var login = await first.LoginAsync("race@example.com", "race-password-1");
        using var second = new HubClient(hub.BaseAddress);
        second.UseTokens(login.AccessToken, login.RefreshToken);

        var rotated = await first.RefreshAsync();
        var error = await Assert.ThrowsAsync<HubApiException>(() => second.RefreshAsync());
        Assert.Equal(("AUTHENTICATION_FAILED", 401), (error.Code, error.Status));
        Assert.Equal("refresh_token_rotated", error.Details!.Value.GetProperty("reason").GetString());
        Assert.Contains("another client", error.HubMessage, StringComparison.Ordinal);

        // Within the grace window the family survives: the newer tokens work for both clients.
        second.UseTokens(rotated.AccessToken, rotated.RefreshToken);
        Assert.Equal(login.UserProfile.UserId, (await second.GetSessionAsync()).UserId);
        Assert.Equal(login.UserProfile.UserId, (await first.GetSessionAsync()).UserId);
    }

    [Fact]
    public async Task Rotating_an_agent_secret_refuses_the_old_credentials_and_accepts_the_new_ones()
    {
        await using var hub = await TestHub.StartAsync();
        using var owner = new HubClient(hub.BaseAddress);
        await owner.RegisterAsync("rotate@example.com", "rotate-password-1", "Rotate");
        await owner.LoginAsync("rotate@example.com", "rotate-password-1");
        var created = await owner.RegisterAgentAsync(Agent("rotating-agent"));
        using var running = new HubClient(hub.BaseAddress);
        await running.LoginAgentAsync(created.ClientId, created.ClientSecret);
        Assert.Equal("rotating-agent", (await running.GetSessionAsync()).UserId);

        var rotated = await owner.RotateAgentSecretAsync("rotating-agent");
        Assert.Equal(("rotating-agent", "rotating-agent"), (rotated.AgentId, rotated.ClientId));
        Assert.NotEqual(created.ClientSecret, rotated.ClientSecret);

        // The running client's token is revoked and its kept (old) secret no longer gets a new one.
        var stale = await Assert.ThrowsAsync<HubApiException>(() => running.GetSessionAsync());
        Assert.Equal("AUTHENTICATION_FAILED", stale.Code);
        using var old = new HubClient(hub.BaseAddress);
        Assert.Equal("AUTHENTICATION_FAILED", (await Assert.ThrowsAsync<HubApiException>(() => old.LoginAgentAsync(created.ClientId, created.ClientSecret))).Code);
        using var fresh = new HubClient(hub.BaseAddress);
        await fresh.LoginAgentAsync(rotated.ClientId, rotated.ClientSecret);
        Assert.Equal("rotating-agent", (await fresh.GetSessionAsync()).UserId);
        Assert.Equal("AGENT_NOT_FOUND", (await Assert.ThrowsAsync<HubApiException>(() => owner.RotateAgentSecretAsync("someone-else"))).Code);
    }

    [Fact]
    public async Task Admin_wrappers_work_for_an_admin_and_are_forbidden_for_a_user()
    {
        await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string>
        {
            ["Kai:Auth:BootstrapAdminEmail"] = AdminEmail,
            ["Kai:Auth:BootstrapAdminPassword"] = AdminPassword,
        });
        using var admin = new HubClient(hub.BaseAddress);
        await admin.LoginAsync(AdminEmail, AdminPassword);
        using var user = new HubClient(hub.BaseAddress);
        await user.RegisterAsync("plain@example.com", "plain-password-1", "Plain");
        var userId = (await user.LoginAsync("plain@example.com", "plain-password-1")).UserProfile.UserId;
        await user.RegisterAgentAsync(Agent("plain-agent"));

        foreach (var call in new Func<Task>[]
        {
            () => user.ListUsersAsync(), () => user.ChangeRoleAsync(userId, "admin"), () => user.DisableUserAsync(userId),
            () => user.EnableUserAsync(userId), () => user.ListAllAgentsAsync(), () => user.RotateSigningKeyAsync(), () => user.GetAuditAsync(),
        })
        {
            var denied = await Assert.ThrowsAsync<HubApiException>(call);
            Assert.Equal(("FORBIDDEN", 403), (denied.Code, denied.Status));
        }

        var users = await admin.ListUsersAsync(limit: 10);
        Assert.Contains(users.Users, u => u.UserId == userId && u.Role == "user" && !u.Disabled);
        Assert.Contains(users.Users, u => u.Email == AdminEmail && u.Role == "admin");
        Assert.Equal("developer", (await admin.ChangeRoleAsync(userId, "developer")).Role);
        Assert.True((await admin.DisableUserAsync(userId)).Disabled);
        Assert.Equal("AUTHENTICATION_FAILED", (await Assert.ThrowsAsync<HubApiException>(() => user.LoginAsync("plain@example.com", "plain-password-1"))).Code);
        Assert.False((await admin.EnableUserAsync(userId)).Disabled);
        Assert.Equal("developer", (await user.LoginAsync("plain@example.com", "plain-password-1")).UserProfile.Role);
        Assert.Contains((await admin.ListAllAgentsAsync(ownerId: userId)).Agents, a => a.AgentId == "plain-agent");
        var keys = await admin.RotateSigningKeyAsync();
        Assert.False(string.IsNullOrEmpty(keys.Kid));

        var audit = await admin.GetAuditAsync(new AuditQuery(Action: "admin.user.role_changed", From: DateTimeOffset.UtcNow.AddHours(-1), Limit: 5));
        var entry = Assert.Single(audit.Entries);
        Assert.Equal((userId, "success"), (entry.Target, entry.Outcome));
        Assert.Equal(1, audit.Total);
    }

    [Fact]
    public async Task A_magic_link_from_the_outbox_signs_the_user_in()
    {
        await using var hub = await TestHub.StartAsync();
        using var client = new HubClient(hub.BaseAddress);
        var userId = (await client.RegisterAsync("magic@example.com", "magic-password-1", "Magic")).UserId;

        var answer = await client.RequestMagicLinkAsync("magic@example.com");
        Assert.True(answer.Accepted);
        Assert.True((await client.RequestMagicLinkAsync("nobody@example.com")).Accepted);
        var token = await MagicTokenAsync(hub.DataDirectory);

        var tokens = await client.VerifyMagicLinkAsync(token);
        Assert.Equal(userId, tokens.UserProfile.UserId);
        Assert.Equal(tokens.AccessToken, client.AccessToken);
        Assert.Equal(userId, (await client.GetSessionAsync()).UserId);
        Assert.Equal("AUTHENTICATION_FAILED", (await Assert.ThrowsAsync<HubApiException>(() => client.VerifyMagicLinkAsync(token))).Code);
    }

    /// <summary>The <c>kml_…</c> token of the newest mail in <c>{data}/outbox</c>, polled with a deadline.</summary>
    internal static async Task<string> MagicTokenAsync(string dataDirectory)
    {
        var dir = Path.Combine(dataDirectory, "outbox");
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (Directory.Exists(dir) && Directory.GetFiles(dir, "*.eml").Order(StringComparer.Ordinal).LastOrDefault() is { } file)
            {
                var text = await File.ReadAllTextAsync(file);
                var at = text.IndexOf("kml_", StringComparison.Ordinal);
                if (at >= 0)
                {
                    return new string(text[at..].TakeWhile(ch => char.IsAsciiLetterOrDigit(ch) || ch is '_' or '-').ToArray());
                }
            }
            await Task.Delay(50);
        }
        throw new TimeoutException("no magic-link mail in the outbox");
    }
}
