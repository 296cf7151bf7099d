using System.ComponentModel.DataAnnotations;

namespace Kai.Hub.Events;

/// <summary>The <c>Kai:Events</c> section: topic history, link limits and long polling. See <c>docs/protocol.md</c>, "Events".</summary>
public sealed class EventOptions
{
    public const string Section = "Kai:Events";

    /// <summary>Events kept per topic (and tenant) for recovery. 0 to 100,000. Default: 100.</summary>
    [Range(0, 100_000)]
    public int HistorySize { get; set; } = 100;

    /// <summary>How long an event stays in history. 1 second to 1 day. Default: 5 minutes.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan HistoryTtl { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Topics (per tenant) with a history; past it the least recently used are dropped at the next sweep. 10 to 1,000,000. Default: 10,000.</summary>
    [Range(10, 1_000_000)]
    public int MaxTopics { get; set; } = 10_000;

    /// <summary>Patterns one <c>subscribe</c> frame may carry. 1 to 1,000. Default: 32.</summary>
    [Range(1, 1_000)]
    public int MaxPatternsPerSubscribe { get; set; } = 32;

    /// <summary>Patterns one link (or SSE stream, or poll) may hold in all. 1 to 10,000. Default: 128.</summary>
    [Range(1, 10_000)]
    public int MaxPatternsPerLink { get; set; } = 128;

    /// <summary>The largest <c>data</c> of a publish, in bytes of JSON. 16 bytes to 1 MiB. Default: 64 KiB.</summary>
    [Range(16, 1024 * 1024)]
    public int MaxPublishBytes { get; set; } = 64 * 1024;

    /// <summary>Bytes an SSE stream may have queued before it is ended as a slow consumer. 64 KiB to 256 MiB. Default: 4 MiB.</summary>
    [Range(64 * 1024, 256 * 1024 * 1024)]
    public int SseQueueBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>The longest <c>wait</c> a long poll may ask for, in seconds. 0 to 120. Default: 60.</summary>
    [Range(0, 120)]
    public int MaxPollWaitSeconds { get; set; } = 60;
}
