using System.Text.Json;
using Kai.Client;
using Kai.Testing;

namespace Kai.Cli.Tests.EndToEnd;

/// <summary>The security commands with real processes: <c>kai</c> as a child process, the hub in-process or as its own admin verb.</summary>
public sealed class SecurityFlowTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kai-cli-tests", Guid.NewGuid().ToString("N"));

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Rotate_secret_saves_new_credentials_that_work_and_the_old_ones_are_refused()
    {
        await using var hub = await TestHub.StartAsync();
        var kai = new KaiCli(Path.Combine(_dir, "config"), hub.BaseAddress);
        Ok(await kai.RunAsync(["register", "--email", "rot@example.com", "--password", "rotate-password-1", "--name", "Rot"]));
        Ok(await kai.RunAsync(["agents", "create", "--id", "rot-agent", "--name", "rot", "--type", "worker"]));
        var saved = Path.Combine(kai.ConfigDirectory, "agents", "rot-agent.json");
        var before = AgentCredentials.Load(saved);

        var run = Ok(await kai.RunAsync(["agents", "rotate-secret", "rot-agent"]));
        Assert.Contains("client_secret: kas_", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("shown only this once", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("must be restarted", run.Stderr, StringComparison.Ordinal);
        var after = AgentCredentials.Load(saved);
        Assert.NotEqual(before.ClientSecret, after.ClientSecret);
        Assert.Contains(after.ClientSecret, run.Stdout, StringComparison.Ordinal);

        using var old = new HubClient(hub.BaseAddress);
        var refused = await Assert.ThrowsAsync<HubApiException>(() => old.LoginAgentAsync(before.ClientId, before.ClientSecret));
        Assert.Equal("AUTHENTICATION_FAILED", refused.Code);
        using var fresh = new HubClient(hub.BaseAddress);
        await fresh.LoginAgentAsync(after.ClientId, after.ClientSecret);
        Assert.Equal("rot-agent", (await fresh.GetSessionAsync()).UserId);

        var missing = await kai.RunAsync(["agents", "rotate-secret", "nobody-agent"]);
        Assert.Equal(1, missing.ExitCode);
        Assert.StartsWith("error AGENT_NOT_FOUND: ", missing.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Admin_bootstrap_runs_the_hub_verb_then_the_admin_lists_users_and_reads_the_audit_log()
    {
        var data = Path.Combine(_dir, "hub-data");
        // No hub is listening here: bootstrap works on the data directory alone.
        var offline = new KaiCli(Path.Combine(_dir, "config"), new Uri("http://127.0.0.1:9"));
        var weak = await offline.RunAsync(["admin", "bootstrap", "--email", "boss@example.com", "--data-dir", data], stdin: "boss\n");
        Assert.True(weak.ExitCode == 3, weak.ToString());
        Assert.Contains("password rejected", weak.Stderr, StringComparison.Ordinal);
        var made = await offline.RunAsync(["admin", "bootstrap", "--email", "boss@example.com", "--data-dir", data], stdin: "boss-password-long-1\n");
        Assert.True(made.ExitCode == 0, made.ToString());
        Assert.Contains("created as admin", made.Stdout, StringComparison.Ordinal);

        await using var hub = await TestHub.StartAsync(dataDirectory: data);
        var kai = new KaiCli(Path.Combine(_dir, "config"), hub.BaseAddress);
        Ok(await kai.RunAsync(["register", "--email", "worker@example.com", "--password", "worker-password-1", "--name", "Worker"]));
        var forbidden = await kai.RunAsync(["admin", "users"]);
        Assert.Equal(1, forbidden.ExitCode);
        Assert.StartsWith("error FORBIDDEN: ", forbidden.Stderr, StringComparison.Ordinal);
        Assert.Contains("(correlation id ", forbidden.Stderr, StringComparison.Ordinal);

        Ok(await kai.RunAsync(["login", "--email", "boss@example.com"], stdin: "boss-password-long-1\n"));
        var users = Ok(await kai.RunAsync(["admin", "users"]));
        var rows = users.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("ID ", rows[0], StringComparison.Ordinal);
        Assert.Contains(rows, r => r.Contains("boss@example.com", StringComparison.Ordinal) && r.Contains(" admin ", StringComparison.Ordinal));
        Assert.Contains(rows, r => r.Contains("worker@example.com", StringComparison.Ordinal) && r.Contains(" user ", StringComparison.Ordinal));

        var role = Ok(await kai.RunAsync(["admin", "role", "worker@example.com", "developer"]));
        Assert.Contains("role developer", role.Stdout, StringComparison.Ordinal);

        using var audit = JsonDocument.Parse(Ok(await kai.RunAsync(["audit", "--since", "1h", "--json"])).Stdout);
        var actions = audit.RootElement.EnumerateArray().Select(e => (e.GetProperty("action").GetString(), e.TryGetProperty("actor_id", out var a) ? a.GetString() : null)).ToList();
        Assert.Contains(("admin.user.created", "cli"), actions);
        Assert.Contains(actions, a => a.Item1 == "admin.user.role_changed");
        var table = Ok(await kai.RunAsync(["audit", "--actor", "cli"]));
        Assert.Contains("admin.user.created", table.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Login_with_a_magic_link_requests_then_verifies_and_saves_the_tokens()
    {
        await using var hub = await TestHub.StartAsync();
        var kai = new KaiCli(Path.Combine(_dir, "config"), hub.BaseAddress);
        Ok(await kai.RunAsync(["register", "--email", "link@example.com", "--password", "link-password-1", "--name", "Link"]));
        Ok(await kai.RunAsync(["logout"]));

        var request = Ok(await kai.RunAsync(["login", "--magic", "--email", "link@example.com"]));
        Assert.Contains("kai login --magic-token", request.Stdout, StringComparison.Ordinal);
        var token = await MagicTokenAsync(hub.DataDirectory);
        var verify = Ok(await kai.RunAsync(["login", "--magic-token", token]));
        Assert.Contains("as link@example.com", verify.Stdout, StringComparison.Ordinal);
        Ok(await kai.RunAsync(["agents", "list"]));

        var reused = await kai.RunAsync(["login", "--magic-token", token]);
        Assert.Equal(1, reused.ExitCode);
        Assert.StartsWith("error AUTHENTICATION_FAILED: ", reused.Stderr, StringComparison.Ordinal);
    }

    /// <summary>The <c>kml_…</c> token of the newest mail in <c>{data}/outbox</c>, polled with a deadline.</summary>
    private static async Task<string> MagicTokenAsync(string dataDirectory)
    {
        var dir = Path.Combine(dataDirectory, "outbox");
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (Directory.Exists(dir) && Directory.GetFiles(dir, "*.eml").Order(StringComparer.Ordinal).LastOrDefault() is { } file
                && await File.ReadAllTextAsync(file) is var text && text.IndexOf("kml_", StringComparison.Ordinal) is var at and >= 0)
            {
                return new string(text[at..].TakeWhile(ch => char.IsAsciiLetterOrDigit(ch) || ch is '_' or '-').ToArray());
            }
            await Task.Delay(50);
        }
        throw new TimeoutException("no magic-link mail in the outbox");
    }

    private static KaiRun Ok(KaiRun run)
    {
        Assert.True(run.ExitCode == 0, run.ToString());
        return run;
    }
}
