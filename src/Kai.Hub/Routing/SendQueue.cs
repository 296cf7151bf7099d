using System.Threading.Tasks.Sources;

namespace Kai.Hub.Routing;

/// <summary>
/// A link's queue of frames waiting for its writer loop: many producers, one consumer, never blocking a producer. It replaces an
/// unbounded <c>Channel&lt;byte[]&gt;</c>, which costs about 1 KiB per link before the first frame (its first 32-slot segment and
/// two waiter objects); an idle link holds none of it here (docs/benchmarks.md "Idle link memory"). The queue is allocated on the
/// first frame, and the single waiter is this object itself (a reusable <see cref="IValueTaskSource{TResult}"/>).
/// </summary>
internal sealed class SendQueue : IValueTaskSource<bool>
{
    private readonly Lock _sync = new();
    private Queue<byte[]>? _frames;
    private bool _completed;
    private bool _waiting;
    private ManualResetValueTaskSourceCore<bool> _signal = new() { RunContinuationsAsynchronously = true };

    /// <summary>Adds a frame; false once <see cref="Complete"/> was called.</summary>
    public bool TryWrite(byte[] frame)
    {
        lock (_sync)
        {
            if (_completed)
            {
                return false;
            }
            (_frames ??= new Queue<byte[]>(4)).Enqueue(frame);
            if (!_waiting)
            {
                return true;
            }
            _waiting = false;
        }
        _signal.SetResult(true);
        return true;
    }

    /// <summary>No frame is added after this; the reader drains what is queued, then <see cref="WaitToReadAsync"/> answers false.</summary>
    public void Complete()
    {
        lock (_sync)
        {
            if (_completed)
            {
                return;
            }
            _completed = true;
            if (!_waiting)
            {
                return;
            }
            _waiting = false;
        }
        _signal.SetResult(true);
    }

    /// <summary>The next frame, if one is queued (the single reader only).</summary>
    public bool TryRead(out byte[] frame)
    {
        lock (_sync)
        {
            if (_frames is { Count: > 0 } frames)
            {
                frame = frames.Dequeue();
                return true;
            }
        }
        frame = [];
        return false;
    }

    /// <summary>
    /// True when a frame is queued (at once, or when one arrives), false when the queue is completed and empty. The single reader
    /// only, one wait at a time; it is woken by a producer, never canceled (<see cref="Complete"/> ends the wait).
    /// </summary>
    public ValueTask<bool> WaitToReadAsync()
    {
        lock (_sync)
        {
            if (_frames is { Count: > 0 })
            {
                return new ValueTask<bool>(true);
            }
            if (_completed)
            {
                return new ValueTask<bool>(false);
            }
            _signal.Reset();
            _waiting = true;
            return new ValueTask<bool>(this, _signal.Version);
        }
    }

    // Woken means "look again": the reader's next WaitToReadAsync tells a frame from the end.
    bool IValueTaskSource<bool>.GetResult(short token) => _signal.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _signal.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _signal.OnCompleted(continuation, state, token, flags);
}
