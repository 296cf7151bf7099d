using System.ComponentModel.DataAnnotations;

namespace Kai.Hub.Logs;

/// <summary>The <c>Kai:Logs</c> section: retention of agent logs. Enforced by the housekeeping sweep.</summary>
public sealed class LogOptions
{
    public const string Section = "Kai:Logs";

    /// <summary>Entries kept per agent; older ones are deleted at the next sweep. 1 to 10,000,000. Default: 10,000.</summary>
    [Range(1, 10_000_000)]
    public int MaxPerAgent { get; set; } = 10_000;

    /// <summary>How long entries are kept, by the hub's receive time. 1 minute to 365 days. Default: 7 days.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "365.00:00:00")]
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromDays(7);
}
