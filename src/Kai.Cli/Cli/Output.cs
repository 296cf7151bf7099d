using System.Globalization;
using System.Text;
using System.Text.Json;
using Kai.Protocol;

namespace Kai.Cli.Cli;

/// <summary>Printing helpers: aligned tables, indented JSON, and the password prompt.</summary>
internal static class Output
{
    private static readonly JsonSerializerOptions Indented = new(KaiJson.Options) { WriteIndented = true };

    /// <summary>Serializes with the wire settings (snake_case), indented.</summary>
    public static string Json(object? value) => JsonSerializer.Serialize(value, Indented);

    /// <summary>Compact one-line JSON, cut at <paramref name="max"/> characters.</summary>
    public static string Compact(JsonElement value, int max = 160)
    {
        var text = value.ValueKind == JsonValueKind.Undefined ? "" : value.GetRawText();
        if (text.Contains('\n', StringComparison.Ordinal))
        {
            text = JsonSerializer.Serialize(value, KaiJson.Options);
        }
        return text.Length <= max ? text : string.Concat(text.AsSpan(0, max - 1), "…");
    }

    /// <summary>Formats rows as columns separated by two spaces, each as wide as its widest cell.</summary>
    public static string Table(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        ArgumentNullException.ThrowIfNull(headers);
        var all = new List<IReadOnlyList<string>> { headers };
        all.AddRange(rows);
        var widths = new int[headers.Count];
        foreach (var row in all)
        {
            for (var i = 0; i < widths.Length; i++)
            {
                widths[i] = Math.Max(widths[i], i < row.Count ? row[i].Length : 0);
            }
        }
        var sb = new StringBuilder();
        foreach (var row in all)
        {
            for (var i = 0; i < widths.Length; i++)
            {
                var cell = i < row.Count ? row[i] : "";
                sb.Append(i == widths.Length - 1 ? cell : cell.PadRight(widths[i] + 2));
            }
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>A timestamp as local-free ISO 8601 UTC, or <c>-</c>.</summary>
    public static string Time(DateTimeOffset? time) =>
        time?.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture) ?? "-";

    /// <summary>
    /// Reads a password: without echo from an interactive terminal, or as one line when stdin is redirected
    /// (so scripts can pipe it in).
    /// </summary>
    public static string ReadPassword(string prompt)
    {
        if (Console.IsInputRedirected)
        {
            return Console.In.ReadLine() ?? throw new CliException("no password on stdin.");
        }
        Console.Error.Write(prompt);
        var sb = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                break;
            }
            if (key.Key == ConsoleKey.Backspace)
            {
                if (sb.Length > 0)
                {
                    sb.Length--;
                }
                continue;
            }
            if (!char.IsControl(key.KeyChar))
            {
                sb.Append(key.KeyChar);
            }
        }
        Console.Error.WriteLine();
        return sb.ToString();
    }

    /// <summary>Reads one visible line from the terminal (for the email), or from redirected stdin.</summary>
    public static string ReadLine(string prompt)
    {
        if (!Console.IsInputRedirected)
        {
            Console.Error.Write(prompt);
        }
        return Console.In.ReadLine()?.Trim() ?? throw new CliException("no input on stdin.");
    }
}
