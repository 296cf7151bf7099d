using Microsoft.Extensions.Time.Testing;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Hub.Housekeeping;
using Kai.Hub.Tests.Auth;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Hub.Tests.Agents;

public sealed class AgentsApiTests
{
    [Fact]
    public async Task Both_creation_routes_return_credentials_and_store_only_a_hash()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        using var client = hub.Client(user.AccessToken);

        var seed004 = await client.PostAsJsonAsync("api/v1/agents/register", new RegisterAgentRequest(
            "agent-001", "code_generation", "Code Generator", "1.0.0", ["javascript", "python"], "http://agent-001:8080/health",
            JsonDocument.Parse("""{"max_concurrent_tasks": 5}""").RootElement), KaiJson.Options);
        Assert.Equal(HttpStatusCode.Created, seed004.StatusCode);
        var a = (await seed004.Content.ReadFromJsonAsync<AgentCreatedResponse>(KaiJson.Options))!;
        Assert.Equal("agent-001", a.AgentId);
        Assert.Equal("agent-001", a.ClientId);
        Assert.Equal("created", a.Status);
        Assert.EndsWith("/ws/agents/agent-001", a.WebsocketUrl, StringComparison.Ordinal);
        Assert.StartsWith("ws://", a.WebsocketUrl, StringComparison.Ordinal);

        var seed000 = await client.PostAsJsonAsync("api/v1/agents", new CreateAgentRequest("Writer", "writer", ["llm_chat"], null, true), KaiJson.Options);
        Assert.Equal(HttpStatusCode.Created, seed000.StatusCode);
        var b = (await seed000.Content.ReadFromJsonAsync<AgentCreatedResponse>(KaiJson.Options))!;
        Assert.StartsWith("agent-", b.AgentId, StringComparison.Ordinal);
        Assert.NotEqual(a.ClientSecret, b.ClientSecret);

