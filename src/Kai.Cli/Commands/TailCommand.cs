using System.CommandLine;
using System.Globalization;
using System.Net.Http;
using System.Net.WebSockets;
using System.Text.Json;
using Kai.Cli.Cli;
using Kai.Client;
using Kai.Protocol;
using Kai.Protocol.Frames;

namespace Kai.Cli.Commands;

/// <summary><c>kai tail &lt;agent&gt;</c>: the observer link, printed one frame per line until Ctrl-C.</summary>
internal static class TailCommand
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(15);

    public static Command Create()
    {
        var agent = new Argument<string>("agent") { Description = "The agent id." };
        var raw = new Option<bool>("--raw") { Description = "Print each frame as its JSON instead of a readable line." };
        var command = new Command("tail", "Follow an agent's live events (status, logs, commands, results, messages) until Ctrl-C; reconnects when the link drops.")
        {
            agent, raw,
        };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            try
            {
                return await FollowAsync(ctx, parse.GetRequiredValue(agent), parse.GetValue(raw), ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // Ctrl-C is how tail is meant to end.
                return ExitCodes.Ok;
            }
        }));
        return command;
    }

    private static async Task<int> FollowAsync(CliContext ctx, string agentId, bool printRaw, CancellationToken ct)
    {
        using var client = await ctx.UserClientAsync(ct);
        var backoff = TimeSpan.FromSeconds(1);
        var first = true;
        while (!ct.IsCancellationRequested)
        {
            HubLink link;
            try
            {
                ctx.ReloadTokens(client);
                link = await client.ConnectAsync(agentId, ct);
            }
            catch (Exception ex) when (!first && ex is HttpRequestException or WebSocketException or HubLinkClosedException { Code: null or CloseCodes.GoingAway or CloseCodes.InternalError })
            {
                // The hub is restarting or the network blinked: keep trying, as the agent itself does.
                Console.Error.WriteLine($"{Stamp(DateTimeOffset.UtcNow)}  link down ({ex.Message}); retrying in {backoff.TotalSeconds:0} s");
                await Task.Delay(backoff, ct);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
                continue;
            }
            first = false;
            await using (link)
            {
                backoff = TimeSpan.FromSeconds(1);
                Console.Error.WriteLine($"{Stamp(DateTimeOffset.UtcNow)}  following {agentId} on {ctx.Url} as {link.Welcome.Role} (Ctrl-C to stop)");
                await foreach (var frame in link.ReadAllAsync(ct))
                {
                    Console.WriteLine(printRaw ? JsonSerializer.Serialize(frame, KaiJsonContext.Default.Frame) : Describe(frame));
                }
                if (link.CloseCode is CloseCodes.InvalidSession or CloseCodes.AuthenticationFailed)
                {
                    throw new HubLinkClosedException(link.CloseCode, link.CloseReason);
                }
                Console.Error.WriteLine($"{Stamp(DateTimeOffset.UtcNow)}  link closed ({(link.CloseCode is { } code ? $"{code} {link.CloseReason}".TrimEnd() : "no close frame")}); reconnecting");
            }
            await Task.Delay(backoff, ct);
        }
        return ExitCodes.Ok;
    }

    private static string Stamp(DateTimeOffset time) => time.UtcDateTime.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);

    /// <summary>One readable line for a frame: time, type, and the fields that matter for that type.</summary>
    public static string Describe(Frame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        string detail;
        try
        {
            detail = frame.Type switch
            {
                FrameTypes.StatusUpdate when frame.PayloadAs<StatusUpdatePayload>() is { } s =>
                    $"{s.AgentId}: {s.PreviousStatus} -> {s.Status}" + (s.Reason is null ? "" : $" ({s.Reason})"),
                FrameTypes.Log when frame.PayloadAs<LogPayload>() is { } l =>
                    $"[{l.Level}]" + (l.Component is null ? "" : $" {l.Component}:") + $" {l.Message}",
                FrameTypes.Command when frame.PayloadAs<CommandPayload>() is { } c =>
                    $"{c.CommandId} {c.Command} {Output.Compact(c.Parameters)} (priority {c.Priority}, deadline {Output.Time(c.Deadline)})",
                FrameTypes.CommandResult when frame.PayloadAs<CommandResultPayload>() is { } r =>
                    $"{r.CommandId} {r.Status}" + (r.Error is null ? "" : $": {r.Error}") + (r.Result is { } v ? " " + Output.Compact(v) : ""),
                FrameTypes.AgentMessage => DescribeMessage(frame.Payload),
                FrameTypes.Error when frame.PayloadAs<ErrorPayload>() is { } e => $"{e.Code}: {e.Message}",
                _ => Output.Compact(frame.Payload),
            };
        }
        catch (JsonException)
        {
            detail = Output.Compact(frame.Payload);
        }
        return $"{Stamp(frame.Timestamp)}  {frame.Type,-14}  {detail}";
    }

    private static string DescribeMessage(JsonElement payload)
    {
        string Field(string name) => payload.ValueKind == JsonValueKind.Object && payload.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "?";
        var content = payload.ValueKind == JsonValueKind.Object && payload.TryGetProperty("content", out var c) ? Output.Compact(c) : "";
        var correlation = payload.ValueKind == JsonValueKind.Object && payload.TryGetProperty("correlation_id", out var cid) && cid.ValueKind == JsonValueKind.String
            ? $" [{cid.GetString()}]"
            : "";
        return $"{Field("from_agent")} -> {Field("to_agent")} {Field("message_type")}{correlation} {content}";
    }
}
