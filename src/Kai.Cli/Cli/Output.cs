using System.Globalization;
using System.Text;
using System.Text.Json;
using Kai.Protocol;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Kai.Cli.Cli;

/// <summary>Printing helpers: tables (Spectre.Console), indented JSON, and the password prompt.</summary>
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

    /// <summary>
    /// A table (Spectre.Console). On a terminal: a rounded border and bold headers, as wide as the window. Redirected (scripts,
    /// pipes, tests): no border, columns separated by two spaces, each as wide as its widest cell, one line per row, never wrapped.
    /// </summary>
    public static string Table(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows, bool? terminal = null)
    {
        ArgumentNullException.ThrowIfNull(headers);
        ArgumentNullException.ThrowIfNull(rows);
        var fancy = terminal ?? !Console.IsOutputRedirected;
        var table = new Spectre.Console.Table();
        if (fancy)
        {
            table.Border(TableBorder.Rounded);
        }
        else
        {
            table.NoBorder();
        }
        foreach (var header in headers)
        {
            var column = new TableColumn(fancy ? new Markup($"[bold]{Markup.Escape(header)}[/]") : new Text(header));
            if (!fancy)
            {
                column.Padding(0, 0, 2, 0);
                column.NoWrap();
            }
            table.AddColumn(column);
        }
        foreach (var row in rows)
        {
            table.AddRow(headers.Select((_, i) => (IRenderable)new Text(i < row.Count ? row[i] : "")));
        }
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = fancy ? AnsiSupport.Yes : AnsiSupport.No,
            ColorSystem = fancy ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = fancy ? WindowWidth() : 100_000;
        console.Profile.Capabilities.Unicode = fancy;
        console.Write(table);
        // Without a border the last column still carries its right padding: trim it, so lines end at their text.
        return fancy ? writer.ToString() : string.Join('\n', writer.ToString().Split('\n').Select(l => l.TrimEnd())).TrimEnd('\n') + "\n";
    }

    private static int WindowWidth()
    {
        try
        {
            return Console.WindowWidth > 0 ? Console.WindowWidth : 120;
        }
        catch (IOException)
        {
            return 120;
        }
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
