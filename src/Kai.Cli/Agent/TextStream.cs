using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Kai.Protocol.Events;

namespace Kai.Cli.Agent;

/// <summary>
/// The prompt stream handler of <c>kai agent run</c>: streams the words of <c>context.path</c> (a UTF-8 file, at most
/// <see cref="TextStats.MaxFileBytes"/>) or, without one, of the prompt; one chunk per word with the whitespace that follows it,
/// <c>context.delay_ms</c> (0 to 10,000, default 30) apart, so the text can be watched arriving, paused and cancelled.
/// </summary>
internal static class TextStream
{
    public static async IAsyncEnumerable<string> WordsAsync(StreamPromptPayload prompt, [EnumeratorCancellation] CancellationToken ct)
    {
        var text = prompt.Prompt;
        var delay = 30;
        if (prompt.Context is { ValueKind: JsonValueKind.Object } context)
        {
            if (context.TryGetProperty("path", out var path) && path.GetString() is { } file)
            {
                var info = new FileInfo(Path.GetFullPath(file));
                if (!info.Exists)
                {
                    throw new FileNotFoundException($"no such file: {info.FullName}");
                }
                if (info.Length > TextStats.MaxFileBytes)
                {
                    throw new InvalidDataException($"{info.FullName} is larger than {TextStats.MaxFileBytes} bytes.");
                }
                text = await File.ReadAllTextAsync(info.FullName, Encoding.UTF8, ct);
            }
            if (context.TryGetProperty("delay_ms", out var d) && d.TryGetInt32(out var ms))
            {
                delay = Math.Clamp(ms, 0, 10_000);
            }
        }
        var start = 0;
        while (start < text.Length)
        {
            // A chunk is a run of non-space characters plus the whitespace after it, so the chunks concatenate to the text.
            var end = start;
            while (end < text.Length && !char.IsWhiteSpace(text[end]))
            {
                end++;
            }
            while (end < text.Length && char.IsWhiteSpace(text[end]))
            {
                end++;
            }
            if (delay > 0)
            {
                await Task.Delay(delay, ct);
            }
            yield return text[start..end];
            start = end;
        }
    }
}
