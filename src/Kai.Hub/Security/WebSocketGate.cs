using System.Collections.Concurrent;
using Kai.Hub.Auth;
using Kai.Protocol;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Security;

/// <summary>
/// Caps on open WebSockets, shared by every WebSocket edge (agent links now, the event stream later): per principal
/// (<see cref="SecurityOptions.MaxWebSocketsPerUser"/>, refused with close 4004) and per node (<see cref="SecurityOptions.MaxWebSocketsPerNode"/>,
/// refused with close 1013, try again later). Each accepted connection holds a <see cref="Slot"/> until it ends.
/// </summary>
internal sealed class WebSocketGate(IOptions<SecurityOptions> options, TimeProvider time)
{
    /// <summary>Close code for a node at its connection cap (RFC 6455 §7.4.1 registry: Try Again Later).</summary>
    public const int NodeFull = CloseCodes.TryAgainLater;

    private readonly SecurityOptions _o = options.Value;
    private readonly ConcurrentDictionary<string, int> _perPrincipal = new(StringComparer.Ordinal);
    private int _total;

    public int Open => Volatile.Read(ref _total);

    public int MaxSubscriptionsPerConnection => _o.MaxSubscriptionsPerConnection;

    public TimeSpan IdleTimeout => _o.WebSocketIdleTimeout;

    /// <summary>Takes a slot, or returns the close code and reason to refuse with.</summary>
    public Slot? TryEnter(KaiPrincipal principal, out int closeCode, out string reason)
    {
        if (Interlocked.Increment(ref _total) > _o.MaxWebSocketsPerNode)
        {
            Interlocked.Decrement(ref _total);
            (closeCode, reason) = (NodeFull, "node at its connection limit; try again later");
            return null;
        }
        var count = _perPrincipal.AddOrUpdate(principal.Id, 1, (_, n) => n + 1);
        if (count > _o.MaxWebSocketsPerUser)
        {
            Release(principal.Id);
            (closeCode, reason) = (CloseCodes.RateLimited, $"at most {_o.MaxWebSocketsPerUser} open WebSockets per principal");
            return null;
        }
        (closeCode, reason) = (0, "");
        return new Slot(this, principal.Id);
    }

    /// <summary>A per-connection frame limiter (<see cref="SecurityOptions.WebSocketMessagesPerMinute"/>).</summary>
    public WindowLimiter NewMessageLimiter() => new(_o.WebSocketMessagesPerMinute, TimeSpan.FromMinutes(1), time);

    private void Release(string principalId)
    {
        Interlocked.Decrement(ref _total);
        // Decrement, and drop the key at zero without racing a concurrent increment.
        while (_perPrincipal.TryGetValue(principalId, out var n))
        {
            if (n <= 1 ? _perPrincipal.TryRemove(new KeyValuePair<string, int>(principalId, n)) : _perPrincipal.TryUpdate(principalId, n - 1, n))
            {
                return;
            }
        }
    }

    internal sealed class Slot(WebSocketGate gate, string principalId) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                gate.Release(principalId);
            }
        }
    }
}
