using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kai.Cli.Cli;
using Kai.Client;
using Kai.Protocol;
using Kai.Protocol.Events;

namespace Kai.Cli.Commands;

/// <summary><c>kai events tail &lt;pattern&gt;...</c>: follows the event bus on <c>/ws</c>, reconnecting and resuming with the last id.</summary>
internal static class EventsCommand
{
    public static Command Create()
    {
        var patterns = new Argument<string[]>("pattern")
        {
            Description = "Topic patterns: dot-separated, '*' is one segment, a trailing '>' one or more (e.g. 'task.*.completed', 'agent.>').",
            Arity = ArgumentArity.OneOrMore,
        };
        var filter = new Option<string[]>("--filter", "-f")
        {
            Description = "A payload filter key=value (dotted keys walk into objects); repeat a key to allow several values. Values that are numbers, true, false or null are compared as such.",
            DefaultValueFactory = _ => [],
        };
        var since = new Option<string?>("--since") { Description = "Start after this event id (\"{epoch}-{offset}\"): what history still holds is replayed first." };
        var raw = new Option<bool>("--raw") { Description = "Print each event as its JSON instead of a readable line." };
        var tail = new Command("tail", """
            Follow events live until Ctrl-C, one line per event: time, id, topic, source -> target, payload.
            The link reconnects by itself and resumes after the last event printed; events lost meanwhile are reported as a GAP line.
            """)
        {
            patterns, filter, since, raw,
        };
        tail.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            var filters = BuildFilters(parse.GetValue(filter) ?? []);
            var from = parse.GetValue(since);
            if (from is not null && !EventPosition.TryParse(from, out _))
            {
                throw new CliException($"--since '{from}' is not an event id like 3f9a1c20b7d4-42.", ExitCodes.Usage);
            }
            using var client = await ctx.UserClientAsync(ct);
            var subscription = client.SubscribeEvents(parse.GetRequiredValue(patterns), new EventSubscriptionOptions { Filters = filters, Since = from });
            subscription.Subscribed += ack => Console.Error.WriteLine(
                $"{Stamp(DateTimeOffset.UtcNow)}  subscribed to {string.Join(", ", ack.Subscribed)} on {ctx.Url} at {ack.Position}"
                + (ack.Replayed > 0 ? $"; replaying {ack.Replayed}" : "") + " (Ctrl-C to stop)");
            subscription.Reconnecting += (reason, delay) =>
            {
                Console.Error.WriteLine($"{Stamp(DateTimeOffset.UtcNow)}  {reason}; reconnecting in {delay.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s from {subscription.LastEventId ?? "now"}");
                ctx.ReloadTokens(client);
            };
            var printRaw = parse.GetValue(raw);
            await foreach (var item in subscription.ReadAllAsync(ct))
            {
                Console.WriteLine(printRaw ? JsonSerializer.Serialize((object?)item.Event ?? item.Gap, KaiJson.Options) : Describe(item));
            }
            // Ctrl-C is how tail is meant to end.
            return ExitCodes.Ok;
        }));
        var events = new Command("events", "Follow the hub's event bus (tasks, workflows, agents, publications).");
        events.Subcommands.Add(tail);
        return events;
    }

    /// <summary>Builds the filters object: <c>k=v</c> pairs, a repeated key becomes a list of allowed values.</summary>
    /// <exception cref="CliException">A pair without <c>=</c>.</exception>
    public static JsonObject? BuildFilters(IReadOnlyList<string> pairs)
    {
        if (pairs.Count == 0)
        {
            return null;
        }
        var values = new Dictionary<string, List<JsonNode?>>(StringComparer.Ordinal);
        foreach (var pair in pairs)
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new CliException($"--filter '{pair}' is not key=value.", ExitCodes.Usage);
            }
            var value = SendCommand.ParseValue(pair[(eq + 1)..]);
            if (value is JsonObject or JsonArray)
            {
                value = JsonValue.Create(pair[(eq + 1)..]);
            }
            (values.TryGetValue(pair[..eq], out var list) ? list : values[pair[..eq]] = []).Add(value);
        }
        var filters = new JsonObject();
        foreach (var (key, list) in values)
        {
            filters[key] = list.Count == 1 ? list[0] : new JsonArray([.. list]);
        }
        return filters;
    }

    /// <summary>One readable line for an event or a gap.</summary>
    public static string Describe(EventOrGap item)
    {
        ArgumentNullException.ThrowIfNull(item);
        if (item.Gap is { } gap)
        {
            return $"{Stamp(DateTimeOffset.UtcNow)}  GAP    events after {gap.Requested} were lost ({gap.Reason}); "
                + $"first still available: {gap.FirstAvailable ?? "none"}, current: {gap.Current}. Re-read any state you derive from events.";
        }
        var e = item.Event!;
        var route = e.SourceAgent is null && e.TargetAgent is null ? "" : $"  {e.SourceAgent ?? "-"} -> {e.TargetAgent ?? "-"}";
        return $"{Stamp(e.Timestamp)}  {e.Id}  {e.Topic}{route}  {Output.Compact(e.Payload)}";
    }

    private static string Stamp(DateTimeOffset time) => time.UtcDateTime.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);
}
