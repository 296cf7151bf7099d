using System.ComponentModel.DataAnnotations;

namespace Kai.Hub.Streams;

/// <summary>The <c>Kai:Streams</c> section: prompt stream bounds and clean-up. See <c>docs/protocol.md</c>, "Prompt streams".</summary>
public sealed class StreamOptions
{
    public const string Section = "Kai:Streams";

    /// <summary>Chunk bytes a paused stream may buffer; past it the hub cancels the stream (reason <c>pause_buffer_full</c>). 1 KiB to 64 MiB. Default: 256 KiB.</summary>
    [Range(1024, 64 * 1024 * 1024)]
    public int PauseBufferBytes { get; set; } = 256 * 1024;

    /// <summary>Delivered chunk bytes kept per stream so a reconnecting observer can resume from a chunk index. 0 to 64 MiB. Default: 1 MiB.</summary>
    [Range(0, 64 * 1024 * 1024)]
    public int RetainedBytes { get; set; } = 1024 * 1024;

    /// <summary>The largest chunk text, in characters. 1 to 1 Mi. Default: 64 Ki.</summary>
    [Range(1, 1024 * 1024)]
    public int MaxChunkChars { get; set; } = 64 * 1024;

    /// <summary>A running or paused stream without a chunk or control for this long is abandoned: cancelled and removed. 1 second to 1 day. Default: 5 minutes.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long a completed or cancelled stream stays available for resuming observers. 0 to 1 day. Default: 2 minutes.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan EndedRetention { get; set; } = TimeSpan.FromMinutes(2);
}