        // The secret never comes back, and the database holds only its hash.
        var shown = await client.GetStringAsync("api/v1/agents/agent-001");
        Assert.DoesNotContain(a.ClientSecret, shown, StringComparison.Ordinal);
        await hub.DisposeAsyncKeepingData();
        var db = await File.ReadAllBytesAsync(Path.Combine(hub.DataDirectory, "kai.db"));
        Assert.Equal(-1, db.AsSpan().IndexOf(System.Text.Encoding.UTF8.GetBytes(a.ClientSecret)));
    }

    [Fact]
    public async Task Duplicate_registration_gets_409_and_keeps_the_first_agent()
    {
        await using var hub = await TestHub.StartAsync();
        var alice = await hub.NewUserAsync();
        var bob = await hub.NewUserAsync();
        var first = await hub.NewAgentAsync(alice.AccessToken, "shared-id");
        using var client = hub.Client(bob.AccessToken);
        var again = await client.PostAsJsonAsync("api/v1/agents/register", new RegisterAgentRequest("shared-id", "x", null, null, null, null, null), KaiJson.Options);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        await AuthApiTests.AssertError(again, "CONFLICT");
        // The original credentials still work and the owner did not change.
        Assert.False(string.IsNullOrEmpty(await hub.AgentTokenAsync(first)));
        var view = await hub.Client(alice.AccessToken).GetFromJsonAsync<AgentView>("api/v1/agents/shared-id", KaiJson.Options);
        Assert.Equal(alice.UserProfile.UserId, view!.OwnerId);
    }

    [Fact]
    public async Task List_filters_by_type_capability_and_status_with_pagination()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        await hub.NewAgentAsync(user.AccessToken, "gen-1", "code_generation", "python");
        await hub.NewAgentAsync(user.AccessToken, "gen-2", "code_generation", "javascript");
        var live = await hub.NewAgentAsync(user.AccessToken, "rev-1", "review", "python");
        await using var link = await hub.ConnectAgentAsync(live);
        using var client = hub.Client(user.AccessToken);

        var byType = (await client.GetFromJsonAsync<AgentListResponse>("api/v1/agents?type=code_generation", KaiJson.Options))!;
        Assert.Equal(["gen-1", "gen-2"], byType.Agents.Select(a => a.AgentId));
        var byCap = (await client.GetFromJsonAsync<AgentListResponse>("api/v1/agents?capability=python", KaiJson.Options))!;
        Assert.Equal(["gen-1", "rev-1"], byCap.Agents.Select(a => a.AgentId));
        var active = (await client.GetFromJsonAsync<AgentListResponse>("api/v1/agents?status=active", KaiJson.Options))!;
        Assert.Equal(["rev-1"], active.Agents.Select(a => a.AgentId));
        Assert.True(active.Agents[0].Connected);
        var page = (await client.GetFromJsonAsync<AgentListResponse>("api/v1/agents?limit=2&offset=1", KaiJson.Options))!;
        Assert.Equal(3, page.Total);
        Assert.Equal(["gen-2", "rev-1"], page.Agents.Select(a => a.AgentId));
        Assert.False(page.Pagination.HasMore);

        var bad = await client.GetAsync("api/v1/agents?limit=1000");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        await AuthApiTests.AssertError(bad, "VALIDATION_ERROR");
    }

    [Fact]
    public async Task Another_users_agent_is_not_found_on_every_route()
    {
        await using var hub = await TestHub.StartAsync();
        var alice = await hub.NewUserAsync();
        var bob = await hub.NewUserAsync();
        await hub.NewAgentAsync(alice.AccessToken, "alices-agent");
        using var asBob = hub.Client(bob.AccessToken);

        var list = (await asBob.GetFromJsonAsync<AgentListResponse>("api/v1/agents", KaiJson.Options))!;
        Assert.Empty(list.Agents);
        var requests = new (HttpMethod, string, object?)[]
        {
            (HttpMethod.Get, "api/v1/agents/alices-agent", null),
            (HttpMethod.Put, "api/v1/agents/alices-agent", new UpdateAgentRequest("hijacked", null, null)),
            (HttpMethod.Delete, "api/v1/agents/alices-agent", null),
            (HttpMethod.Get, "api/v1/agents/alices-agent/status", null),
            (HttpMethod.Post, "api/v1/agents/alices-agent/heartbeat", new HeartbeatRequest("active", 0, null)),
            (HttpMethod.Post, "api/v1/agents/alices-agent/restart", new RestartRequest(false)),
            (HttpMethod.Post, "api/v1/agents/alices-agent/command", new SendCommandRequest("ping", Timeout: 0)),
        };
        foreach (var (method, path, body) in requests)
        {
            var res = await asBob.SendAsync(new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body, body.GetType(), options: KaiJson.Options) });
            Assert.True(res.StatusCode == HttpStatusCode.NotFound, $"{method} {path} gave {res.StatusCode}");
            await AuthApiTests.AssertError(res, "AGENT_NOT_FOUND");
        }
        var still = await hub.Client(alice.AccessToken).GetFromJsonAsync<AgentView>("api/v1/agents/alices-agent", KaiJson.Options);
        Assert.Equal("alices-agent", still!.Name);
    }

    [Fact]
    public async Task Update_reports_changed_fields_and_delete_revokes_credentials()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        var agent = await hub.NewAgentAsync(user.AccessToken, "upd-1");
        using var client = hub.Client(user.AccessToken);

        var put = await client.PutAsJsonAsync("api/v1/agents/upd-1", new UpdateAgentRequest("Renamed", JsonDocument.Parse("""{"k":1}""").RootElement, ["a", "b"]), KaiJson.Options);
        var update = (await put.Content.ReadFromJsonAsync<UpdateAgentResponse>(KaiJson.Options))!;
        Assert.Equal(["name", "capabilities", "config"], update.UpdatedFields);
        var view = (await client.GetFromJsonAsync<AgentView>("api/v1/agents/upd-1", KaiJson.Options))!;
        Assert.Equal("Renamed", view.Name);
        Assert.Equal(["a", "b"], view.Capabilities);
        Assert.Equal(1, view.Config.GetProperty("k").GetInt32());

        await using var link = await hub.ConnectAgentAsync(agent);
        var del = await client.DeleteAsync("api/v1/agents/upd-1");
        var deleted = (await del.Content.ReadFromJsonAsync<DeleteAgentResponse>(KaiJson.Options))!;
        Assert.True(deleted.Deleted);
        Assert.Equal(CloseCodes.InvalidSession, await link.ReceiveCloseAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("api/v1/agents/upd-1")).StatusCode);
        var token = await hub.Http.PostAsync("api/v1/auth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = agent.ClientId, ["client_secret"] = agent.ClientSecret,
        }));
        Assert.Equal(HttpStatusCode.Unauthorized, token.StatusCode);
    }

    [Fact]
    public async Task Invalid_agent_bodies_are_rejected_and_nothing_is_stored()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        using var client = hub.Client(user.AccessToken);
        var cases = new object[]
        {
            new RegisterAgentRequest("x", "t", null, null, null, null, null),                       // id too short
            new RegisterAgentRequest("bad id!", "t", null, null, null, null, null),                 // id characters
            new RegisterAgentRequest(null, "", null, null, null, null, null),                       // empty type
            new RegisterAgentRequest(null, "t", null, null, Enumerable.Repeat("c", 65).ToArray(), null, null),
            new RegisterAgentRequest(null, "t", null, null, null, "ftp://x", null),
            new RegisterAgentRequest(null, "t", null, null, null, null, JsonDocument.Parse("[1]").RootElement),
        };
        foreach (var body in cases)
        {
            var res = await client.PostAsJsonAsync("api/v1/agents/register", body, KaiJson.Options);
            Assert.Equal(HttpStatusCode.BadRequest, res.StatusCode);
            await AuthApiTests.AssertError(res, "VALIDATION_ERROR");
        }
        var list = (await client.GetFromJsonAsync<AgentListResponse>("api/v1/agents", KaiJson.Options))!;
        Assert.Equal(0, list.Total);
    }

    [Fact]
    public async Task Rest_heartbeats_drive_status_and_three_missed_intervals_mean_offline()
    {
        var clock = TestClock.Create();
        await using var hub = await TestHub.StartAsync(clock);
        var user = await hub.NewUserAsync();
        var agent = await hub.NewAgentAsync(user.AccessToken, "hb-1");
        using var asAgent = hub.Client(await hub.AgentTokenAsync(agent));
        using var asOwner = hub.Client(user.AccessToken);

        var hb = await asAgent.PostAsJsonAsync("api/v1/agents/hb-1/heartbeat",
            new HeartbeatRequest("idle", 3, JsonDocument.Parse("""{"cpu_usage": 45.2}""").RootElement), KaiJson.Options);
        Assert.Equal(HttpStatusCode.OK, hb.StatusCode);
        var status = (await asOwner.GetFromJsonAsync<AgentStatusResponse>("api/v1/agents/hb-1/status", KaiJson.Options))!;
        Assert.Equal("idle", status.Status);
        Assert.Equal(3, status.ResourceUsage.CurrentTasks);
        Assert.Equal(45.2, status.ResourceUsage.PerformanceMetrics.GetProperty("cpu_usage").GetDouble());
        Assert.False(status.Health.Connected);

        var sweeper = hub.Service<Kai.Hub.Housekeeping.HubSweeper>();
        clock.Advance(TimeSpan.FromSeconds(89));
        await sweeper.SweepOnceAsync(CancellationToken.None);
        Assert.Equal("idle", (await asOwner.GetFromJsonAsync<AgentView>("api/v1/agents/hb-1", KaiJson.Options))!.Status);
        clock.Advance(TimeSpan.FromSeconds(2));
        await sweeper.SweepOnceAsync(CancellationToken.None);
        status = (await asOwner.GetFromJsonAsync<AgentStatusResponse>("api/v1/agents/hb-1/status", KaiJson.Options))!;
        Assert.Equal("offline", status.Status);
        Assert.Equal(3, status.Health.MissedHeartbeats);

        var bad = await asAgent.PostAsJsonAsync("api/v1/agents/hb-1/heartbeat", new HeartbeatRequest("sleeping", -1, null), KaiJson.Options);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task An_agent_token_cannot_manage_agents_or_heartbeat_for_another_agent()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        var a = await hub.NewAgentAsync(user.AccessToken, "self-a");
        await hub.NewAgentAsync(user.AccessToken, "self-b");
        using var asA = hub.Client(await hub.AgentTokenAsync(a));
        Assert.Equal(HttpStatusCode.Forbidden, (await asA.PostAsJsonAsync("api/v1/agents", new CreateAgentRequest("x", "y", null, null, null), KaiJson.Options)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await asA.GetAsync("api/v1/agents")).StatusCode);
        var other = await asA.PostAsJsonAsync("api/v1/agents/self-b/heartbeat", new HeartbeatRequest(null, null, null), KaiJson.Options);
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await asA.PostAsJsonAsync("api/v1/agents/self-a/heartbeat", new HeartbeatRequest(null, null, null), KaiJson.Options)).StatusCode);
    }
}
