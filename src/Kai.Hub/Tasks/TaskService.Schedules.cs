using Kai.Protocol.Frames;
using Kai.Protocol.Rest;

namespace Kai.Hub.Tasks;

internal sealed partial class TaskService
{
    /// <summary>
    /// Fires every due recurring schedule once. Missed-firing policy: a schedule whose firings were missed (the hub was down) fires
    /// once for the oldest missed time, then moves to its next time after now; the other missed firings are skipped. The task id is
    /// derived from the schedule and the firing time and the firing is one transaction, so a firing is never doubled.
    /// </summary>
    private async Task FireSchedulesAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        foreach (var s in await scheduleStore.ListDueSchedulesAsync(now, ct))
        {
            var next = CronSchedule.FromQuartz(s.QuartzCron).GetNextValidTimeAfter(now) ?? DateTimeOffset.MaxValue.AddYears(-1);
            var taskId = $"{s.ScheduleId}:{s.NextFireAt.ToUnixTimeSeconds()}";
            var task = NewTask(taskId, s.OwnerId, s.CreatedBy, s.TaskType, s.Priority, s.AgentId, null, null, Json(s.ParametersJson), [],
                s.TimeoutSeconds, new RetryPolicy(s.MaxAttempts, s.Backoff), now, now) with { Status = TaskStatuses.Queued, ScheduleId = s.ScheduleId };
            if (await scheduleStore.FireScheduleAsync(s.ScheduleId, s.NextFireAt, task, next, ct))
            {
                Log.ScheduleFired(logger, s.ScheduleId, taskId);
                await events.TaskAsync(TaskEventTypes.TaskCreated, task);
            }
        }
    }
}
