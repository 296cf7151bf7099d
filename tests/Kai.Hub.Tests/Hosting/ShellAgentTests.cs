using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Hub.Tests.Hosting;

/// <summary>
/// Shell agents (issue 11 item 14, seed 002 <c>shell_agent</c>) running REAL child processes from the allow-list: argv without a
/// shell, stdin JSON, stdout as the result, a cleared environment, and the time and output limits.
/// </summary>
public sealed class ShellAgentTests
{
    private static string Exe(string name) =>
        new[] { "/usr/bin/", "/bin/" }.Select(d => d + name).FirstOrDefault(File.Exists) ?? throw new InvalidOperationException($"{name} is not installed");

    private const string AdminEmail = "root@example.com";
    private const string AdminPassword = "admin-password-for-tests";

    private static Dictionary<string, string> Allowed(params string[] names)
    {
        var s = new Dictionary<string, string>
        {
            ["Kai:Adapters:Shell:MaxOutputBytes"] = "4096", ["Kai:Adapters:Shell:Environment:0"] = "KAI_SHELL_TEST_VISIBLE",
            ["Kai:Auth:BootstrapAdminEmail"] = AdminEmail, ["Kai:Auth:BootstrapAdminPassword"] = AdminPassword,
        };
        foreach (var n in names)
        {
            s[$"Kai:Adapters:Shell:Allowed:{n}"] = Exe(n);
        }
        return s;
    }

    /// <summary>Shell agents are created by admins (permission <c>agent.create.shell</c>); a client with the bootstrap admin's token.</summary>
    private static async Task<HttpClient> AdminAsync(TestHub hub)
    {
        var login = await hub.Http.PostAsJsonAsync("api/v1/auth/login", new LoginRequest(AdminEmail, AdminPassword), KaiJson.Options);
        Assert.True(login.IsSuccessStatusCode, await login.Content.ReadAsStringAsync());
        return hub.Client((await login.Content.ReadFromJsonAsync<TokenResponse>(KaiJson.Options))!.AccessToken);
    }

    [Fact]
    public async Task Allowed_executables_run_with_argv_stdin_json_and_their_stdout_is_the_result()
    {
        Environment.SetEnvironmentVariable("KAI_SHELL_TEST_VISIBLE", "yes");
        Environment.SetEnvironmentVariable("KAI_SHELL_TEST_HIDDEN", "secret");
        await using var hub = await TestHub.StartAsync(settings: Allowed("cat", "head", "env", "false"));
        var user = await AdminAsync(hub);

        // cat: stdout is stdin, the call as JSON.
        var cat = await WebhookAgentTests.CreateOkAsync(user, "shell", new { executable = "cat" });
        var echoed = await WebhookAgentTests.CommandAsync(user, cat, "summarize", new { text = "a; rm -rf / $(reboot)" });
        Assert.True(echoed.Status == "completed", echoed.Error);
        Assert.Equal("summarize", echoed.Result!.Value.GetProperty("intent").GetString());
        Assert.Equal("a; rm -rf / $(reboot)", echoed.Result.Value.GetProperty("payload").GetProperty("input").GetProperty("text").GetString());

        // head with argv from placeholders: each is one argument, never parsed by a shell.
        var head = await WebhookAgentTests.CreateOkAsync(user, "shell", new { executable = "head", args = new[] { "-c", "{{input.n}}" } });
        var cut = await WebhookAgentTests.CommandAsync(user, head, "cut", new { n = 13 });
        Assert.Equal("{\"type\":\"Agen", cut.Result!.Value.GetString());
        var injected = await WebhookAgentTests.CommandAsync(user, head, "cut", new { n = "5; cat /etc/passwd" });
        Assert.Equal("failed", injected.Status);
        Assert.StartsWith(ErrorCodes.AdapterFailed, injected.Error); // head refuses the one odd argument; nothing else runs
        Assert.DoesNotContain("root:", injected.Error);

        // env: the child sees only the listed variables.
        var env = await WebhookAgentTests.CreateOkAsync(user, "shell", new { executable = "env" });
        Assert.Equal("KAI_SHELL_TEST_VISIBLE=yes", (await WebhookAgentTests.CommandAsync(user, env, "show", new { })).Result!.Value.GetString());

        // A non-zero exit fails with ADAPTER_FAILED.
        var fails = await WebhookAgentTests.CreateOkAsync(user, "shell", new { executable = "false" });
        var failed = await WebhookAgentTests.CommandAsync(user, fails, "run", new { });
        Assert.Equal("failed", failed.Status);
        Assert.StartsWith(ErrorCodes.AdapterFailed, failed.Error);
        Assert.Contains("status 1", failed.Error);
    }

