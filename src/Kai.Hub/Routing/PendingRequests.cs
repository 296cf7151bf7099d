using System.Collections.Concurrent;

namespace Kai.Hub.Routing;

/// <summary>
/// The router's request/response correlation: a waiter per correlation id (a command id, an RPC envelope id, an invocation id),
/// completed by whichever edge receives the reply, or timed out at the request's deadline on the hub's clock.
/// </summary>
internal sealed class PendingRequests(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource<object>> _waiters = new(StringComparer.Ordinal);

    /// <summary>Requests waiting for a reply on this node.</summary>
    public int Count => _waiters.Count;

    /// <summary>Registers a waiter for <paramref name="correlationId"/> (a second registration for the same id shares the first).</summary>
    public TaskCompletionSource<object> Register(string correlationId) =>
        _waiters.GetOrAdd(correlationId, _ => new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously));

    public bool IsWaiting(string correlationId) => _waiters.ContainsKey(correlationId);

    /// <summary>Waits for the reply until <paramref name="deadline"/> (none: until <paramref name="ct"/>).</summary>
    /// <exception cref="TimeoutException">The deadline passed first.</exception>
    public async Task<object> WaitAsync(string correlationId, TaskCompletionSource<object> waiter, DateTimeOffset? deadline, CancellationToken ct)
    {
        if (deadline is null)
        {
            return await waiter.Task.WaitAsync(ct);
        }
        var left = deadline.Value - time.GetUtcNow();
        if (left <= TimeSpan.Zero)
        {
            return waiter.Task.IsCompleted ? await waiter.Task : throw new TimeoutException($"No reply to '{correlationId}' before its deadline.");
        }
        var waiting = waiter.Task.WaitAsync(left, time, ct);
        // A clock that passed the deadline while the timer was being armed (a suspended host, a test's fake clock moved by another
        // thread) would leave the timer due a whole "left" later: the deadline is checked once more after arming.
        if (!waiting.IsCompleted && time.GetUtcNow() >= deadline.Value)
        {
            _ = waiting.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            throw new TimeoutException($"No reply to '{correlationId}' before its deadline.");
        }
        return await waiting;
    }

    /// <summary>Hands a reply to the waiter, if any; returns whether one waited.</summary>
    public bool Complete(string correlationId, object reply) =>
        _waiters.TryGetValue(correlationId, out var waiter) && waiter.TrySetResult(reply);

    /// <summary>Forgets the waiter (only if it is still the one registered).</summary>
    public void Remove(string correlationId, TaskCompletionSource<object> waiter) =>
        _waiters.TryRemove(new KeyValuePair<string, TaskCompletionSource<object>>(correlationId, waiter));
}
