using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Kai.Hub.Housekeeping;
using Kai.Hub.Logs;
using Kai.Hub.Settings;
using Kai.Hub.Tasks;
using Kai.Hub.Tests.Security;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Kai.Testing;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Tests.Settings;

/// <summary>Seed 000's config router (<c>/api/v1/config</c>): runtime settings that are validated, audited, applied at once and kept.</summary>
public sealed class RuntimeSettingsTests
{
    [Fact]
    public async Task A_changed_rate_limit_applies_to_the_next_request_and_reset_brings_the_configured_value_back()
    {
        await using var kit = await SecurityKit.StartAsync();
        var admin = await kit.AdminAsync();
        using var client = kit.Hub.Client(admin.AccessToken);

        var changed = await PatchAsync(client, "rate_limits", """{"auth": 3}""");
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        var section = (await changed.Content.ReadFromJsonAsync<ConfigSection>(KaiJson.Options))!;
        Assert.Equal(3, section.Values.GetProperty("auth").GetInt32());
        Assert.Equal("Kai:Security:RateLimits:Auth", Assert.Single(section.Overrides).Key);

        // The login route's limiter now allows 3 per window (the admin's own login already used one).
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 4 && refused is null; i++)
        {
            var res = await kit.Hub.Http.PostAsJsonAsync("api/v1/auth/login", new LoginRequest(SecurityKit.AdminEmail, SecurityKit.AdminPassword), KaiJson.Options);
            Assert.Equal("3", res.Headers.GetValues("X-RateLimit-Limit").Single());
            refused = res.StatusCode == HttpStatusCode.TooManyRequests ? res : null;
        }
        Assert.NotNull(refused);

