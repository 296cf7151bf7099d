using System.Diagnostics;
using System.Text.Json;
using Kai.Client;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Microsoft.Extensions.Logging;

namespace Kai.Cli.Agent;

/// <summary>
/// The handlers <c>kai agent run</c> installs: the commands <c>text.stats</c>, <c>ask</c>, <c>shell</c>, <c>ping</c> and
/// <c>restart</c>; the message type <c>text.stats</c> (answered as <c>text.stats.result</c> by <see cref="AgentHost"/>); the task
/// types <c>text.stats</c> and <c>text.merge</c>; and a prompt stream handler that streams words back (<see cref="TextStream"/>).
/// </summary>
internal sealed partial class BuiltInHandlers(AgentHost host, ShellRunner shell, ILogger logger)
{
    private const string TextStatsType = "text.stats";
    private const string TextMergeType = "text.merge";
    private readonly Stopwatch _uptime = Stopwatch.StartNew();

    /// <summary>Installs every handler on the host.</summary>
    public void Install()
    {
        host.OnCommand(TextStatsType, (c, ct) => Logged(c, () => TextStatsAsync(c.Parameters, ct), ct));
        host.OnCommand("ask", (c, ct) => Logged(c, () => AskAsync(c.Parameters, ct), ct));
        host.OnCommand("shell", (c, ct) => Logged(c, () => ShellAsync(c.Parameters, ct), ct));
        host.OnCommand("ping", (c, ct) => Logged(c, () => Task.FromResult<object?>(new
        {
            Pong = true, host.AgentId, Time = DateTimeOffset.UtcNow, UptimeSeconds = Math.Round(_uptime.Elapsed.TotalSeconds, 1),
            Commands = new[] { "ask", "ping", "restart", "shell", TextStatsType },
        }), ct));
        host.OnCommand("restart", (c, ct) => Logged(c, () =>
        {
            // The hub sends this on POST /agents/{id}/restart. A CLI-hosted agent has nothing to reload, so it
            // acknowledges and stays connected; a supervisor that wants a fresh process restarts it itself.
            Log.RestartRequested(logger, c.CommandId, c.GetString("force") ?? "false");
            return Task.FromResult<object?>(new { Acknowledged = true, Restarted = false, Reason = "kai agent run holds no state to reload; it stays connected" });
        }, ct));
        host.OnTask(TextStatsType, (t, ct) => LoggedTask(t, async () =>
        {
            await t.ReportProgressAsync(10, ct: ct);
            return await TextStatsAsync(t.Input, ct);
        }));
        host.OnTask(TextMergeType, (t, ct) => LoggedTask(t, async () =>
        {
            await t.ReportProgressAsync(10, ct: ct);
            return TextMerge.Merge(t.Input);
        }));
        host.OnStream(TextStream.WordsAsync);
        host.OnMessage(TextStatsType, async (m, ct) =>
        {
            Log.MessageReceived(logger, m.FromAgent, m.MessageType);
            return await TextStatsAsync(m.Content, ct);
        });
    }

    private async Task<object?> LoggedTask(TaskContext task, Func<Task<object?>> run)
    {
        Log.TaskReceived(logger, task.TaskId, task.Task.Type, task.Task.Attempt);
        try
        {
            var result = await run();
            Log.TaskCompleted(logger, task.TaskId, task.Task.Type);
            return result;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.TaskFailed(logger, task.TaskId, task.Task.Type, ex.Message);
            throw;
        }
    }

    private async Task<object?> Logged(CommandContext command, Func<Task<object?>> run, CancellationToken ct)
    {
        Log.CommandReceived(logger, command.CommandId, command.Command);
        await RelayLogAsync("info", $"running {command.Command} ({command.CommandId})", ct);
        try
        {
            var result = await run();
            Log.CommandCompleted(logger, command.CommandId, command.Command);
            return result;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.CommandFailed(logger, command.CommandId, command.Command, ex.Message);
            await RelayLogAsync("warn", $"{command.Command} ({command.CommandId}) failed: {ex.Message}", ct);
            throw;
        }
    }

    /// <summary>Relays a log line to observers (<c>kai tail</c>); a link closing at that moment must not fail the command.</summary>
    private async Task RelayLogAsync(string level, string message, CancellationToken ct)
    {
        try
        {
            await host.LogAsync(level, message, "kai-agent", ct);
        }
        catch (Exception ex) when (ex is System.Net.WebSockets.WebSocketException or ObjectDisposedException or InvalidOperationException)
        {
            // AgentHost.LogAsync checks the link, then sends: the link can close in between. The log line is best effort.
        }
    }

    /// <summary><c>text.stats</c> with <c>{path}</c> or <c>{text}</c>, and optional <c>top</c> (default 10).</summary>
    public static async Task<object?> TextStatsAsync(JsonElement parameters, CancellationToken ct)
    {
        var top = Int(parameters, "top") ?? 10;
        if (top is < 0 or > 1000)
        {
            throw new ArgumentException("'top' must be 0 to 1000.");
        }
        if (String(parameters, "path") is { } path)
        {
            return await TextStats.OfFileAsync(path, top, ct);
        }
        if (String(parameters, "text") is { } text)
        {
            return TextStats.Compute(text, top);
        }
        throw new ArgumentException("text.stats needs {\"path\": \"...\"} or {\"text\": \"...\"} (and optionally \"top\").");
    }

