using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Security;

/// <summary>
/// Log injection (CWE-117): client input (a <c>client_id</c>, a path, an agent name) reaches log messages, and the <c>simple</c> and
/// <c>systemd</c> console formats write messages as they are, so a CR/LF forges a log line and an ANSI escape repaints the operator's
/// terminal. Fixed once, at the sink: the console provider is wrapped so every message it formats, the framework's included, has its
/// control characters escaped (<see cref="Escape"/>). The <c>json</c> format already escaped them; it now also sees the escaped message.
/// </summary>
internal static class LogEscaping
{
    /// <summary>Replaces the console logger provider with one that escapes control characters in every message.</summary>
    public static ILoggingBuilder EscapeControlCharacters(this ILoggingBuilder logging)
    {
        var services = logging.Services;
        for (var i = 0; i < services.Count; i++)
        {
            if (services[i].ServiceType == typeof(ILoggerProvider) && services[i].ImplementationType == typeof(ConsoleLoggerProvider))
            {
                services[i] = ServiceDescriptor.Singleton<ILoggerProvider, EscapingConsoleLoggerProvider>();
            }
        }
        return logging;
    }

    /// <summary>
    /// <paramref name="text"/> with CR as <c>\r</c>, LF as <c>\n</c>, tab as <c>\t</c>, and every other C0 control, DEL, C1 control
    /// (ESC, CSI and the rest of ANSI/VT sequences' introducers) and the Unicode line/paragraph separators as <c>\xHH</c> or <c>\uHHHH</c>.
    /// A backslash is left alone, so an ordinary Windows path reads as it is. Returns the same instance when nothing needs escaping.
    /// </summary>
    public static string Escape(string text)
    {
        var first = text.AsSpan().IndexOfAnyInRange('\0', '\x1f');
        if (first < 0 && text.AsSpan().IndexOfAny(Special) < 0)
        {
            return text;
        }
        var sb = new StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            switch (c)
            {
                case '\r': sb.Append("\\r"); break;
                case '\n': sb.Append("\\n"); break;
                case '\t': sb.Append("\\t"); break;
                case < ' ' or '\x7f' or (>= '\x80' and <= '\x9f'):
                    sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    break;
                case '\u2028' or '\u2029':
                    sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    break;
                default: sb.Append(c); break;
            }
        }
        return sb.ToString();
    }

    private static readonly System.Buffers.SearchValues<char> Special = System.Buffers.SearchValues.Create(
        "\x7f\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b\x9c\x9d\x9e\x9f\u2028\u2029");
}

/// <summary>The console provider, with messages escaped. Same alias, so <c>Logging:Console:*</c> settings keep applying.</summary>
[ProviderAlias("Console")]
internal sealed class EscapingConsoleLoggerProvider(IOptionsMonitor<ConsoleLoggerOptions> options, IEnumerable<ConsoleFormatter> formatters)
    : ILoggerProvider, ISupportExternalScope
{
    private readonly ConsoleLoggerProvider _inner = new(options, formatters);

    public ILogger CreateLogger(string categoryName) => new EscapingLogger(_inner.CreateLogger(categoryName));

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _inner.SetScopeProvider(scopeProvider);

    public void Dispose() => _inner.Dispose();

    private sealed class EscapingLogger(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            inner.Log(logLevel, eventId, state, exception, (s, e) => LogEscaping.Escape(formatter(s, e)));
    }
}