        var reset = await client.DeleteAsync("api/v1/config/rate_limits");
        Assert.Equal(HttpStatusCode.OK, reset.StatusCode);
        var after = (await reset.Content.ReadFromJsonAsync<ConfigSection>(KaiJson.Options))!;
        Assert.Empty(after.Overrides);
        Assert.Equal(1000, after.Values.GetProperty("auth").GetInt32());
        var again = await kit.Hub.Http.PostAsJsonAsync("api/v1/auth/login", new LoginRequest(SecurityKit.AdminEmail, SecurityKit.AdminPassword), KaiJson.Options);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal("1000", again.Headers.GetValues("X-RateLimit-Limit").Single());
    }

    [Theory]
    [InlineData("rate_limits", """{"auth": 0}""", "Auth")]
    [InlineData("rate_limits", """{"window": "soon"}""", "Kai:Security:RateLimits:Window")]
    [InlineData("rate_limits", """{"no_such_limit": 5}""", "no_such_limit")]
    [InlineData("routing", """{"in_memory_cluster": "x"}""", "in_memory_cluster")]
    [InlineData("tasks", """{"types": {"code_generation": {"max_attempts": 0}}}""", "tasks.types.code_generation")]
    [InlineData("tasks", """{"retry": {"backoff_strategy": "random"}}""", "tasks.retry")]
    [InlineData("logs", """{"max_age": {"days": 3}}""", "logs.max_age")]
    [InlineData("logs", """[1, 2]""", "JSON object")]
    [InlineData("logs", """{}""", "no settings")]
    public async Task Invalid_settings_are_refused_with_the_reason_and_nothing_is_stored(string section, string body, string named)
    {
        await using var kit = await SecurityKit.StartAsync();
        var admin = await kit.AdminAsync();
        using var client = kit.Hub.Client(admin.AccessToken);
        var before = await GetAsync(client);

        var error = await SecurityKit.ErrorAsync(await PatchAsync(client, section, body), HttpStatusCode.BadRequest, ErrorCodes.ValidationError);
        Assert.Contains(named, error.GetProperty("message").GetString(), StringComparison.Ordinal);

        var after = await GetAsync(client);
        Assert.Equal(before.Revision, after.Revision);
        Assert.All(after.Sections, s => Assert.Empty(s.Overrides));
        Assert.Empty(await kit.AuditAsync("admin.config.changed"));
    }

    [Fact]
    public async Task An_unknown_group_is_404_and_a_body_that_is_not_json_is_400()
    {
        await using var kit = await SecurityKit.StartAsync();
        var admin = await kit.AdminAsync();
        using var client = kit.Hub.Client(admin.AccessToken);
        var unknown = await SecurityKit.ErrorAsync(await PatchAsync(client, "data_directory", """{"x": 1}"""), HttpStatusCode.NotFound, ErrorCodes.NotFound);
        Assert.Contains("rate_limits", unknown.GetProperty("message").GetString(), StringComparison.Ordinal);
        await SecurityKit.ErrorAsync(await client.GetAsync("api/v1/config/nope"), HttpStatusCode.NotFound, ErrorCodes.NotFound);
        await SecurityKit.ErrorAsync(await PatchAsync(client, "logs", "{not json"), HttpStatusCode.BadRequest, ErrorCodes.ValidationError);
        Assert.All((await GetAsync(client)).Sections, s => Assert.Empty(s.Overrides));
    }

    [Fact]
    public async Task Changes_are_audited_kept_across_a_restart_and_seen_by_the_options_consumers()
    {
        var dir = TestHub.NewDataDirectory();
        var settings = new Dictionary<string, string>
        {
            ["Kai:Auth:BootstrapAdminEmail"] = SecurityKit.AdminEmail,
            ["Kai:Auth:BootstrapAdminPassword"] = SecurityKit.AdminPassword,
            ["Kai:Security:RateLimits:Auth"] = "1000",
        };
        var first = await TestHub.StartAsync(TestClock.Create(), dir, keepData: true, settings);
        try
        {
            var admin = await LoginAsync(first);
            using var client = first.Client(admin);
            Assert.Equal(HttpStatusCode.OK, (await PatchAsync(client, "logs", """{"max_per_agent": 5, "max_age": "2.00:00:00"}""")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await PatchAsync(client, "tasks", """{"types": {"code_generation": {"max_attempts": 7, "backoff_strategy": "linear"}}}""")).StatusCode);
            Assert.Equal(5, first.Service<IOptionsMonitor<LogOptions>>().CurrentValue.MaxPerAgent);
            Assert.Equal(7, first.Service<IOptionsMonitor<TaskOptions>>().CurrentValue.RetryFor("code_generation").MaxAttempts);

            // null removes one override and keeps the others of the group.
            var removed = await PatchAsync(client, "logs", """{"max_age": null}""");
            var logs = (await removed.Content.ReadFromJsonAsync<ConfigSection>(KaiJson.Options))!;
            Assert.Equal("Kai:Logs:MaxPerAgent", Assert.Single(logs.Overrides).Key);
            Assert.Equal(TimeSpan.FromDays(7), first.Service<IOptionsMonitor<LogOptions>>().CurrentValue.MaxAge);

            var audit = await AuditAsync(first, admin);
            Assert.Equal(3, audit.Count);
            var change = audit[0].GetProperty("details");
            Assert.Equal("logs", change.GetProperty("section").GetString());
            Assert.Equal(10_000, change.GetProperty("before").GetProperty("max_per_agent").GetInt32());
            Assert.Equal(5, change.GetProperty("after").GetProperty("max_per_agent").GetInt32());
        }
        finally
        {
            await first.DisposeAsyncKeepingData();
        }

        await using var second = await TestHub.StartAsync(TestClock.Create(), dir, settings: settings);
        Assert.Equal(5, second.Service<IOptionsMonitor<LogOptions>>().CurrentValue.MaxPerAgent);
        var retry = second.Service<IOptionsMonitor<TaskOptions>>().CurrentValue.RetryFor("code_generation");
        Assert.Equal((7, "linear"), (retry.MaxAttempts, retry.BackoffStrategy));
        using var again = second.Client(await LoginAsync(second));
        var config = await GetAsync(again);
        Assert.Equal(3, config.Sections.Sum(s => s.Overrides.Count));
        Assert.Equal(7, config.Sections.Single(s => s.Section == "tasks").Values.GetProperty("types").GetProperty("code_generation").GetProperty("max_attempts").GetInt32());
    }

    [Fact]
    public async Task A_change_stored_by_another_node_is_applied_at_the_next_sweep()
    {
        await using var kit = await SecurityKit.StartAsync();
        var events = kit.Hub.Service<IOptionsMonitor<Kai.Hub.Events.EventOptions>>();
        Assert.Equal(100, events.CurrentValue.HistorySize);

        // What another node's PATCH leaves in the shared store.
        await kit.Hub.Service<ISettingsStore>().ApplyAsync(
            new Dictionary<string, string?> { ["Kai:Events:HistorySize"] = "250" }, "usr_other_node", kit.Time.GetUtcNow(), CancellationToken.None);
        Assert.Equal(100, events.CurrentValue.HistorySize);

        await kit.Hub.Service<HubSweeper>().SweepOnceAsync(CancellationToken.None);
        Assert.Equal(250, events.CurrentValue.HistorySize);
    }

    private static Task<HttpResponseMessage> PatchAsync(HttpClient client, string section, string json) =>
        client.PatchAsync($"api/v1/config/{section}", new StringContent(json, Encoding.UTF8, "application/json"));

    private static async Task<ConfigResponse> GetAsync(HttpClient client) =>
        (await client.GetFromJsonAsync<ConfigResponse>("api/v1/config", KaiJson.Options))!;

    private static async Task<string> LoginAsync(TestHub hub)
    {
        var res = await hub.Http.PostAsJsonAsync("api/v1/auth/login", new LoginRequest(SecurityKit.AdminEmail, SecurityKit.AdminPassword), KaiJson.Options);
        return (await res.Content.ReadFromJsonAsync<TokenResponse>(KaiJson.Options))!.AccessToken;
    }

    private static async Task<List<JsonElement>> AuditAsync(TestHub hub, string token)
    {
        var body = await hub.Client(token).GetFromJsonAsync<JsonElement>("api/v1/audit?action=admin.config.changed&limit=100", KaiJson.Options);
        return [.. body.GetProperty("entries").EnumerateArray().Reverse()];
    }
}
