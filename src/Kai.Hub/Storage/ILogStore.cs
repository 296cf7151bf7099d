namespace Kai.Hub.Storage;

/// <summary>A stored agent log entry. <see cref="LevelRank"/>: debug 0, info 1, warn 2, error 3.</summary>
public sealed record LogRecord(
    long LogId, string AgentId, string Level, int LevelRank, string Message, string? Component, string? ContextJson, DateTimeOffset Timestamp, DateTimeOffset ReceivedAt);

/// <summary>A page query over one agent's logs, newest first; <see cref="Before"/> is the cursor (a log id).</summary>
public sealed record LogQuery(string AgentId, int MinLevelRank, DateTimeOffset? Since, long? Before, int Limit);

/// <summary>Agent logs, kept for a retention window.</summary>
public interface ILogStore
{
    Task AppendLogAsync(LogRecord entry, CancellationToken ct);

    /// <summary>A page of entries (newest first) and the count of all entries matching level and since.</summary>
    Task<(IReadOnlyList<LogRecord> Items, int Total)> ListLogsAsync(LogQuery query, CancellationToken ct);

    /// <summary>Deletes entries received before <paramref name="cutoff"/> and all but the newest <paramref name="maxPerAgent"/> of each agent; returns how many.</summary>
    Task<int> TrimLogsAsync(DateTimeOffset cutoff, int maxPerAgent, CancellationToken ct);
}
