using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Hub.Security;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Microsoft.AspNetCore.Routing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace Kai.Hub.Tests.Security;

/// <summary>OWASP API5 (broken function level authorization) and the admin surface: users, roles, disabling, all agents, the audit log.</summary>
public sealed class AdminApiTests
{
    private static readonly (HttpMethod Method, string Url, object? Body)[] AdminRoutes =
    [
        (HttpMethod.Get, "api/v1/admin/users", null),
        (HttpMethod.Put, "api/v1/admin/users/{victim}/role", new { role = "admin" }),
        (HttpMethod.Post, "api/v1/admin/users/{victim}/disable", null),
        (HttpMethod.Post, "api/v1/admin/users/{victim}/enable", null),
        (HttpMethod.Get, "api/v1/admin/agents", null),
        (HttpMethod.Get, "api/v1/admin/nodes", null),
        (HttpMethod.Post, "api/v1/admin/keys/rotate", null),
        (HttpMethod.Get, "api/v1/audit", null),
        (HttpMethod.Get, "api/v1/config", null),
        (HttpMethod.Get, "api/v1/config/rate_limits", null),
        (HttpMethod.Patch, "api/v1/config/rate_limits", new { auth = 1_000_000 }),
        (HttpMethod.Delete, "api/v1/config/rate_limits", null),
    ];

    [Fact]
    public async Task Non_admins_are_refused_every_admin_route_and_it_is_audited()
    {
        await using var kit = await SecurityKit.StartAsync();
        var user = await kit.Hub.NewUserAsync();
        var victim = await kit.Hub.NewUserAsync();
        var agent = await kit.Hub.NewAgentAsync(user.AccessToken, "adm-probe", "t");
        var callers = new[] { user.AccessToken, await kit.Hub.AgentTokenAsync(agent) };
        foreach (var token in callers)
        {
            using var client = kit.Hub.Client(token);
            foreach (var (method, url, body) in AdminRoutes)
            {
                using var req = new HttpRequestMessage(method, url.Replace("{victim}", victim.UserProfile.UserId, StringComparison.Ordinal));
                if (body is not null)
                {
                    req.Content = JsonContent.Create(body, options: KaiJson.Options);
                }
                await SecurityKit.ErrorAsync(await client.SendAsync(req), HttpStatusCode.Forbidden, ErrorCodes.Forbidden);
            }
            // Without a token at all: 401.
            Assert.Equal(HttpStatusCode.Unauthorized, (await kit.Hub.Http.GetAsync("api/v1/admin/users")).StatusCode);
        }
        // The victim was not promoted or disabled by any of it.
        Assert.Equal("user", (await kit.LoginAsync(victim.UserProfile.Email, "correct-horse-battery")).UserProfile.Role);
        var denied = await kit.AuditAsync("access.permission_denied", user.UserProfile.UserId);
        Assert.Equal(AdminRoutes.Length, denied.Count);
        Assert.Contains(denied, e => e.GetProperty("details").GetProperty("permission").GetString() == "user.manage");
    }

    [Fact]
    public async Task Admin_lists_users_and_all_agents()
    {
        await using var kit = await SecurityKit.StartAsync();
        var alice = await kit.Hub.NewUserAsync();
        var bob = await kit.Hub.NewUserAsync();
        await kit.Hub.NewAgentAsync(alice.AccessToken, "adm-a", "t");
        await kit.Hub.NewAgentAsync(bob.AccessToken, "adm-b", "t");
        using var admin = kit.Hub.Client((await kit.AdminAsync()).AccessToken);
        var users = await admin.GetFromJsonAsync<JsonElement>("api/v1/admin/users?limit=2");
        Assert.Equal(3, users.GetProperty("total").GetInt32());
        Assert.Equal(2, users.GetProperty("users").GetArrayLength());
        Assert.False(users.GetRawText().Contains("password", StringComparison.OrdinalIgnoreCase), "no password hash in the listing");
        var agents = await admin.GetStringAsync("api/v1/admin/agents");
        Assert.Contains("adm-a", agents, StringComparison.Ordinal);
        Assert.Contains("adm-b", agents, StringComparison.Ordinal);
        var onlyBob = await admin.GetStringAsync($"api/v1/admin/agents?owner_id={bob.UserProfile.UserId}");
        Assert.DoesNotContain("adm-a", onlyBob, StringComparison.Ordinal);
        await SecurityKit.ErrorAsync(await admin.GetAsync("api/v1/admin/users?limit=1000"), HttpStatusCode.BadRequest, ErrorCodes.ValidationError);
    }

