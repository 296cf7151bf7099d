using System.CommandLine;
using System.Text.Json;
using Kai.Cli.Cli;
using Kai.Client;

namespace Kai.Cli.Commands;

/// <summary><c>kai stream &lt;agent&gt; "&lt;prompt&gt;"</c>: a prompt stream, printed as the chunks arrive; Ctrl-C cancels it.</summary>
internal static class StreamCommand
{
    public static Command Create()
    {
        var agent = new Argument<string>("agent") { Description = "The agent id (it needs a stream handler, as `kai agent run` has)." };
        var prompt = new Argument<string>("prompt") { Description = "The prompt, 1 to 100,000 characters." };
        var context = new Option<string?>("--context") { Description = "A JSON object passed to the agent with the prompt, e.g. '{\"path\": \"README.md\"}'." };
        var command = new Command("stream", """
            Send a prompt to an agent and print its answer chunk by chunk as it arrives.
            Ctrl-C sends stream_control cancel (the agent stops) and exits with 130. Exit code 1 when the stream is cancelled by the hub.
            """)
        {
            agent, prompt, context,
        };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            var ctxJson = parse.GetValue(context) is { } c ? SendCommand.BuildParameters(c, []) : null;
            var text = parse.GetRequiredValue(prompt);
            if (text.Length == 0)
            {
                throw new CliException("the prompt is empty.", ExitCodes.Usage);
            }
            using var client = await ctx.UserClientAsync(ct);
            await using var stream = await client.StartStreamAsync(parse.GetRequiredValue(agent), text, ctxJson, ct: ct);
            stream.Reconnecting += reason => Console.Error.WriteLine($"\n(stream link lost: {reason}; resuming at chunk {stream.NextChunkIndex})");
            try
            {
                await foreach (var chunk in stream.ReadChunksAsync(ct))
                {
                    Console.Write(chunk.Chunk);
                    if (chunk.IsFinal && chunk.Metadata is { ValueKind: JsonValueKind.Object } meta && meta.TryGetProperty("error", out var error))
                    {
                        Console.WriteLine();
                        throw new CliException($"the agent's stream handler failed: {error}");
                    }
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // Ctrl-C: tell the hub (and so the agent) to stop, with a fresh token since ours is cancelled.
                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try
                {
                    await stream.CancelAsync(grace.Token);
                    Console.Error.WriteLine($"\nstream {stream.StreamId} cancelled after {stream.NextChunkIndex} chunks");
                }
                catch (Exception ex) when (ex is HubApiException or HubLinkClosedException or TimeoutException or OperationCanceledException)
                {
                    Console.Error.WriteLine($"\nstream {stream.StreamId}: cancel not confirmed ({ex.Message})");
                }
                return ExitCodes.Interrupted;
            }
            Console.WriteLine();
            if (stream.Outcome == "cancelled")
            {
                Console.Error.WriteLine($"error: stream {stream.StreamId} was cancelled ({stream.CancelReason ?? "no reason given"}) after {stream.NextChunkIndex} chunks");
                return ExitCodes.Error;
            }
            return ExitCodes.Ok;
        }));
        return command;
    }
}
