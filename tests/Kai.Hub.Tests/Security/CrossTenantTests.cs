using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Hub.Tests.Security;

/// <summary>
/// OWASP API1 (broken object level authorization): user A against every object type of user B, over REST and WebSocket.
/// Another tenant's object answers exactly like a missing one (404), and is left unchanged.
/// </summary>
public sealed class CrossTenantTests
{
    /// <summary>B's objects, and A's credentials.</summary>
    internal sealed record Fixture(string AgentId, string TaskId, string WorkflowId, string ScheduleId, string CommandId);

    private sealed record Case(HttpMethod Method, Func<Fixture, string> Url, object? Body = null, bool AsAgent = false);

    private static readonly Dictionary<string, Case> Cases = new(StringComparer.Ordinal)
    {
        ["GET /api/v1/agents/{agentId}"] = new(HttpMethod.Get, f => $"api/v1/agents/{f.AgentId}"),
        ["PUT /api/v1/agents/{agentId}"] = new(HttpMethod.Put, f => $"api/v1/agents/{f.AgentId}", new { name = "stolen" }),
        ["DELETE /api/v1/agents/{agentId}"] = new(HttpMethod.Delete, f => $"api/v1/agents/{f.AgentId}"),
        ["GET /api/v1/agents/{agentId}/status"] = new(HttpMethod.Get, f => $"api/v1/agents/{f.AgentId}/status"),
        ["POST /api/v1/agents/{agentId}/heartbeat"] = new(HttpMethod.Post, f => $"api/v1/agents/{f.AgentId}/heartbeat", new { status = "active" }),
        ["POST /api/v1/agents/{agentId}/restart"] = new(HttpMethod.Post, f => $"api/v1/agents/{f.AgentId}/restart", new { force = true }),
        ["POST /api/v1/agents/{agentId}/command"] = new(HttpMethod.Post, f => $"api/v1/agents/{f.AgentId}/command", new { command = "wipe", timeout = 0 }),
        ["POST /api/v1/agents/{agentId}/rotate-secret"] = new(HttpMethod.Post, f => $"api/v1/agents/{f.AgentId}/rotate-secret"),
        ["POST /api/v1/agents/{agentId}/task"] = new(HttpMethod.Post, f => $"api/v1/agents/{f.AgentId}/task", new { task_type = "t" }),
        ["GET /api/v1/tasks/{taskId}"] = new(HttpMethod.Get, f => $"api/v1/tasks/{f.TaskId}"),
        ["GET /api/v1/tasks/{taskId}/status"] = new(HttpMethod.Get, f => $"api/v1/tasks/{f.CommandId}/status"),
        ["PATCH /api/v1/tasks/{taskId}"] = new(HttpMethod.Patch, f => $"api/v1/tasks/{f.TaskId}", new { status = "completed", attempt = 1 }, AsAgent: true),
        ["POST /api/v1/tasks/{taskId}/cancel"] = new(HttpMethod.Post, f => $"api/v1/tasks/{f.TaskId}/cancel"),
        ["POST /api/v1/tasks/{taskId}/retry"] = new(HttpMethod.Post, f => $"api/v1/tasks/{f.TaskId}/retry"),
        ["GET /api/v1/schedules/{scheduleId}"] = new(HttpMethod.Get, f => $"api/v1/schedules/{f.ScheduleId}"),
        ["DELETE /api/v1/schedules/{scheduleId}"] = new(HttpMethod.Delete, f => $"api/v1/schedules/{f.ScheduleId}"),
        ["GET /api/v1/workflows/{workflowId}"] = new(HttpMethod.Get, f => $"api/v1/workflows/{f.WorkflowId}"),
        ["POST /api/v1/workflows/{workflowId}/cancel"] = new(HttpMethod.Post, f => $"api/v1/workflows/{f.WorkflowId}/cancel"),
        ["GET /api/v1/agents/{agentId}/logs"] = new(HttpMethod.Get, f => $"api/v1/agents/{f.AgentId}/logs"),
        ["POST /api/v1/agents/{agentId}/stream-prompt"] = new(HttpMethod.Post, f => $"api/v1/agents/{f.AgentId}/stream-prompt", new { prompt = "leak the logs" }),
    };

    /// <summary>The routes the theory below covers (read by the route inventory test).</summary>
    internal static IReadOnlyDictionary<string, string> RestCases { get; } =
        Cases.ToDictionary(kv => kv.Key, _ => $"{nameof(CrossTenantTests)}.{nameof(Another_tenant_gets_404_and_the_object_is_unchanged)}", StringComparer.Ordinal);

    public static TheoryData<string> RouteKeys() => [.. Cases.Keys];

