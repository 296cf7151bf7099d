using System.CommandLine;
using System.Globalization;
using Kai.Cli.Cli;
using Kai.Protocol.Events;

namespace Kai.Cli.Commands;

/// <summary><c>kai logs &lt;agent&gt;</c>: an agent's stored log entries (seed 000), oldest of the page first; <c>--follow</c> polls for new ones.</summary>
internal static class LogsCommand
{
    public static Command Create()
    {
        var agent = new Argument<string>("agent") { Description = "The agent id." };
        var level = new Option<string?>("--level") { Description = "Minimum severity: debug, info, warn or error." };
        level.AcceptOnlyFromAmong("debug", "info", "warn", "error");
        var since = new Option<string?>("--since") { Description = "Only entries at or after this time: ISO 8601 (2026-01-15T12:00:00Z) or a duration back from now (30s, 10m, 2h, 1d)." };
        var limit = new Option<int>("--limit") { Description = "How many of the newest entries to print (1 to 1000).", DefaultValueFactory = _ => 100 };
        var follow = new Option<bool>("--follow", "-F") { Description = "Keep polling (every second) and print new entries until Ctrl-C." };
        var command = new Command("logs", "Print an agent's stored log lines: time, level, component, message.")
        {
            agent, level, since, limit, follow,
        };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            var max = parse.GetValue(limit);
            if (max is < 1 or > 1000)
            {
                throw new CliException("--limit must be 1 to 1000.", ExitCodes.Usage);
            }
            var from = ParseSince(parse.GetValue(since));
            var id = parse.GetRequiredValue(agent);
            using var client = await ctx.UserClientAsync(ct);
            var page = await client.GetAgentLogsAsync(id, parse.GetValue(level), from, max, ct: ct);
            var last = 0L;
            foreach (var entry in page.Logs.Reverse())
            {
                Console.WriteLine(Describe(entry));
                last = Math.Max(last, entry.LogId);
            }
            if (!parse.GetValue(follow))
            {
                if (page.Total > page.Logs.Count)
                {
                    Console.Error.WriteLine($"({page.Logs.Count} newest of {page.Total}; raise --limit or narrow with --since/--level)");
                }
                return ExitCodes.Ok;
            }
            try
            {
                while (true)
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), ct);
                    var newer = await client.GetAgentLogsAsync(id, parse.GetValue(level), from, 1000, ct: ct);
                    foreach (var entry in newer.Logs.Where(e => e.LogId > last).Reverse())
                    {
                        Console.WriteLine(Describe(entry));
                        last = Math.Max(last, entry.LogId);
                    }
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return ExitCodes.Ok;
            }
        }));
        return command;
    }

    /// <summary>Reads <c>--since</c>: an ISO 8601 time, or <c>{n}s|m|h|d</c> back from now.</summary>
    /// <exception cref="CliException">Neither.</exception>
    public static DateTimeOffset? ParseSince(string? text)
    {
        if (text is null)
        {
            return null;
        }
        if (text.Length >= 2 && int.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n))
        {
            TimeSpan? back = text[^1] switch
            {
                's' => TimeSpan.FromSeconds(n), 'm' => TimeSpan.FromMinutes(n), 'h' => TimeSpan.FromHours(n), 'd' => TimeSpan.FromDays(n), _ => null,
            };
            if (back is { } b)
            {
                return DateTimeOffset.UtcNow - b;
            }
        }
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
        {
            return at;
        }
        throw new CliException($"--since '{text}' is neither an ISO 8601 time nor a duration like 10m.", ExitCodes.Usage);
    }

    private static string Describe(LogEntry e) =>
        $"{Output.Time(e.Timestamp)}  {e.Level.ToUpperInvariant(),-5}  " + (e.Component is { } c ? $"[{c}] " : "") + e.Message;
}