    [Fact]
    public async Task Role_change_applies_at_once_and_is_audited()
    {
        await using var kit = await SecurityKit.StartAsync();
        var user = await kit.Hub.NewUserAsync();
        var admin = await kit.AdminAsync();
        using var adminClient = kit.Hub.Client(admin.AccessToken);
        await SecurityKit.ErrorAsync(await adminClient.PutAsJsonAsync($"api/v1/admin/users/{user.UserProfile.UserId}/role", new { role = "agent" }, KaiJson.Options),
            HttpStatusCode.BadRequest, ErrorCodes.ValidationError);
        var res = await adminClient.PutAsJsonAsync($"api/v1/admin/users/{user.UserProfile.UserId}/role", new { role = "developer" }, KaiJson.Options);
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        // The old token carried the old role: it is revoked, and a new login carries the new role.
        Assert.Equal(HttpStatusCode.Unauthorized, (await kit.Hub.Client(user.AccessToken).GetAsync("api/v1/auth/session")).StatusCode);
        Assert.Equal("developer", (await kit.LoginAsync(user.UserProfile.Email, "correct-horse-battery")).UserProfile.Role);
        var entry = Assert.Single(await kit.AuditAsync("admin.user.role_changed"));
        Assert.Equal(admin.UserProfile.UserId, entry.GetProperty("actor_id").GetString());
        Assert.Equal("developer", entry.GetProperty("details").GetProperty("to").GetString());
        // An admin cannot demote (or disable) themselves.
        await SecurityKit.ErrorAsync(await adminClient.PutAsJsonAsync($"api/v1/admin/users/{admin.UserProfile.UserId}/role", new { role = "user" }, KaiJson.Options),
            HttpStatusCode.Conflict, ErrorCodes.Conflict);
    }

