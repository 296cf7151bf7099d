using System.Globalization;
using System.Text;
using System.Text.Json;
using Kai.Hub.Housekeeping;
using Kai.Hub.Agents;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Observability;
using Kai.Hub.Storage;
using Kai.Protocol.Events;
using Kai.Protocol.Frames;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Logs;

/// <summary>
/// Agent logs (seed 000 <c>log</c> frames and <c>GET /agents/{id}/logs</c>): stored with bounded retention (count per
/// agent and age, enforced by the sweep) in addition to the live relay to observers.
/// </summary>
internal sealed class AgentLogs(ILogStore store, AgentAccess access, TimeProvider time, IOptionsMonitor<LogOptions> options) : IClusterHousekeeping
{
    // Read on each use: these settings may change at run time (/api/v1/config).
    private LogOptions _options => options.CurrentValue;

    public static int Rank(string? level) => level switch { "debug" => 0, "info" => 1, "warn" => 2, "error" => 3, _ => -1 };

    public Task AppendAsync(string agentId, LogPayload log, DateTimeOffset frameTime, CancellationToken ct) =>
        store.AppendLogAsync(new LogRecord(0, agentId, log.Level, Rank(log.Level), log.Message, log.Component,
            log.Context is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) } c ? c.GetRawText() : null,
            log.Timestamp ?? frameTime, time.GetUtcNow()), ct);

    public async Task<LogsResponse> ListAsync(KaiPrincipal principal, string agentId, string? level, string? since, int? limit, string? cursor, CancellationToken ct)
    {
        DateTimeOffset parsedSince = default;
        long parsedCursor = 0;
        new Validation()
            .Check(level is null || Rank(level) >= 0, "level", "must be debug, info, warn or error")
            .Check(since is null || DateTimeOffset.TryParse(since, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out parsedSince), "since", "must be an ISO 8601 timestamp")
            .Check(limit is null or (>= 1 and <= 1000), "limit", "must be 1 to 1000")
            .Check(cursor is null || (long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out parsedCursor) && parsedCursor > 0), "cursor", "must be a next_cursor from a previous page")
            .ThrowIfInvalid();
        var agent = await access.GetAsync(principal, agentId, ct);
        var pageSize = limit ?? 100;
        var (items, total) = await store.ListLogsAsync(new LogQuery(agent.AgentId, Math.Max(0, Rank(level)), since is null ? null : parsedSince,
            cursor is null ? null : parsedCursor, pageSize + 1), ct);
        var page = items.Take(pageSize).Select(View).ToList();
        return new LogsResponse(page, total, items.Count > pageSize ? page[^1].LogId.ToString(CultureInfo.InvariantCulture) : null);
    }

    public static string AsText(LogsResponse logs)
    {
        var text = new StringBuilder();
        foreach (var e in logs.Logs)
        {
            text.Append(e.Timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture))
                .Append(' ').Append(e.Level.ToUpperInvariant())
                .Append(e.Component is null ? "" : $" [{e.Component}]")
                .Append(' ').Append(e.Message.ReplaceLineEndings(" "))
                .Append('\n');
        }
        return text.ToString();
    }

    public async Task SweepAsync(CancellationToken ct) =>
        await store.TrimLogsAsync(time.GetUtcNow() - _options.MaxAge, _options.MaxPerAgent, ct);

    private static LogEntry View(LogRecord r)
    {
        JsonElement? context = null;
        if (r.ContextJson is not null)
        {
            using var doc = JsonDocument.Parse(r.ContextJson);
            context = doc.RootElement.Clone();
        }
        return new LogEntry(r.LogId, r.AgentId, r.Level, r.Message, r.Component, r.Timestamp, context);
    }
}
