using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kai.Cli.Cli;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;

namespace Kai.Cli.Commands;

/// <summary><c>kai send</c> (a command to an agent, waiting for its result) and <c>kai status</c> (a command's state).</summary>
internal static class SendCommand
{
    public static IEnumerable<Command> Create()
    {
        yield return Send();
        yield return Status();
    }

    private static Command Send()
    {
        var agent = new Argument<string>("agent") { Description = "The agent id." };
        var name = new Argument<string>("command") { Description = "The command name, for example text.stats." };
        var param = new Option<string[]>("--param", "-p")
        {
            Description = "A parameter as key=value; repeat for several. The value is read as JSON when it is a number, true, false, null, an array or an object, else as a string.",
            DefaultValueFactory = _ => [],
        };
        var json = new Option<string?>("--json") { Description = "The parameters as a JSON object; --param values are set on top of it." };
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for the result, 0 to 300.", DefaultValueFactory = _ => 30 };
        var priority = new Option<string?>("--priority") { Description = "low, normal, high or urgent." };
        priority.AcceptOnlyFromAmong([.. CommandStatuses.Priorities]);
        var full = new Option<bool>("--full") { Description = "Print the whole response (command id, status, deadline), not only the result." };
        var command = new Command("send", """
            Send a command to an agent and print its result as JSON.
            Exit code: 0 completed, 1 failed (the error goes to stderr), 3 still queued or executing when the wait ended.
            """)
        {
            agent, name, param, json, timeout, priority, full,
        };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            var parameters = BuildParameters(parse.GetValue(json), parse.GetValue(param) ?? []);
            using var client = await ctx.UserClientAsync(ct);
            var wait = parse.GetValue(timeout);
            var response = await client.SendCommandAsync(parse.GetRequiredValue(agent),
                new SendCommandRequest(parse.GetRequiredValue(name), parameters, parse.GetValue(priority), wait), ct);
            return Report(response, parse.GetValue(full));
        }));
        return command;
    }

    private static Command Status()
    {
        var id = new Argument<string>("command-id") { Description = "The command id printed by `kai send`." };
        var command = new Command("status", "Show the state of a command sent earlier (exit code as for `kai send`).") { id };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            using var client = await ctx.UserClientAsync(ct);
            var status = await client.GetTaskStatusAsync(parse.GetRequiredValue(id), ct);
            Console.WriteLine(Output.Json(status));
            return status.Status switch
            {
                CommandStatuses.Completed => ExitCodes.Ok,
                CommandStatuses.Failed => ExitCodes.Error,
                _ => ExitCodes.Pending,
            };
        }));
        return command;
    }

    private static int Report(CommandResponse response, bool full)
    {
        switch (response.Status)
        {
            case CommandStatuses.Completed:
                Console.WriteLine(full ? Output.Json(response) : Output.Json(response.Result));
                return ExitCodes.Ok;
            case CommandStatuses.Failed:
                if (full)
                {
                    Console.WriteLine(Output.Json(response));
                }
                Console.Error.WriteLine($"error: command {response.CommandId} failed: {response.Error ?? "no reason given"}");
                return ExitCodes.Error;
            default:
                if (full)
                {
                    Console.WriteLine(Output.Json(response));
                }
                Console.Error.WriteLine(response.Status == CommandStatuses.Queued
                    ? $"command {response.CommandId} is queued: the agent is offline; it will be delivered when the agent connects, until {Output.Time(response.Deadline)}."
                    : $"command {response.CommandId} is still executing on the agent.");
                Console.Error.WriteLine($"check it with: kai status {response.CommandId}");
                return ExitCodes.Pending;
        }
    }

    /// <summary>Merges <c>--json</c> and <c>--param k=v</c> into one parameters object.</summary>
    /// <exception cref="CliException">The JSON is not an object, or a parameter has no <c>=</c>.</exception>
    public static JsonElement? BuildParameters(string? json, IReadOnlyList<string> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        JsonObject parameters;
        if (json is null)
        {
            parameters = [];
        }
        else
        {
            JsonNode? node;
            try
            {
                node = JsonNode.Parse(json);
            }
            catch (JsonException ex)
            {
                throw new CliException($"--json is not valid JSON: {ex.Message}", ExitCodes.Usage);
            }
            parameters = node as JsonObject ?? throw new CliException("--json must be a JSON object, like '{\"path\": \"README.md\"}'.", ExitCodes.Usage);
        }
        foreach (var pair in pairs)
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new CliException($"--param '{pair}' is not key=value.", ExitCodes.Usage);
            }
            parameters[pair[..eq]] = ParseValue(pair[(eq + 1)..]);
        }
        return parameters.Count == 0 && json is null ? null : JsonSerializer.SerializeToElement(parameters, KaiJson.Options);
    }

    internal static JsonNode? ParseValue(string text)
    {
        var trimmed = text.Trim();
        var looksJson = trimmed is "true" or "false" or "null"
            || (trimmed.Length > 0 && (trimmed[0] is '{' or '[' or '-' || char.IsAsciiDigit(trimmed[0])));
        if (looksJson)
        {
            try
            {
                return JsonNode.Parse(trimmed);
            }
            catch (JsonException)
            {
                // Not JSON after all (for example "2024-01-01"): keep the text.
            }
        }
        return JsonValue.Create(text);
    }
}
