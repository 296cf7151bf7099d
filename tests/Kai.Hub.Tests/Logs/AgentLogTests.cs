using Microsoft.Extensions.Time.Testing;
using System.Net;
using System.Net.Http.Json;
using Kai.Hub.Housekeeping;
using Kai.Hub.Observability;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Testing;

namespace Kai.Hub.Tests.Logs;

public sealed class AgentLogTests
{
    [Fact]
    public async Task Logs_are_stored_relayed_filtered_and_paged_with_a_cursor()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        var stranger = await hub.NewUserAsync();
        await using var agent = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "logger"));
        await using var observer = await hub.ConnectAsync("ws/agents/logger", user.AccessToken);
        await observer.ReceiveAsync();
        var levels = new[] { "debug", "info", "warn", "error", "info" };
        for (var i = 0; i < levels.Length; i++)
        {
            await agent.SendAsync("log", new { level = levels[i], message = $"m{i}", component = "core", context = new { i } }, $"l-{i}");
            await agent.ReceiveAsync("ack");
        }
        Assert.Equal("m0", (await observer.ReceiveAsync("log")).Payload.GetProperty("message").GetString());

        using var client = hub.Client(user.AccessToken);
        var all = (await client.GetFromJsonAsync<LogsResponse>("api/v1/agents/logger/logs?limit=2", KaiJson.Options))!;
        Assert.Equal(5, all.Total);
        Assert.Equal(["m4", "m3"], all.Logs.Select(l => l.Message));
        Assert.Equal(3, all.Logs[1].Context!.Value.GetProperty("i").GetInt32());
        var page2 = (await client.GetFromJsonAsync<LogsResponse>($"api/v1/agents/logger/logs?limit=2&cursor={all.NextCursor}", KaiJson.Options))!;
        Assert.Equal(["m2", "m1"], page2.Logs.Select(l => l.Message));
        var page3 = (await client.GetFromJsonAsync<LogsResponse>($"api/v1/agents/logger/logs?limit=2&cursor={page2.NextCursor}", KaiJson.Options))!;
        Assert.Equal(["m0"], page3.Logs.Select(l => l.Message));
        Assert.Null(page3.NextCursor);

        var warn = (await client.GetFromJsonAsync<LogsResponse>("api/v1/agents/logger/logs?level=warn", KaiJson.Options))!;
        Assert.Equal(2, warn.Total);
        Assert.Equal(["m3", "m2"], warn.Logs.Select(l => l.Message));
        var text = await client.GetStringAsync("api/v1/agents/logger/logs?format=text&level=error");
        Assert.Matches(@"^\d{4}-\d\d-\d\dT[\d:.]+Z ERROR \[core\] m3\n$", text);

        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("api/v1/agents/logger/logs?level=loud")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("api/v1/agents/logger/logs?cursor=abc")).StatusCode);
        using var other = hub.Client(stranger.AccessToken);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync("api/v1/agents/logger/logs")).StatusCode);
    }

    [Fact]
    public async Task Retention_keeps_the_newest_per_agent_and_drops_entries_past_their_age()
    {
        var clock = TestClock.Create();
        await using var hub = await TestHub.StartAsync(clock, settings: new Dictionary<string, string>
        {
            ["Kai:Logs:MaxPerAgent"] = "3",
            ["Kai:Logs:MaxAge"] = "01:00:00",
            // The fake clock jumps by tens of minutes: keep the agent's link from timing out meanwhile.
            ["Kai:Links:HeartbeatInterval"] = "00:10:00",
            ["Kai:Links:MaxMissedHeartbeats"] = "10",
            ["Kai:Auth:AccessTokenLifetime"] = "1.00:00:00",
        });
        var user = await hub.NewUserAsync();
        await using var agent = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "retained"));
        for (var i = 0; i < 5; i++)
        {
            await agent.SendAsync("log", new { level = "info", message = $"old{i}" }, $"l-{i}");
            await agent.ReceiveAsync("ack");
        }
        var sweeper = hub.Service<HubSweeper>();
        await sweeper.SweepOnceAsync(CancellationToken.None);
        using var client = hub.Client(user.AccessToken);
        var kept = (await client.GetFromJsonAsync<LogsResponse>("api/v1/agents/retained/logs", KaiJson.Options))!;
        Assert.Equal(["old4", "old3", "old2"], kept.Logs.Select(l => l.Message));

        clock.Advance(TimeSpan.FromMinutes(30));
        await agent.SendAsync("log", new { level = "info", message = "new" }, "l-new");
        await agent.ReceiveAsync("ack");
        clock.Advance(TimeSpan.FromMinutes(40));
        await sweeper.SweepOnceAsync(CancellationToken.None);
        var fresh = (await client.GetFromJsonAsync<LogsResponse>("api/v1/agents/retained/logs", KaiJson.Options))!;
        Assert.Equal(["new"], fresh.Logs.Select(l => l.Message));
        Assert.Equal(1, fresh.Total);
    }
}
