using System.Text.Json;
using Kai.Hub.Agents;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Storage;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;

namespace Kai.Hub.Tasks;

/// <summary>
/// Seed 000's background tasks for one agent (<c>POST /api/v1/agents/{agent_id}/task</c>) with their schedule: immediate,
/// delayed (a pending task with a start time) or recurring (a stored cron schedule that creates one task per firing).
/// </summary>
internal sealed class ScheduleService(IScheduleStore store, TaskService tasks, AgentAccess access, TimeProvider time)
{
    public async Task<AgentTaskResponse> CreateAsync(KaiPrincipal principal, string agentId, AgentTaskRequest r, CancellationToken ct)
    {
        var kind = r.Schedule?.Type ?? "immediate";
        Quartz.CronExpression? cron = null;
        var quartz = "";
        string? cronError = null;
        if (kind == "recurring")
        {
            CronSchedule.TryParse(r.Schedule!.Cron, out cron, out quartz, out cronError);
        }
        new Validation()
            .Length(r.TaskType, "task_type", 1, 64)
            .Check(r.Parameters is null || r.Parameters.Value.ValueKind is JsonValueKind.Object or JsonValueKind.Null, "parameters", "must be a JSON object")
            .Check(kind is "immediate" or "delayed" or "recurring", "schedule.type", "must be immediate, delayed or recurring")
            .Check(kind != "delayed" || r.Schedule?.Delay is >= 1 and <= 31_536_000, "schedule.delay", "must be 1 to 31536000 seconds for a delayed task")
            .Check(kind != "recurring" || cronError is null, "schedule.cron", cronError ?? "")
            .Check(r.Priority is null || CommandStatuses.Priorities.Contains(r.Priority), "priority", "must be low, normal, high or urgent")
            .Check(r.Timeout is null or (>= 1 and <= 86400), "timeout", "must be 1 to 86400 seconds")
            .Check(r.RetryPolicy?.MaxAttempts is null or (>= 1 and <= 100), "retry_policy.max_attempts", "must be 1 to 100")
            .Check(r.RetryPolicy?.BackoffStrategy is null || TaskService.BackoffStrategies.Contains(r.RetryPolicy.BackoffStrategy), "retry_policy.backoff_strategy", "must be none, linear or exponential")
            .ThrowIfInvalid();
        var agent = await access.GetAsync(principal, agentId, ct);
        var now = time.GetUtcNow();
        if (kind == "recurring")
        {
            var next = cron!.GetNextValidTimeAfter(now)
                ?? throw new ApiException(ErrorCodes.ValidationError, "The cron expression never fires.", new Dictionary<string, string[]> { ["schedule.cron"] = ["never fires"] });
            var template = tasks.NewTask("-", agent.OwnerId, principal.Id, r.TaskType, r.Priority, agent.AgentId, null, null, r.Parameters, [], r.Timeout, r.RetryPolicy, now, now);
            var schedule = new ScheduleRecord(TaskService.NewId("sch_"), agent.OwnerId, principal.Id, agent.AgentId, r.TaskType, template.InputJson,
                template.Priority, template.TimeoutSeconds, template.MaxAttempts, template.Backoff, r.Schedule!.Cron!, quartz, next, null, null, now);
            await store.CreateScheduleAsync(schedule, ct);
            return new AgentTaskResponse(schedule.ScheduleId, "scheduled", next.AddSeconds(template.TimeoutSeconds), schedule.ScheduleId, next);
        }
        var runAt = kind == "delayed" ? now.AddSeconds(r.Schedule!.Delay!.Value) : now;
        var record = tasks.NewTask(TaskService.NewId("tsk_"), agent.OwnerId, principal.Id, r.TaskType, r.Priority, agent.AgentId, null, null,
            r.Parameters, [], r.Timeout, r.RetryPolicy, runAt, now);
        var (task, _) = await tasks.InsertAsync(record, ct);
        return new AgentTaskResponse(task.TaskId, kind == "delayed" ? "scheduled" : "running", runAt.AddSeconds(task.TimeoutSeconds), null,
            kind == "delayed" ? runAt : null);
    }

    public async Task<ScheduleListResponse> ListAsync(KaiPrincipal principal, CancellationToken ct)
    {
        var items = await store.ListSchedulesAsync(Access.TenantScope(principal), ct);
        return new ScheduleListResponse(items.Select(View).ToList(), items.Count);
    }

    public async Task<ScheduleRecord> GetVisibleAsync(KaiPrincipal principal, string scheduleId, CancellationToken ct)
    {
        var s = scheduleId.Length <= 64 ? await store.GetScheduleAsync(scheduleId, ct) : null;
        if (s is null || !Access.MayAccess(principal, s.OwnerId))
        {
            throw ApiException.NotFound($"Schedule '{scheduleId}'");
        }
        return s;
    }

    public async Task<DeleteScheduleResponse> DeleteAsync(KaiPrincipal principal, string scheduleId, CancellationToken ct)
    {
        var s = await GetVisibleAsync(principal, scheduleId, ct);
        if (!await store.DeleteScheduleAsync(s.ScheduleId, ct))
        {
            throw ApiException.NotFound($"Schedule '{scheduleId}'");
        }
        return new DeleteScheduleResponse(s.ScheduleId, true);
    }

    public static ScheduleView View(ScheduleRecord s) => new(
        s.ScheduleId, s.AgentId, s.TaskType, s.Cron, s.QuartzCron, TaskService.Json(s.ParametersJson)!.Value, s.NextFireAt, s.LastFiredAt, s.LastTaskId, s.CreatedAt);
}
