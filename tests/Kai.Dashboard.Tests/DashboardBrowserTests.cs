using System.Net.Http.Json;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Kai.Testing;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Kai.Dashboard.Tests;

/// <summary>
/// The web dashboard in a real browser (Debian's chromium through Playwright for .NET) against a real hub on Kestrel, with a
/// real agent on its WebSocket link. Every step is what a person does: log in through the form, click, read the page.
/// </summary>
public sealed class DashboardBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    private const string Password = "correct-horse-battery";
    private const string AdminEmail = "root@example.com";
    private const string AdminPassword = "admin-horse-battery-9";

    private static Task<TestHub> StartHubAsync() => TestHub.StartAsync(settings: new Dictionary<string, string>
    {
        ["Kai:Dashboard:Directory"] = BrowserFixture.DashboardDist,
        ["Kai:Auth:BootstrapAdminEmail"] = AdminEmail,
        ["Kai:Auth:BootstrapAdminPassword"] = AdminPassword,
    });

    private async Task<IPage> LogInAsync(TestHub hub, string email, string password)
    {
        var context = await browser.Require().NewContextAsync(new BrowserNewContextOptions { BaseURL = hub.BaseAddress.ToString() });
        var page = await context.NewPageAsync();
        var problems = new List<string>();
        page.Console += (_, m) => { if (m.Type == "error") problems.Add(m.Text); };
        await page.GotoAsync("/");
        await Expect(page).ToHaveURLAsync(new Uri(hub.BaseAddress, "ui/").ToString());
        await page.GetByTestId("login-email").FillAsync(email);
        await page.GetByTestId("login-password").FillAsync(password);
        await page.GetByTestId("login-submit").ClickAsync();
        await Expect(page.GetByTestId("who")).ToContainTextAsync("(");
        // The live link is up: the page's WebSocket passed the hub's origin check and the CSP's connect-src.
        await Expect(page.GetByTestId("link-state")).ToHaveTextAsync("live");
        Assert.DoesNotContain(problems, p => p.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase));
        return page;
    }

    private static Task ShotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(BrowserFixture.Screenshots, name + ".png"), FullPage = true });

    [SkippableFact]
    public async Task Agents_show_live_presence_and_load_and_go_offline_live()
    {
        browser.Require();
        await using var hub = await StartHubAsync();
        var user = await hub.NewUserAsync("ada@example.com", Password);
        var agent = await hub.NewAgentAsync(user.AccessToken, "worker-1", "worker", "text.stats");
        var link = await hub.ConnectAgentAsync(agent);

        var page = await LogInAsync(hub, "ada@example.com", Password);
        var row = page.GetByTestId("agent-worker-1");
        await Expect(row).ToHaveAttributeAsync("data-status", "active");
        await Expect(row.Locator("[data-col=load]")).ToHaveTextAsync("0");
        await Expect(page.GetByTestId("tab-audit")).ToHaveCountAsync(0);
        await ShotAsync(page, "agents-online");

        await link.DisposeAsync(); // the agent's process goes away: the hub marks it offline and tells the page
        await Expect(row).ToHaveAttributeAsync("data-status", "offline");
        await Expect(row.Locator("[data-col=status]")).ToHaveTextAsync("offline");
        await ShotAsync(page, "agents-offline");
    }

    [SkippableFact]
    public async Task A_published_event_appears_live_under_a_pattern_subscription_and_others_do_not()
    {
        browser.Require();
        await using var hub = await StartHubAsync();
        var user = await hub.NewUserAsync("grace@example.com", Password);
        var page = await LogInAsync(hub, "grace@example.com", Password);

        await page.GetByTestId("tab-events").ClickAsync();
        await page.GetByTestId("pattern").FillAsync("app.orders.*");
        await page.GetByTestId("subscribe").ClickAsync();
        await Expect(page.GetByTestId("sub-app.orders.*")).ToBeVisibleAsync();

        using var api = hub.Client(user.AccessToken);
        // One that does not match the pattern first, then one that does: the link keeps order, so when the second is
        // on the page the first would be too, had it been delivered.
        (await api.PostAsJsonAsync("api/v1/events", new { topic = "app.billing.created", data = new { n = 1 } })).EnsureSuccessStatusCode();
        (await api.PostAsJsonAsync("api/v1/events", new { topic = "app.orders.created", data = new { order = "o-42" } })).EnsureSuccessStatusCode();

        var events = page.GetByTestId("event");
        await Expect(events).ToHaveCountAsync(1);
        await Expect(events.First).ToHaveAttributeAsync("data-topic", "app.orders.created");
        await Expect(events.First).ToContainTextAsync("o-42");
        await ShotAsync(page, "events-live");
    }

    [SkippableFact]
    public async Task A_tasks_progress_shows_live_and_a_dead_letter_is_re_driven_to_the_agent()
    {
        browser.Require();
        await using var hub = await StartHubAsync();
        var user = await hub.NewUserAsync("lin@example.com", Password);
        var agent = await hub.NewAgentAsync(user.AccessToken, "worker-2", "worker", "report");
        await using var link = await hub.ConnectAgentAsync(agent);
        var page = await LogInAsync(hub, "lin@example.com", Password);
        await page.GetByTestId("tab-tasks").ClickAsync();

        using var api = hub.Client(user.AccessToken);
        var created = await api.PostAsJsonAsync("api/v1/tasks",
            new CreateTaskRequest("report-1", "report", AssignedAgent: "worker-2", RetryPolicy: new RetryPolicy(1, "none")), KaiJson.Options);
        created.EnsureSuccessStatusCode();

        var task = await link.ReceiveAsync("task");
        var fencing = task.Payload.GetProperty("fencing_token").GetInt64();
        await link.SendAsync("task_update", new { task_id = "report-1", status = "in_progress", progress = 40, fencing_token = fencing }, "u1");
        var row = page.GetByTestId("task-report-1");
        await Expect(row.GetByTestId("task-progress")).ToHaveTextAsync("40%");
        await Expect(row).ToHaveAttributeAsync("data-status", "in_progress");
        await ShotAsync(page, "task-progress");

        await link.SendAsync("task_update", new { task_id = "report-1", status = "failed", error = "disk full", fencing_token = fencing }, "u2");
        await page.GetByTestId("task-filter").SelectOptionAsync("failed");
        await Expect(row).ToHaveAttributeAsync("data-status", "failed");
        await Expect(row).ToContainTextAsync("disk full");
        await ShotAsync(page, "task-dead-letter");

        await row.GetByTestId("redrive").ClickAsync();
        // Re-driven: the agent gets the task again, and the dead-letter view no longer lists it.
        var again = await link.ReceiveAsync("task");
        Assert.Equal("report-1", again.Payload.GetProperty("task_id").GetString());
        Assert.True(again.Payload.GetProperty("fencing_token").GetInt64() > fencing);
        await Expect(row).ToHaveCountAsync(0);
        await page.GetByTestId("task-filter").SelectOptionAsync("");
        await Expect(row).Not.ToHaveAttributeAsync("data-status", "failed");
        var stored = await api.GetFromJsonAsync<JsonElement>("api/v1/tasks/report-1");
        Assert.NotEqual("failed", stored.GetProperty("status").GetString());
    }

    [SkippableFact]
    public async Task The_audit_log_is_shown_to_an_admin_and_refused_to_a_non_admin()
    {
        browser.Require();
        await using var hub = await StartHubAsync();
        await hub.NewUserAsync("noor@example.com", Password);

        var admin = await LogInAsync(hub, AdminEmail, AdminPassword);
        await admin.GetByTestId("tab-audit").ClickAsync();
        await Expect(admin.GetByTestId("audit-entry").First).ToBeVisibleAsync();
        await ShotAsync(admin, "audit-admin");

        var user = await LogInAsync(hub, "noor@example.com", Password);
        await Expect(user.GetByTestId("tab-audit")).ToHaveCountAsync(0);
        await user.GotoAsync("/ui/#audit"); // the tab is hidden, so the address is typed by hand: the page asks the hub
        await Expect(user.GetByTestId("view-audit").GetByTestId("view-error")).ToHaveTextAsync("You do not have permission to see this.");
        await Expect(user.GetByTestId("audit-entry")).ToHaveCountAsync(0);
        await ShotAsync(user, "audit-refused");
    }

    [SkippableFact]
    public async Task A_workflows_stages_show_their_progress_live()
    {
        browser.Require();
        await using var hub = await StartHubAsync();
        var user = await hub.NewUserAsync("mo@example.com", Password);
        var agent = await hub.NewAgentAsync(user.AccessToken, "builder-1", "worker", "build");
        await using var link = await hub.ConnectAgentAsync(agent);
        var page = await LogInAsync(hub, "mo@example.com", Password);
        await page.GetByTestId("tab-workflows").ClickAsync();

        using var api = hub.Client(user.AccessToken);
        (await api.PostAsJsonAsync("api/v1/workflows", new CreateWorkflowRequest("wf-1", null, "Release",
            [new WorkflowStage("build", "build"), new WorkflowStage("ship", "ship", ["build"])]), KaiJson.Options)).EnsureSuccessStatusCode();
        var card = page.GetByTestId("workflow-wf-1");
        await Expect(card).ToContainTextAsync("Release");

        var task = await link.ReceiveAsync("task");
        var id = task.Payload.GetProperty("task_id").GetString();
        var fencing = task.Payload.GetProperty("fencing_token").GetInt64();
        await link.SendAsync("task_update", new { task_id = id, status = "in_progress", progress = 50, fencing_token = fencing }, "w1");
        var build = card.GetByTestId("stage-build");
        await Expect(build).ToContainTextAsync("50%");
        await Expect(build).ToContainTextAsync("in_progress");
        await ShotAsync(page, "workflow-progress");

        await link.SendAsync("task_update", new { task_id = id, status = "completed", progress = 100, result = new { ok = true }, fencing_token = fencing }, "w2");
        await Expect(build).ToContainTextAsync("completed");
        await Expect(card.GetByTestId("stage-ship")).ToContainTextAsync("queued"); // its dependency done, it waits for a "ship" agent
    }
}
