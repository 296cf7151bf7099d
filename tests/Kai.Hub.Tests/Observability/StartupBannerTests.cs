using System.Collections.Concurrent;
using Kai.Testing;
using Microsoft.Extensions.Logging;

namespace Kai.Hub.Tests.Observability;

/// <summary>The one line the hub logs at start: where it listens and where to go.</summary>
public sealed class StartupBannerTests
{
    private sealed class Capture : ILoggerProvider
    {
        public ConcurrentQueue<(string Category, string Message)> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, Lines);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<(string, string)> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                lines.Enqueue((category, formatter(state, exception)));
        }
    }

    [Fact]
    public async Task The_hub_logs_its_listening_url_and_the_docs_address_once_at_start()
    {
        var capture = new Capture();
        await using var hub = await TestHub.StartAsync(
            settings: new Dictionary<string, string> { ["Logging:LogLevel:Kai.Hub.Startup"] = "Information" },
            configure: b => b.Logging.AddProvider(capture));
        var url = hub.BaseAddress.ToString().TrimEnd('/');
        var lines = capture.Lines.Where(l => l.Category == "Kai.Hub.Startup").Select(l => l.Message).ToList();
        var line = Assert.Single(lines);
        Assert.Contains($"listening on {url}", line, StringComparison.Ordinal);
        Assert.Contains($"the API docs at {url}/docs", line, StringComparison.Ordinal);
        // And the address it names answers.
        Assert.Equal(System.Net.HttpStatusCode.OK, (await hub.Http.GetAsync("docs/index.html")).StatusCode);
    }
}
