using Microsoft.Extensions.Time.Testing;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Hub.Tests.Security;

/// <summary>A hub on a fake clock with a configured admin, plus helpers for the security tests.</summary>
internal sealed class SecurityKit : IAsyncDisposable
{
    public const string AdminEmail = "root@example.com";
    public const string AdminPassword = "admin-password-for-tests";

    private SecurityKit(TestHub hub, FakeTimeProvider time)
    {
        Hub = hub;
        Time = time;
    }

    public TestHub Hub { get; }

    public FakeTimeProvider Time { get; }

    private TokenResponse? _admin;

    public static async Task<SecurityKit> StartAsync(IDictionary<string, string>? settings = null)
    {
        var all = new Dictionary<string, string>
        {
            ["Kai:Auth:BootstrapAdminEmail"] = AdminEmail,
            ["Kai:Auth:BootstrapAdminPassword"] = AdminPassword,
            // Every test client is 127.0.0.1: room for the registrations and logins of a test; RateLimitTests sets its own.
            ["Kai:Security:RateLimits:Auth"] = "1000",
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string>())
        {
            all[k] = v;
        }
        var time = TestClock.Create();
        return new SecurityKit(await TestHub.StartAsync(time, settings: all), time);
    }

    public Task<TokenResponse> AdminAsync() => LoginAsync(AdminEmail, AdminPassword);

    public async Task<TokenResponse> LoginAsync(string email, string password)
    {
        var res = await Hub.Http.PostAsJsonAsync("api/v1/auth/login", new LoginRequest(email, password), KaiJson.Options);
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        return (await res.Content.ReadFromJsonAsync<TokenResponse>(KaiJson.Options))!;
    }

    /// <summary>Audit entries for <paramref name="action"/>, newest first, read through the admin API.</summary>
    public async Task<IReadOnlyList<JsonElement>> AuditAsync(string action, string? actor = null)
    {
        var admin = _admin ??= await AdminAsync();
        var url = $"api/v1/audit?action={Uri.EscapeDataString(action)}&limit=100" + (actor is null ? "" : "&actor=" + Uri.EscapeDataString(actor));
        var body = await Hub.Client(admin.AccessToken).GetFromJsonAsync<JsonElement>(url, KaiJson.Options);
        return [.. body.GetProperty("entries").EnumerateArray()];
    }

    public static async Task<JsonElement> ErrorAsync(HttpResponseMessage res, HttpStatusCode status, string code)
    {
        Assert.Equal(status, res.StatusCode);
        var body = await res.Content.ReadFromJsonAsync<JsonElement>(KaiJson.Options);
        Assert.Equal(code, body.GetProperty("error").GetProperty("code").GetString());
        return body.GetProperty("error");
    }

    public ValueTask DisposeAsync() => Hub.DisposeAsync();
}