    internal static async Task<Fixture> SeedTenantAsync(TestHub hub, string token, string prefix)
    {
        using var b = hub.Client(token);
        var agent = await hub.NewAgentAsync(token, prefix + "-agent", "t");
        var task = await (await b.PostAsJsonAsync("api/v1/tasks", new { type = "t", assigned_agent = agent.AgentId }, KaiJson.Options)).Content.ReadFromJsonAsync<JsonElement>(KaiJson.Options);
        var wf = await (await b.PostAsJsonAsync("api/v1/workflows", new { name = "wf", stages = new[] { new { name = "s1", agent_type = "t" } } }, KaiJson.Options))
            .Content.ReadFromJsonAsync<JsonElement>(KaiJson.Options);
        var sch = await (await b.PostAsJsonAsync($"api/v1/agents/{agent.AgentId}/task",
            new { task_type = "t", schedule = new { type = "recurring", cron = "0 0 * * *" } }, KaiJson.Options)).Content.ReadFromJsonAsync<JsonElement>(KaiJson.Options);
        var cmd = await (await b.PostAsJsonAsync($"api/v1/agents/{agent.AgentId}/command", new { command = "noop", timeout = 0 }, KaiJson.Options))
            .Content.ReadFromJsonAsync<JsonElement>(KaiJson.Options);
        return new Fixture(agent.AgentId, task.GetProperty("task_id").GetString()!, wf.GetProperty("workflow_id").GetString()!,
            sch.GetProperty("schedule_id").GetString()!, cmd.GetProperty("command_id").GetString()!);
    }

    private static async Task<string> SnapshotAsync(HttpClient owner, Fixture f)
    {
        var parts = new List<string>();
        foreach (var url in new[] { $"api/v1/agents/{f.AgentId}", $"api/v1/tasks/{f.TaskId}", $"api/v1/workflows/{f.WorkflowId}", $"api/v1/schedules/{f.ScheduleId}", $"api/v1/tasks/{f.CommandId}/status" })
        {
            var res = await owner.GetAsync(url);
            Assert.Equal(HttpStatusCode.OK, res.StatusCode);
            var body = await res.Content.ReadFromJsonAsync<JsonElement>(KaiJson.Options);
            parts.Add(body.TryGetProperty("status", out var s) ? s.ToString() : "-");
            parts.Add(body.TryGetProperty("name", out var n) ? n.ToString() : "-");
        }
        return string.Join("|", parts);
    }

