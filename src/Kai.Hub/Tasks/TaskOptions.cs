using System.ComponentModel.DataAnnotations;

namespace Kai.Hub.Tasks;

/// <summary>The <c>Kai:Tasks</c> configuration section: leases, retries and routing of durable tasks. See docs/tasks.md.</summary>
public sealed class TaskOptions
{
    public const string Section = "Kai:Tasks";

    /// <summary>How long an attempt stays leased without progress. 1 second to 1 hour. Default: 30 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Seconds one attempt may run when the task gives no <c>timeout</c>. 1 to 86400. Default: 300 (seed 004).</summary>
    [Range(1, 86400)]
    public int DefaultTimeoutSeconds { get; set; } = 300;

    /// <summary>Queued tasks looked at per dispatch pass. 1 to 10000. Default: 256.</summary>
    [Range(1, 10000)]
    public int DispatchBatch { get; set; } = 256;

    /// <summary>Retry defaults for task types not listed in <see cref="Types"/>.</summary>
    public TaskRetryDefaults Retry { get; set; } = new();

    /// <summary>Per task type retry defaults, for example <c>Kai:Tasks:Types:code_generation:MaxAttempts=5</c>.</summary>
    public Dictionary<string, TaskRetryDefaults> Types { get; set; } = new(StringComparer.Ordinal);

    public TaskRetryDefaults RetryFor(string type) => Types.TryGetValue(type, out var t) ? t : Retry;
}

/// <summary>Retry defaults of a task type; a task's own <c>retry_policy</c> overrides the first two.</summary>
public sealed class TaskRetryDefaults
{
    /// <summary>Attempts in total. 1 to 100. Default: 3.</summary>
    [Range(1, 100)]
    public int MaxAttempts { get; set; } = 3;

    /// <summary><c>none</c>, <c>linear</c> or <c>exponential</c>. Default: <c>exponential</c>.</summary>
    [RegularExpression("^(none|linear|exponential)$")]
    public string BackoffStrategy { get; set; } = "exponential";

    /// <summary>The backoff unit: linear waits base × n, exponential base × 2^(n-1). 0 to 1 hour. Default: 1 second.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest backoff. Default: 5 minutes.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Jitter as a fraction of the delay: the delay is multiplied by a random factor in [1 - j, 1 + j]. 0 to 1. Default: 0.2.</summary>
    [Range(0.0, 1.0)]
    public double Jitter { get; set; } = 0.2;
}