    /// <summary>
    /// <c>ask</c>: <c>{to, message_type, content, timeout?}</c> sends one message with <c>requires_response</c> and returns the answer;
    /// <c>{to, paths: [...], top?, timeout?}</c> asks <c>text.stats</c> for each path (at once) and returns every answer.
    /// </summary>
    private async Task<object?> AskAsync(JsonElement parameters, CancellationToken ct)
    {
        var to = String(parameters, "to") ?? throw new ArgumentException("ask needs 'to' (the agent to ask).");
        var timeout = TimeSpan.FromSeconds(Int(parameters, "timeout") ?? 25);
        if (parameters.TryGetProperty("paths", out var paths))
        {
            if (paths.ValueKind != JsonValueKind.Array || paths.EnumerateArray().Any(p => p.ValueKind != JsonValueKind.String))
            {
                throw new ArgumentException("'paths' must be an array of file paths.");
            }
            var top = Int(parameters, "top") ?? 10;
            var answers = await Task.WhenAll(paths.EnumerateArray().Select(async p =>
            {
                var path = p.GetString()!;
                var answer = await host.AskAsync(to, TextStatsType, new { Path = path, Top = top }, timeout, ct);
                return new AskAnswer(path, answer.FromAgent, answer.MessageType, answer.Content, ErrorOf(answer));
            }));
            return new { Asked = to, MessageType = TextStatsType, Answers = answers };
        }
        var type = String(parameters, "message_type") ?? throw new ArgumentException("ask needs 'message_type' and 'content', or 'paths'.");
        var content = parameters.TryGetProperty("content", out var c) ? MaybeJson(c) : default;
        Log.Asking(logger, to, type);
        var reply = await host.AskAsync(to, type, content, timeout, ct);
        if (ErrorOf(reply) is { } error)
        {
            throw new InvalidOperationException($"{to} answered {reply.MessageType}: {error}");
        }
        return new { reply.FromAgent, reply.MessageType, reply.Content };
    }

    private static string? ErrorOf(AgentMessageDelivery answer) =>
        answer.MessageType.EndsWith(".error", StringComparison.Ordinal)
            ? String(answer.Content, "error") ?? answer.Content.GetRawText()
            : null;

    /// <summary>Content given as a JSON string that holds an object or array is sent as that object or array.</summary>
    private static JsonElement MaybeJson(JsonElement content)
    {
        if (content.ValueKind == JsonValueKind.String && content.GetString() is { } s && s.TrimStart() is ['{' or '[', ..])
        {
            try
            {
                using var doc = JsonDocument.Parse(s);
                return doc.RootElement.Clone();
            }
            catch (JsonException)
            {
                // Just a string that starts with a bracket.
            }
        }
        return content;
    }

    /// <summary><c>shell</c>: <c>{command, args?}</c>, run through the allow-list.</summary>
    private async Task<object?> ShellAsync(JsonElement parameters, CancellationToken ct)
    {
        var command = String(parameters, "command") ?? throw new ArgumentException("shell needs 'command' (a program name from the allow-list).");
        var args = new List<string>();
        if (parameters.TryGetProperty("args", out var a))
        {
            if (a.ValueKind != JsonValueKind.Array)
            {
                throw new ArgumentException("'args' must be an array of strings.");
            }
            args.AddRange(a.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.String ? x.GetString()! : x.GetRawText()));
        }
        var result = await shell.RunAsync(command, args, ct);
        Log.ShellRan(logger, command, result.ExitCode, result.TimedOut, result.Truncated);
        return result;
    }

    private static string? String(JsonElement o, string name) =>
        o.ValueKind == JsonValueKind.Object && o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static int? Int(JsonElement o, string name) =>
        o.ValueKind == JsonValueKind.Object && o.TryGetProperty(name, out var v)
            ? v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i
            : v.ValueKind == JsonValueKind.String && int.TryParse(v.GetString(), System.Globalization.CultureInfo.InvariantCulture, out var j) ? j
            : throw new ArgumentException($"'{name}' must be an integer.")
            : null;

    /// <summary>One answer of an <c>ask</c> with <c>paths</c>.</summary>
    internal sealed record AskAnswer(string Path, string FromAgent, string MessageType, JsonElement Content, string? Error);

    private static partial class Log
    {
        [LoggerMessage(101, LogLevel.Information, "command {CommandId} {Command}")]
        public static partial void CommandReceived(ILogger logger, string commandId, string command);

        [LoggerMessage(102, LogLevel.Information, "command {CommandId} {Command} completed")]
        public static partial void CommandCompleted(ILogger logger, string commandId, string command);

        [LoggerMessage(103, LogLevel.Warning, "command {CommandId} {Command} failed: {Error}")]
        public static partial void CommandFailed(ILogger logger, string commandId, string command, string error);

        [LoggerMessage(104, LogLevel.Information, "message {MessageType} from {FromAgent}")]
        public static partial void MessageReceived(ILogger logger, string fromAgent, string messageType);

        [LoggerMessage(105, LogLevel.Information, "asking {ToAgent} {MessageType}")]
        public static partial void Asking(ILogger logger, string toAgent, string messageType);

        [LoggerMessage(106, LogLevel.Information, "shell {Command} exited {ExitCode} (timed out: {TimedOut}, truncated: {Truncated})")]
        public static partial void ShellRan(ILogger logger, string command, int exitCode, bool timedOut, bool truncated);

        [LoggerMessage(108, LogLevel.Information, "task {TaskId} {Type} (attempt {Attempt})")]
        public static partial void TaskReceived(ILogger logger, string taskId, string type, int attempt);

        [LoggerMessage(109, LogLevel.Information, "task {TaskId} {Type} completed")]
        public static partial void TaskCompleted(ILogger logger, string taskId, string type);

        [LoggerMessage(110, LogLevel.Warning, "task {TaskId} {Type} failed: {Error}")]
        public static partial void TaskFailed(ILogger logger, string taskId, string type, string error);

        [LoggerMessage(107, LogLevel.Warning, "restart requested by command {CommandId} (force {Force}); acknowledged, staying connected")]
        public static partial void RestartRequested(ILogger logger, string commandId, string force);
    }
}
