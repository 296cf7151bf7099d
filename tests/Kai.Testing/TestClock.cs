using Microsoft.Extensions.Time.Testing;

namespace Kai.Testing;

/// <summary>
/// Fake clocks for tests: <see cref="FakeTimeProvider"/> from Microsoft.Extensions.TimeProvider.Testing, which moves only when a test
/// calls <c>Advance</c> and fires the timers made from it (PeriodicTimer, Task.Delay, WaitAsync with a TimeProvider) in due order.
/// </summary>
public static class TestClock
{
    /// <summary>The instant every fake clock starts at unless a test says otherwise (the library's own default is 2000-01-01).</summary>
    public static readonly DateTimeOffset Start = new(2026, 1, 15, 12, 0, 0, TimeSpan.Zero);

    /// <summary>A fake clock at <see cref="Start"/>.</summary>
    public static FakeTimeProvider Create() => new(Start);
}
