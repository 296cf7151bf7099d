using System.Diagnostics;

namespace Kai.Bench;

/// <summary>A server under test. Each scenario asks for what it needs; a target that cannot do one returns null.</summary>
internal interface ITarget : IAsyncDisposable
{
    string Name { get; }

    /// <summary>Managed heap bytes (after the last GC), or NaN when the server has no managed heap to report.</summary>
    Task<double> HeapBytesAsync(CancellationToken ct);

    /// <summary>S1: open and hold <paramref name="n"/> authenticated links.</summary>
    Task<Held> HoldAsync(int n, CancellationToken ct);

    /// <summary>S2: <paramref name="pairs"/> pairs (A, B); A's message reaches B, B echoes it to A.</summary>
    Task<IPairs> PairsAsync(int pairs, Action<long> onOneWay, Action<long> onRoundTrip, CancellationToken ct);

    /// <summary>S3: one publisher and <paramref name="subscribers"/> receivers. Null, with a reason, when unavailable.</summary>
    Task<(IFanout? Fanout, string Note)> FanoutAsync(int subscribers, Action<long, long> onDelivery, CancellationToken ct);

    /// <summary>S4: one REST read (mix "both": even i the list, odd i one agent; "list" or "one": only that), or null without a REST API.</summary>
    Func<int, Task>? RestRead(int agents, string mix);
}

/// <summary>Links held open; dispose closes them.</summary>
internal sealed class Held(int open, Func<ValueTask> close) : IAsyncDisposable
{
    public int Open { get; } = open;

    public ValueTask DisposeAsync() => close();
}

internal interface IPairs : IAsyncDisposable
{
    /// <summary>Sends from A of pair <paramref name="pair"/> to its B, stamped with <paramref name="stamp"/> (called from one thread).</summary>
    void Send(int pair, long stamp, long seq);
}

internal interface IFanout : IAsyncDisposable
{
    void Publish(long stamp, long seq);
}

internal static class Clock
{
    public static long Now => Stopwatch.GetTimestamp();
}