    [Fact]
    public async Task A_run_past_its_timeout_is_killed_and_output_over_the_cap_is_cut()
    {
        await using var hub = await TestHub.StartAsync(settings: Allowed("sleep", "yes"));
        var user = await AdminAsync(hub);

        var sleeper = await WebhookAgentTests.CreateOkAsync(user, "shell", new { executable = "sleep", args = new[] { "600" }, timeout = 0.5 });
        var slow = await WebhookAgentTests.CommandAsync(user, sleeper, "run", new { });
        Assert.Equal("failed", slow.Status);
        Assert.StartsWith(ErrorCodes.AdapterTimeout, slow.Error);

        var yes = await WebhookAgentTests.CreateOkAsync(user, "shell", new { executable = "yes", args = new[] { "{{intent}}" } });
        var flood = await WebhookAgentTests.CommandAsync(user, yes, "spam", new { });
        Assert.Equal("failed", flood.Status);
        Assert.StartsWith(ErrorCodes.AdapterOutputTooLarge, flood.Error);
        Assert.Contains("4096", flood.Error);

        // The invocation path reports the same code in the error envelope.
        var invoked = await Invocations.Kail.InvokeAsync(user, Invocations.Kail.Envelope(Invocations.Kail.Handle(sleeper), "run", "x"));
        Assert.Equal(ErrorCodes.AdapterTimeout, (await WebhookAgentTests.ErrorAsync(invoked)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Executables_outside_the_allow_list_are_refused_and_nothing_is_stored()
    {
        await using var hub = await TestHub.StartAsync(settings: Allowed("cat"));
        var user = await AdminAsync(hub);

        var sh = await WebhookAgentTests.CreateAsync(user, "shell", new { executable = "sh", args = new[] { "-c", "id" } });
        Assert.Equal(HttpStatusCode.Forbidden, sh.StatusCode);
        var error = await WebhookAgentTests.ErrorAsync(sh);
        Assert.Equal(ErrorCodes.AdapterExecutableForbidden, error.GetProperty("code").GetString());
        Assert.Contains("cat", error.GetProperty("message").GetString()); // says what is allowed

        var path = await WebhookAgentTests.CreateAsync(user, "shell", new { executable = "/bin/cat" });
        Assert.Equal(HttpStatusCode.BadRequest, path.StatusCode);
        Assert.Contains("config.executable", (await WebhookAgentTests.ErrorAsync(path)).GetProperty("details").GetRawText());
        var badArgs = await WebhookAgentTests.CreateAsync(user, "shell", new { executable = "cat", args = "-n", timeout = -1 });
        Assert.Equal(HttpStatusCode.BadRequest, badArgs.StatusCode);
        var details = (await WebhookAgentTests.ErrorAsync(badArgs)).GetProperty("details").GetRawText();
        Assert.Contains("config.args", details);
        Assert.Contains("config.timeout", details);

        var list = JsonDocument.Parse(await user.GetStringAsync("api/v1/agents")).RootElement;
        Assert.Equal(0, list.GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task Shell_agents_without_agent_create_shell_are_FORBIDDEN_for_users_on_create_register_and_update()
    {
        await using var hub = await TestHub.StartAsync(settings: Allowed("cat"));
        var user = hub.Client((await hub.NewUserAsync()).AccessToken);

        // POST /agents: refused before the config is read (the allow-list is not shown), nothing stored.
        var created = await WebhookAgentTests.CreateAsync(user, "shell", new { executable = "cat" });
        Assert.Equal(HttpStatusCode.Forbidden, created.StatusCode);
        var error = await WebhookAgentTests.ErrorAsync(created);
        Assert.Equal(ErrorCodes.Forbidden, error.GetProperty("code").GetString());
        Assert.Equal("agent.create.shell", error.GetProperty("details").GetProperty("permission").GetString());
        Assert.DoesNotContain("cat", error.GetProperty("message").GetString());

        // POST /agents/register with type shell: the same.
        var registered = await user.PostAsJsonAsync("api/v1/agents/register", new { id = "sneaky-shell", type = "shell", configuration = new { executable = "cat" } });
        Assert.Equal(HttpStatusCode.Forbidden, registered.StatusCode);
        Assert.Equal(ErrorCodes.Forbidden, (await WebhookAgentTests.ErrorAsync(registered)).GetProperty("code").GetString());

        // PUT turning one's own ordinary agent into a shell agent: the same, and the agent is unchanged.
        var owner = hub.Client((await hub.NewUserAsync()).AccessToken);
        var mine = (await (await owner.PostAsJsonAsync("api/v1/agents/register", new { id = "mine-1", type = "worker" })).Content.ReadFromJsonAsync<AgentCreatedResponse>(KaiJson.Options))!;
        var put = await owner.PutAsJsonAsync($"api/v1/agents/{mine.AgentId}", new { type = "shell", config = new { executable = "cat" } });
        Assert.Equal(HttpStatusCode.Forbidden, put.StatusCode);
        var view = (await owner.GetFromJsonAsync<AgentView>($"api/v1/agents/{mine.AgentId}", KaiJson.Options))!;
        Assert.Equal("worker", view.Type);
        Assert.Equal("{}", view.Config.GetRawText());

        Assert.Equal(0, JsonDocument.Parse(await user.GetStringAsync("api/v1/agents")).RootElement.GetProperty("total").GetInt32());

        // An admin holds the permission: the same request succeeds.
        var admin = await AdminAsync(hub);
        Assert.Equal(HttpStatusCode.Created, (await WebhookAgentTests.CreateAsync(admin, "shell", new { executable = "cat" })).StatusCode);
    }
}
