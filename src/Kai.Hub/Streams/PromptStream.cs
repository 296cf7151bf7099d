namespace Kai.Hub.Streams;

internal static class StreamStates
{
    public const string Running = "running";
    public const string Paused = "paused";
    public const string Completed = "completed";
    public const string Cancelled = "cancelled";
}

/// <summary>
/// One prompt stream's state. All changes happen under its lock, and every frame to observers is queued under it, so
/// each observer in the stream's group (<see cref="Routing.Address.Stream"/>) gets chunks in index order with no gap or duplicate, across pause, resume and re-attach.
/// </summary>
internal sealed class PromptStream(string streamId, string agentId, string ownerId, DateTimeOffset now)
{
    public object Gate { get; } = new();

    public string StreamId { get; } = streamId;

    public string AgentId { get; } = agentId;

    public string OwnerId { get; } = ownerId;

    public string State { get; set; } = StreamStates.Running;

    /// <summary>Retained chunk frames, by index; the oldest delivered ones are dropped past the retention bound.</summary>
    public List<(int Index, byte[] Frame)> Chunks { get; } = [];

    public long RetainedBytes { get; set; }

    /// <summary>The next index the agent must send.</summary>
    public int NextIndex { get; set; }

    /// <summary>Chunks below this index have been delivered to the attached observers; the rest are buffered by a pause.</summary>
    public int Delivered { get; set; }

    public long PendingBytes { get; set; }

    public int? FinalIndex { get; set; }

    public DateTimeOffset LastActivity { get; set; } = now;

    public DateTimeOffset? EndedAt { get; set; }

    public int FirstRetained => Chunks.Count == 0 ? NextIndex : Chunks[0].Index;

    public bool IsEnded => State is StreamStates.Completed or StreamStates.Cancelled;
}
