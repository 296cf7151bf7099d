namespace Kai.Hub.Storage;

/// <summary>Cron schedules that fire tasks into the queue (seed 004).</summary>
public interface IScheduleStore
{
    /// <summary>Inserts a schedule (the id is new).</summary>
    Task CreateScheduleAsync(ScheduleRecord schedule, CancellationToken ct);

    Task<ScheduleRecord?> GetScheduleAsync(string scheduleId, CancellationToken ct);

    /// <summary>Schedules of <paramref name="ownerId"/> (null: all).</summary>
    Task<IReadOnlyList<ScheduleRecord>> ListSchedulesAsync(string? ownerId, CancellationToken ct);

    /// <summary>False if the schedule is unknown.</summary>
    Task<bool> DeleteScheduleAsync(string scheduleId, CancellationToken ct);

    /// <summary>Schedules whose next firing is at or before <paramref name="now"/>, earliest first (a bounded batch).</summary>
    Task<IReadOnlyList<ScheduleRecord>> ListDueSchedulesAsync(DateTimeOffset now, CancellationToken ct);

    /// <summary>
    /// One firing, atomically: inserts <paramref name="task"/> (its id is derived from the schedule and the firing time, so a
    /// firing repeated after a crash inserts nothing) and moves the schedule to <paramref name="nextFireAt"/>, only if the schedule
    /// is still due at <paramref name="firedAt"/>. Returns false if another sweep fired it first or it was deleted.
    /// </summary>
    Task<bool> FireScheduleAsync(string scheduleId, DateTimeOffset firedAt, TaskRecord task, DateTimeOffset nextFireAt, CancellationToken ct);
}