    [Fact]
    public async Task Disabling_a_user_revokes_sessions_links_and_agents_at_once()
    {
        await using var kit = await SecurityKit.StartAsync();
        var user = await kit.Hub.NewUserAsync();
        var agent = await kit.Hub.NewAgentAsync(user.AccessToken, "dis-agent", "t");
        var agentToken = await kit.Hub.AgentTokenAsync(agent);
        await using var observer = await kit.Hub.ConnectAsync("ws/agents/dis-agent", user.AccessToken);
        await observer.ReceiveAsync("welcome");
        using var admin = kit.Hub.Client((await kit.AdminAsync()).AccessToken);

        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync($"api/v1/admin/users/{user.UserProfile.UserId}/disable", null)).StatusCode);
        Assert.Equal(CloseCodes.SessionExpired, await observer.ReceiveCloseAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, (await kit.Hub.Client(user.AccessToken).GetAsync("api/v1/auth/session")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await kit.Hub.Client(agentToken).GetAsync("api/v1/auth/session")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await kit.Hub.Http.PostAsJsonAsync("api/v1/auth/refresh", new RefreshRequest(user.RefreshToken), KaiJson.Options)).StatusCode);
        var login = await kit.Hub.Http.PostAsJsonAsync("api/v1/auth/login", new LoginRequest(user.UserProfile.Email, "correct-horse-battery"), KaiJson.Options);
        await SecurityKit.ErrorAsync(login, HttpStatusCode.Unauthorized, ErrorCodes.AuthenticationFailed);
        Assert.Single(await kit.AuditAsync("admin.user.disabled"));

        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync($"api/v1/admin/users/{user.UserProfile.UserId}/enable", null)).StatusCode);
        await kit.LoginAsync(user.UserProfile.Email, "correct-horse-battery");
        Assert.Single(await kit.AuditAsync("admin.user.enabled"));
    }

    [Fact]
    public async Task Audit_log_filters_pages_and_is_append_only()
    {
        await using var kit = await SecurityKit.StartAsync();
        var user = await kit.Hub.NewUserAsync();
        await kit.Hub.Http.PostAsJsonAsync("api/v1/auth/login", new LoginRequest(user.UserProfile.Email, "wrong-password!!"), KaiJson.Options);
        var agent = await kit.Hub.NewAgentAsync(user.AccessToken, "aud-agent", "t");
        await kit.Hub.Client(user.AccessToken).DeleteAsync("api/v1/agents/aud-agent");
        using var admin = kit.Hub.Client((await kit.AdminAsync()).AccessToken);

        // One entry per security event.
        foreach (var action in new[] { "auth.login.succeeded", "auth.login.failed", "agent.created", "agent.deleted" })
        {
            Assert.NotEmpty(await kit.AuditAsync(action, action.StartsWith("agent", StringComparison.Ordinal) ? user.UserProfile.UserId : null));
        }
        var failed = Assert.Single(await kit.AuditAsync("auth.login.failed"));
        Assert.Equal("bad_password", failed.GetProperty("details").GetProperty("reason").GetString());
        Assert.DoesNotContain("wrong-password", failed.GetRawText(), StringComparison.Ordinal);

        var page = await admin.GetFromJsonAsync<JsonElement>($"api/v1/audit?actor={user.UserProfile.UserId}&limit=1");
        Assert.Equal(1, page.GetProperty("entries").GetArrayLength());
        Assert.True(page.GetProperty("pagination").GetProperty("has_more").GetBoolean());
        var future = Uri.EscapeDataString(kit.Time.GetUtcNow().AddMinutes(1).ToString("O"));
        Assert.Equal(0, (await admin.GetFromJsonAsync<JsonElement>($"api/v1/audit?from={future}")).GetProperty("total").GetInt32());

        // No route changes or deletes entries ...
        var routes = kit.Hub.Services.GetServices<EndpointDataSource>().SelectMany(s => s.Endpoints).OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText!.Contains("audit", StringComparison.Ordinal)).ToList();
        Assert.All(routes, e => Assert.Equal(["GET"], e.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await admin.DeleteAsync("api/v1/audit")).StatusCode);
        // ... and the database itself refuses it.
        await using var db = new SqliteConnection($"Data Source={Path.Combine(kit.Hub.DataDirectory, "kai.db")}");
        await db.OpenAsync();
        foreach (var sql in new[] { "UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log" })
        {
            using var cmd = db.CreateCommand();
            cmd.CommandText = sql;
            var ex = await Assert.ThrowsAsync<SqliteException>(() => cmd.ExecuteNonQueryAsync());
            Assert.Contains("append-only", ex.Message, StringComparison.Ordinal);
        }
        _ = agent;
    }

    [Fact]
    public async Task Admin_create_command_makes_or_promotes_an_admin_without_a_public_route()
    {
        var dir = Kai.Testing.TestHub.NewDataDirectory();
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var common = new[] { "--urls", "http://127.0.0.1:0", $"--Kai:DataDirectory={dir}", "--Logging:LogLevel:Default=Warning" };
        Assert.Equal(3, await AdminCommand.RunAsync(["admin", "create", "--email", "ops@example.com", "--password", "password", .. common], stdout, stderr));
        Assert.Equal(2, await AdminCommand.RunAsync(["admin", "create", .. common], stdout, stderr));
        Assert.Equal(0, await AdminCommand.RunAsync(["admin", "create", "--email", "ops@example.com", "--password", "ops-password-long", .. common], stdout, stderr));
        await using var hub = await Kai.Testing.TestHub.StartAsync(dataDirectory: dir);
        var login = await hub.Http.PostAsJsonAsync("api/v1/auth/login", new LoginRequest("ops@example.com", "ops-password-long"), KaiJson.Options);
        Assert.Equal("admin", (await login.Content.ReadFromJsonAsync<TokenResponse>(KaiJson.Options))!.UserProfile.Role);
        // There is no HTTP route that creates admins: registering asks for nothing but a user.
        Assert.DoesNotContain(hub.Services.GetServices<EndpointDataSource>().SelectMany(s => s.Endpoints).OfType<RouteEndpoint>(),
            e => e.RoutePattern.RawText!.Contains("bootstrap", StringComparison.OrdinalIgnoreCase));
    }
}
