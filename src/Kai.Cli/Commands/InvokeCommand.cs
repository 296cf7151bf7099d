using System.CommandLine;
using System.Text.Json;
using Kai.Cli.Cli;
using Kai.Protocol;

namespace Kai.Cli.Commands;

/// <summary><c>kai invoke &lt;kah&gt; &lt;intent&gt; --input …</c>: a KAIL invocation (seed 002); the output is printed as it streams, then the stack on stderr.</summary>
internal static class InvokeCommand
{
    public static Command Create()
    {
        var target = new Argument<string>("kah") { Description = "The target's Kind Agent Handle: kah:agent.local.<name>, kah:agent.<node>.<name> or kah:<agent id>." };
        var intent = new Argument<string>("intent") { Description = "The intent, e.g. summarize_document." };
        var input = new Option<string>("--input") { Description = "The input: JSON (an object, a number, a quoted string) or else plain text.", Required = true };
        var options = new Option<string?>("--options") { Description = "payload.options as a JSON object, e.g. '{\"model\": \"m1\", \"temperature\": 0.3}'." };
        var thread = new Option<string?>("--thread") { Description = "context.thread_id." };
        var chain = new Option<string[]>("--then") { Description = "Further targets of a chain, each receiving the previous output.", AllowMultipleArgumentsPerToken = true };
        var command = new Command("invoke", """
            Invoke an agent through KAIL and print its output as it streams (options.stream is set), then the result.
            Exit code 1 when the invocation failed (the error code and the stack are printed on stderr).
            """)
        {
            target, intent, input, options, thread, chain,
        };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            var raw = parse.GetRequiredValue(input);
            object? value;
            try
            {
                value = JsonDocument.Parse(raw).RootElement.Clone();
            }
            catch (JsonException)
            {
                value = raw;
            }
            var opts = new Dictionary<string, object?>(StringComparer.Ordinal) { ["stream"] = true };
            if (parse.GetValue(options) is { } o)
            {
                JsonElement parsed;
                try
                {
                    parsed = JsonDocument.Parse(o).RootElement.Clone();
                }
                catch (JsonException e)
                {
                    throw new CliException($"--options is not JSON: {e.Message}", ExitCodes.Usage);
                }
                if (parsed.ValueKind != JsonValueKind.Object)
                {
                    throw new CliException("--options must be a JSON object.", ExitCodes.Usage);
                }
                foreach (var p in parsed.EnumerateObject())
                {
                    opts[p.Name] = p.Value;
                }
            }
            using var client = await ctx.UserClientAsync(ct);
            var envelope = client.NewInvocation(parse.GetRequiredValue(target), parse.GetRequiredValue(intent), value, opts, parse.GetValue(thread),
                parse.GetValue(chain) is { Length: > 0 } then ? then : null);
            var streamed = false;
            await foreach (var item in client.InvokeStreamingAsync(envelope, ct))
            {
                if (item.Chunk is { } chunk)
                {
                    Console.Write(chunk.Chunk);
                    streamed = true;
                    continue;
                }
                var result = item.Result!;
                if (streamed)
                {
                    Console.WriteLine();
                }
                foreach (var hop in result.Stack)
                {
                    Console.Error.WriteLine($"  {hop.Step}.{hop.Attempt} {hop.Agent} {hop.Status}{(hop.Fallback ? " (fallback)" : "")} {hop.DurationMs?.ToString("0.#", System.Globalization.CultureInfo.InvariantCulture) ?? "-"} ms{(hop.Error is { } e ? $" {e.Code}: {e.Message}" : "")}");
                }
                if (result.Status != Kai.Protocol.Kail.InvocationStatuses.Completed)
                {
                    Console.Error.WriteLine($"error: {result.Error?.Code}: {result.Error?.Message}");
                    return ExitCodes.Error;
                }
                if (!streamed)
                {
                    Console.WriteLine(result.Output is { ValueKind: JsonValueKind.String } s ? s.GetString() : JsonSerializer.Serialize(result.Output, KaiJson.Options));
                }
            }
            return ExitCodes.Ok;
        }));
        return command;
    }
}
