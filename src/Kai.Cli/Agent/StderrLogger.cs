using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Kai.Cli.Agent;

/// <summary>A minimal logger for <c>kai agent run</c>: one line per entry on stderr, <c>HH:mm:ss.fff level message</c>.</summary>
internal sealed class StderrLogger(LogLevel minimum = LogLevel.Information) : ILogger
{
    private static readonly Lock WriteLock = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum && logLevel != LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        ArgumentNullException.ThrowIfNull(formatter);
        if (!IsEnabled(logLevel))
        {
            return;
        }
        var line = string.Create(CultureInfo.InvariantCulture, $"{DateTimeOffset.UtcNow:HH:mm:ss.fff} {Level(logLevel)} {formatter(state, exception)}");
        if (exception is not null)
        {
            line += Environment.NewLine + exception;
        }
        lock (WriteLock)
        {
            Console.Error.WriteLine(line);
        }
    }

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        _ => "crit",
    };
}
