using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Hub.Housekeeping;
using Kai.Hub.Tasks;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;

namespace Kai.Hub.Tests.Tasks;

/// <summary>Seed 000 background tasks: immediate, delayed and recurring (cron) schedules, on a fake clock.</summary>
public sealed class ScheduleTests
{
    [Fact]
    public async Task Delayed_task_waits_pending_until_its_time()
    {
        await using var kit = await TaskKit.StartAsync();
        var (agent, worker) = await kit.NewWorkerAsync("report");
        await using var _ = worker;
        var res = await kit.Api.PostAsJsonAsync($"api/v1/agents/{agent.AgentId}/task",
            new AgentTaskRequest("report", JsonSerializer.SerializeToElement(new { day = "mon" }), new TaskSchedule("delayed", 60)), KaiJson.Options);
        Assert.Equal(HttpStatusCode.Created, res.StatusCode);
        var created = (await res.Content.ReadFromJsonAsync<AgentTaskResponse>(KaiJson.Options))!;
        Assert.Equal("scheduled", created.Status);
        Assert.Equal(kit.Time.GetUtcNow().AddSeconds(60), created.NextRunAt);

        await kit.AdvanceAsync(TimeSpan.FromSeconds(59));
        Assert.Equal(TaskStatuses.Pending, (await kit.GetTaskAsync(created.TaskId)).Status);
        await kit.AdvanceAsync(TimeSpan.FromSeconds(2));
        var task = await TaskKit.ReceiveTaskAsync(worker);
        Assert.Equal(created.TaskId, task.TaskId);
        Assert.Equal("mon", task.InputData.GetProperty("day").GetString());
    }

    [Fact]
    public async Task Recurring_schedule_creates_one_task_per_firing_until_deleted()
    {
        await using var kit = await TaskKit.StartAsync();
        var (agent, worker) = await kit.NewWorkerAsync("tick");
        await using var _ = worker;
        var res = await kit.Api.PostAsJsonAsync($"api/v1/agents/{agent.AgentId}/task",
            new AgentTaskRequest("tick", null, new TaskSchedule("recurring", Cron: "*/10 * * * * *")), KaiJson.Options);
        Assert.Equal(HttpStatusCode.Created, res.StatusCode);
        var created = (await res.Content.ReadFromJsonAsync<AgentTaskResponse>(KaiJson.Options))!;
        Assert.StartsWith("sch_", created.ScheduleId, StringComparison.Ordinal);
        var start = kit.Time.GetUtcNow();
        Assert.Equal(start.AddSeconds(10), created.NextRunAt);

        var list = (await kit.Api.GetFromJsonAsync<ScheduleListResponse>("api/v1/schedules", KaiJson.Options))!;
        var schedule = Assert.Single(list.Schedules);
        Assert.Equal("*/10 * * * * *", schedule.Cron);

        await kit.AdvanceAsync(TimeSpan.FromSeconds(10));
        var first = await TaskKit.ReceiveTaskAsync(worker);
        await kit.CompleteAsync(worker, first);
        await kit.AdvanceAsync(TimeSpan.FromSeconds(10));
        var second = await TaskKit.ReceiveTaskAsync(worker);
        Assert.NotEqual(first.TaskId, second.TaskId);
        await kit.CompleteAsync(worker, second);
        Assert.Equal(2, (await kit.ListTasksAsync("?type=tick")).Total);

        Assert.Equal(HttpStatusCode.OK, (await kit.Api.DeleteAsync($"api/v1/schedules/{created.ScheduleId}")).StatusCode);
        Assert.Empty((await kit.Api.GetFromJsonAsync<ScheduleListResponse>("api/v1/schedules", KaiJson.Options))!.Schedules);
        await kit.AdvanceAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(2, (await kit.ListTasksAsync("?type=tick")).Total);
    }

    [Fact]
    public async Task Missed_firings_fire_once_then_skip_to_the_next_time()
    {
        // The background sweep must not run during the jump (a hub that is down does not sweep).
        await using var kit = await TaskKit.StartAsync(new Dictionary<string, string> { ["Kai:Links:SweepInterval"] = "00:10:00" });
        var agent = await kit.NewAgentAsync("tick");
        var res = await kit.Api.PostAsJsonAsync($"api/v1/agents/{agent.AgentId}/task",
            new AgentTaskRequest("tick", null, new TaskSchedule("recurring", Cron: "* * * * *")), KaiJson.Options);
        var created = (await res.Content.ReadFromJsonAsync<AgentTaskResponse>(KaiJson.Options))!;
        // Five minutes in one step, as if the hub had been down: one task, and the schedule moves past now.
        kit.Time.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1));
        await kit.Hub.Service<Kai.Hub.Housekeeping.HubSweeper>().SweepOnceAsync(CancellationToken.None);
        Assert.Equal(1, (await kit.ListTasksAsync("?type=tick")).Total);
        var schedule = (await kit.Api.GetFromJsonAsync<ScheduleView>($"api/v1/schedules/{created.ScheduleId}", KaiJson.Options))!;
        Assert.True(schedule.NextRunAt > kit.Time.GetUtcNow());
    }

    [Fact]
    public async Task Bad_schedule_gets_a_400()
    {
        await using var kit = await TaskKit.StartAsync();
        var agent = await kit.NewAgentAsync("tick");
        foreach (var schedule in new[] { new TaskSchedule("recurring", Cron: "not cron"), new TaskSchedule("recurring", Cron: "61 * * * *"), new TaskSchedule("recurring", Cron: "0 0 * * 8"), new TaskSchedule("delayed"), new TaskSchedule("weekly") })
        {
            var res = await kit.Api.PostAsJsonAsync($"api/v1/agents/{agent.AgentId}/task", new AgentTaskRequest("tick", null, schedule), KaiJson.Options);
            await TaskKit.AssertErrorAsync(res, HttpStatusCode.BadRequest, ErrorCodes.ValidationError);
        }
        Assert.Equal(0, (await kit.ListTasksAsync()).Total);
    }

    [Theory]
    [InlineData("30 4 * * 1", "0 30 4 ? * MON", "2026-01-19T04:30:00Z")] // Unix Monday is 1; Quartz would read 1 as Sunday
    [InlineData("0 9 * * 0", null, "2026-01-18T09:00:00Z")]              // Sunday as 0
    [InlineData("0 9 * * 7", null, "2026-01-18T09:00:00Z")]              // and as 7
    [InlineData("0 9 * * 1-5", null, "2026-01-16T09:00:00Z")]            // weekdays: Friday next
    [InlineData("15 */5 * * * *", null, "2026-01-15T12:00:15Z")]         // six fields: seconds first
    [InlineData("0 0 1 * *", null, "2026-02-01T00:00:00Z")]
    public void Cron_is_read_as_unix_crontab_and_evaluated_in_utc(string cron, string? quartz, string next)
    {
        Assert.True(CronSchedule.TryParse(cron, out var expression, out var quartzForm, out var error), error);
        if (quartz is not null)
        {
            Assert.Equal(quartz, quartzForm);
        }
        var from = new DateTimeOffset(2026, 1, 15, 12, 0, 0, TimeSpan.Zero); // a Thursday
        Assert.Equal(DateTimeOffset.Parse(next, System.Globalization.CultureInfo.InvariantCulture), expression!.GetNextValidTimeAfter(from));
    }
}
