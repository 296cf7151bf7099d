using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Serialization;

namespace Kai.Bench;

/// <summary>
/// Latency samples in Stopwatch ticks, recorded lock-free into a preallocated array (bounded: samples past the capacity
/// are counted but not kept). Percentiles come from sorting the kept samples once at the end.
/// </summary>
internal sealed class Recorder(int capacity)
{
    private readonly long[] _samples = new long[capacity];
    private long _count;

    public long Count => Interlocked.Read(ref _count);

    public void Record(long ticks)
    {
        var i = Interlocked.Increment(ref _count) - 1;
        if (i < _samples.Length)
        {
            _samples[i] = ticks;
        }
    }

    /// <summary>p in [0,100]; milliseconds. NaN when nothing was recorded.</summary>
    public Percentiles Summarize()
    {
        var n = (int)Math.Min(Count, _samples.Length);
        if (n == 0)
        {
            return new Percentiles(0, double.NaN, double.NaN, double.NaN, double.NaN);
        }
        var sorted = _samples[..n];
        Array.Sort(sorted);
        double At(double p) => Ms(sorted[Math.Clamp((int)Math.Ceiling(p / 100 * n) - 1, 0, n - 1)]);
        return new Percentiles(n, At(50), At(99), At(99.9), Ms(sorted[n - 1]));
    }

    public static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}

internal readonly record struct Percentiles(int Count, double P50, double P99, double P999, double Max);

/// <summary>One figure of one run set: the median of the runs is what the report shows.</summary>
internal sealed record Result(
    [property: JsonPropertyName("target")] string Target,
    [property: JsonPropertyName("scenario")] string Scenario,
    [property: JsonPropertyName("param")] string Param,
    [property: JsonPropertyName("metric")] string Metric,
    [property: JsonPropertyName("unit")] string Unit,
    [property: JsonPropertyName("runs")] double[] Runs,
    [property: JsonPropertyName("note")] string? Note = null)
{
    [JsonPropertyName("median")]
    public double Median
    {
        get
        {
            var ok = Runs.Where(r => !double.IsNaN(r)).Order().ToArray();
            return ok.Length == 0 ? double.NaN : ok.Length % 2 == 1 ? ok[ok.Length / 2] : (ok[ok.Length / 2 - 1] + ok[ok.Length / 2]) / 2;
        }
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Target,-8} {Scenario,-4} {Param,-18} {Metric,-28} {Median,12:0.###} {Unit,-10} runs=[{string.Join(", ", Runs.Select(r => r.ToString("0.###", CultureInfo.InvariantCulture)))}]{(Note is null ? "" : " " + Note)}");
}

/// <summary>
/// An open-loop schedule: item i is due at start + i/rate. A dedicated thread sends every item that is due, and the
/// item carries its scheduled time, so latency is measured from when it should have been sent (no coordinated
/// omission: a stalled hub or a late sender shows up as latency). The thread waits on the clock's absolute deadline
/// (see <see cref="WaitUntil"/>), not with a relative sleep or a 1 ms timer tick, which would add up to 1 ms of lateness to every sample.
/// </summary>
internal static class OpenLoop
{
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_nanosleep")]
    private static extern int ClockNanosleep(int clock, int flags, ref Timespec request, IntPtr remain);

    private const int ClockMonotonic = 1;
    private const int TimerAbsolute = 1;

    /// <summary>
    /// Blocks until the monotonic clock reaches <paramref name="due"/> (a Stopwatch timestamp): on Linux, where Stopwatch is
    /// CLOCK_MONOTONIC in nanoseconds, one absolute clock_nanosleep (an hrtimer: typically 50-100 µs late, which the
    /// "sender lateness" figure reports); elsewhere by yielding. Absolute deadlines never drift, and the core is left to
    /// the receive loops instead of being burnt by a spinning sender.
    /// </summary>
    private static void WaitUntil(long due)
    {
        if (OperatingSystem.IsLinux() && Stopwatch.Frequency == 1_000_000_000)
        {
            var ts = new Timespec { Seconds = due / 1_000_000_000, Nanoseconds = due % 1_000_000_000 };
            while (ClockNanosleep(ClockMonotonic, TimerAbsolute, ref ts, IntPtr.Zero) == 4 /* EINTR */)
            {
            }
            return;
        }
        while (Stopwatch.GetTimestamp() < due)
        {
            Thread.Yield();
        }
    }

    /// <returns>The sender's lateness: how far behind schedule each send started (ticks).</returns>
    public static async Task<Recorder> RunAsync(double ratePerSecond, TimeSpan duration, Action<long, long> send, CancellationToken ct)
    {
        var total = (long)(ratePerSecond * duration.TotalSeconds);
        var lateness = new Recorder((int)Math.Min(total, 4_000_000));
        var interval = Stopwatch.Frequency / ratePerSecond;
        var finished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
            var start = Stopwatch.GetTimestamp();
            for (long i = 0; i < total && !ct.IsCancellationRequested; i++)
            {
                var due = start + (long)(i * interval);
                var now = Stopwatch.GetTimestamp();
                if (now < due)
                {
                    WaitUntil(due);
                    now = Stopwatch.GetTimestamp();
                }
                lateness.Record(now - due);
                send(due, i);
            }
            }
            catch (Exception ex)
            {
                finished.TrySetException(ex);
            }
            finished.TrySetResult();
        })
        { IsBackground = true, Name = "open-loop sender", Priority = ThreadPriority.AboveNormal };
        thread.Start();
        // Bounded: the schedule's own length plus a margin.
        // Awaited, not joined: blocking a thread-pool thread here would starve the receive loops' continuations.
        await finished.Task.WaitAsync(duration + TimeSpan.FromSeconds(30), ct);
        return lateness;
    }
}

/// <summary>Reads the server process: RSS from /proc/PID/status, CPU time from /proc/PID/stat.</summary>
internal static class Proc
{
    public static long RssBytes(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                var kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
                return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
            }
        }
        return -1;
    }

    /// <summary>User + system CPU seconds of the process.</summary>
    public static double CpuSeconds(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // After "pid (comm) ", field 3 (state) is index 0; utime is field 14 (index 11), stime field 15 (index 12).
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return ticks / 100.0;
    }

    public static double SelfCpuSeconds() => Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
}

/// <summary>Measures server and generator CPU over a span, as fractions of one core.</summary>
internal sealed class CpuSpan(int serverPid)
{
    private readonly long _start = Stopwatch.GetTimestamp();
    private readonly double _server0 = serverPid > 0 ? Proc.CpuSeconds(serverPid) : 0;
    private readonly double _self0 = Proc.SelfCpuSeconds();

    public (double Server, double Generator) Stop()
    {
        var wall = Stopwatch.GetElapsedTime(_start).TotalSeconds;
        var server = serverPid > 0 ? (Proc.CpuSeconds(serverPid) - _server0) / wall : double.NaN;
        return (server, (Proc.SelfCpuSeconds() - _self0) / wall);
    }
}