    [Theory]
    [MemberData(nameof(RouteKeys))]
    public async Task Another_tenant_gets_404_and_the_object_is_unchanged(string route)
    {
        await using var hub = await TestHub.StartAsync();
        var alice = await hub.NewUserAsync();
        var bob = await hub.NewUserAsync();
        var bobs = await SeedTenantAsync(hub, bob.AccessToken, "bob");
        var aliceAgent = await hub.NewAgentAsync(alice.AccessToken, "alice-agent", "t");
        using var bobClient = hub.Client(bob.AccessToken);
        var before = await SnapshotAsync(bobClient, bobs);

        var c = Cases[route];
        using var attacker = hub.Client(c.AsAgent ? await hub.AgentTokenAsync(aliceAgent) : alice.AccessToken);
        using var request = new HttpRequestMessage(c.Method, c.Url(bobs));
        if (c.Body is not null)
        {
            request.Content = JsonContent.Create(c.Body, options: KaiJson.Options);
        }
        var res = await attacker.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotFound, res.StatusCode);
        var code = (await res.Content.ReadFromJsonAsync<JsonElement>(KaiJson.Options)).GetProperty("error").GetProperty("code").GetString();
        Assert.Contains(code, new[] { ErrorCodes.NotFound, ErrorCodes.AgentNotFound });
        Assert.Equal(before, await SnapshotAsync(bobClient, bobs));
    }

    [Fact]
    public async Task Lists_never_show_other_tenants_objects()
    {
        await using var hub = await TestHub.StartAsync();
        var alice = await hub.NewUserAsync();
        var bob = await hub.NewUserAsync();
        var bobs = await SeedTenantAsync(hub, bob.AccessToken, "bob");
        var alices = await SeedTenantAsync(hub, alice.AccessToken, "alice");
        using var a = hub.Client(alice.AccessToken);
        foreach (var (url, prop) in new[] { ("api/v1/agents", "agents"), ("api/v1/tasks", "tasks"), ("api/v1/schedules", "schedules"), ("api/v1/workflows", "workflows") })
        {
            var text = await a.GetStringAsync(url);
            foreach (var foreign in new[] { bobs.AgentId, bobs.TaskId, bobs.ScheduleId, bobs.WorkflowId })
            {
                Assert.DoesNotContain(foreign, text, StringComparison.Ordinal);
            }
            var items = JsonDocument.Parse(text).RootElement.GetProperty(prop);
            Assert.True(items.GetArrayLength() > 0, $"{url} should list Alice's own objects");
        }
        Assert.Contains(alices.AgentId, await a.GetStringAsync("api/v1/agents"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Task_for_another_tenants_agent_is_refused()
    {
        await using var hub = await TestHub.StartAsync();
        var alice = await hub.NewUserAsync();
        var bob = await hub.NewUserAsync();
        var bobAgent = await hub.NewAgentAsync(bob.AccessToken, "bob-only", "t");
        var res = await hub.Client(alice.AccessToken).PostAsJsonAsync("api/v1/tasks", new { type = "t", assigned_agent = bobAgent.AgentId }, KaiJson.Options);
        await SecurityKit.ErrorAsync(res, HttpStatusCode.NotFound, ErrorCodes.AgentNotFound);
    }

    [Fact]
    public async Task Metrics_summary_shows_only_own_agents()
    {
        await using var kit = await SecurityKit.StartAsync();
        var alice = await kit.Hub.NewUserAsync();
        var bob = await kit.Hub.NewUserAsync();
        await kit.Hub.NewAgentAsync(bob.AccessToken, "bob-metrics", "t");
        await kit.Hub.NewAgentAsync(alice.AccessToken, "alice-metrics", "t");
        // A plain user lacks system.metrics.read; a developer has it and still sees only its own agents.
        Assert.Equal(HttpStatusCode.Forbidden, (await kit.Hub.Client(alice.AccessToken).GetAsync("api/v1/metrics")).StatusCode);
        var admin = await kit.AdminAsync();
        var role = await kit.Hub.Client(admin.AccessToken).PutAsJsonAsync($"api/v1/admin/users/{alice.UserProfile.UserId}/role", new { role = "developer" }, KaiJson.Options);
        Assert.Equal(HttpStatusCode.OK, role.StatusCode);
        var dev = await kit.LoginAsync(alice.UserProfile.Email, "correct-horse-battery");
        var summary = await kit.Hub.Client(dev.AccessToken).GetStringAsync("api/v1/metrics");
        Assert.Contains("alice-metrics", summary, StringComparison.Ordinal);
        Assert.DoesNotContain("bob-metrics", summary, StringComparison.Ordinal);
        // The anonymous Prometheus scrape carries aggregate counters, never agent ids.
        Assert.DoesNotContain("bob-metrics", await kit.Hub.Http.GetStringAsync("metrics"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Another_tenants_agent_link_cannot_be_opened()
    {
        await using var hub = await TestHub.StartAsync();
        var alice = await hub.NewUserAsync();
        var bob = await hub.NewUserAsync();
        var bobAgent = await hub.NewAgentAsync(bob.AccessToken, "bob-link", "t");
        var aliceAgent = await hub.NewAgentAsync(alice.AccessToken, "alice-link", "t");

        // As observer (user token): the same close as for an agent that does not exist.
        await using (var s = await hub.ConnectAsync("ws/agents/bob-link", alice.AccessToken))
        {
            Assert.Equal(CloseCodes.InvalidSession, await s.ReceiveCloseAsync());
        }
        await using (var s = await hub.ConnectAsync("ws/agents/no-such-agent", alice.AccessToken))
        {
            Assert.Equal(CloseCodes.InvalidSession, await s.ReceiveCloseAsync());
        }
        // As an agent of another tenant on Bob's agent's path.
        await using (var s = await hub.ConnectAsync("ws/agents/bob-link", await hub.AgentTokenAsync(aliceAgent)))
        {
            Assert.Equal(CloseCodes.InvalidSession, await s.ReceiveCloseAsync());
        }
        // Bob's own link still opens (the refusals above are about tenancy, not a broken link).
        await using var own = await hub.ConnectAgentAsync(bobAgent);
        await own.SendAsync("heartbeat", new { status = "active" }, "hb-1");
        Assert.Equal("ack", (await own.ReceiveAsync()).Type);
    }

    [Fact]
    public async Task An_agent_cannot_reach_another_tenants_objects_over_its_link()
    {
        await using var hub = await TestHub.StartAsync();
        var alice = await hub.NewUserAsync();
        var bob = await hub.NewUserAsync();
        var bobs = await SeedTenantAsync(hub, bob.AccessToken, "bob");
        var aliceAgent = await hub.NewAgentAsync(alice.AccessToken, "alice-ws", "t");
        await using var a = await hub.ConnectAgentAsync(aliceAgent);
        using var bobClient = hub.Client(bob.AccessToken);
        var before = await SnapshotAsync(bobClient, bobs);

        await a.SendAsync("agent_message", new { to_agent = bobs.AgentId, message_type = "probe", content = 1 }, "m-1");
        var err = await a.ReceiveAsync("error");
        Assert.Equal("m-1", err.Id);
        Assert.Equal(ErrorCodes.AgentNotFound, err.Payload.GetProperty("code").GetString());

        await a.SendAsync("command_result", new { command_id = bobs.CommandId, status = "completed", result = new { stolen = true } }, "r-1");
        var ack = await a.ReceiveAsync();
        Assert.Equal("r-1", ack.Id);
        if (ack.Type == "ack")
        {
            Assert.True(ack.Payload.GetProperty("duplicate").GetBoolean(), "a foreign command must not be completed");
        }

        await a.SendAsync("task_update", new { task_id = bobs.TaskId, status = "completed", attempt = 1 }, "t-1");
        var taskAnswer = await a.ReceiveAsync();
        Assert.Equal("t-1", taskAnswer.Id);
        Assert.Equal("error", taskAnswer.Type);

        Assert.Equal(before, await SnapshotAsync(bobClient, bobs));
    }
}
