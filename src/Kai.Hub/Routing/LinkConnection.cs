using System.Buffers;
using System.Net.WebSockets;
using Kai.Hub.Auth;
using Kai.Hub.Observability;
using Kai.Protocol;

namespace Kai.Hub.Routing;

internal enum LinkRole
{
    /// <summary>The agent's own live link.</summary>
    Agent,
    /// <summary>The owner's (or an admin's) observer and controller link.</summary>
    Observer,
    /// <summary>The general event link <c>/ws</c> of any principal (agent id and owner are the principal's).</summary>
    Events,
}

/// <summary>
/// One WebSocket link with a bounded send queue. Exactly one writer loop sends (WebSocket allows one send at a
/// time); anyone may enqueue with <see cref="TrySend"/>, which never blocks. When the queued bytes would pass
/// the cap the link is closed with 4008 (slow consumer) instead of growing memory: a slow reader costs at most
/// the cap, and never blocks the sender or other receivers.
/// </summary>
internal sealed class LinkConnection
{
    private static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(10);
    private readonly WebSocket _socket;
    private readonly SendQueue _queue = new();
    private readonly CancellationTokenSource _closeRequested = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly int _maxQueuedBytes;
    private readonly TimeProvider _time;
    private long _queuedBytes;
    private long _lastInboundTicks;
    private int _closeCode;
    private string _closeReason = "";

    private readonly HubMetrics? _metrics;

    public LinkConnection(
        WebSocket socket, string agentId, string ownerId, LinkRole role, KaiPrincipal principal, int maxQueuedBytes, TimeProvider time, HubMetrics? metrics = null)
    {
        _metrics = metrics;
        _socket = socket;
        AgentId = agentId;
        OwnerId = ownerId;
        Role = role;
        Principal = principal;
        _maxQueuedBytes = maxQueuedBytes;
        _time = time;
        _lastInboundTicks = time.GetUtcNow().UtcTicks;
    }

    public string ConnectionId { get; } = Guid.NewGuid().ToString("N");

    /// <summary>The agent this link is about.</summary>
    public string AgentId { get; }

    /// <summary>The owner of <see cref="AgentId"/>.</summary>
    public string OwnerId { get; }

    public LinkRole Role { get; }

    public KaiPrincipal Principal { get; }

    public DateTimeOffset LastInbound => new(Interlocked.Read(ref _lastInboundTicks), TimeSpan.Zero);

    public bool IsClosing => Volatile.Read(ref _closeCode) != 0;

    public int CloseCode => Volatile.Read(ref _closeCode);

    public long QueuedBytes => Interlocked.Read(ref _queuedBytes);

    private readonly Lock _groupGate = new();
    private string[] _groups = [];

    /// <summary>The group keys this link joined (observers of its agent, its user, sessions, streams); kept for its removal.</summary>
    public IReadOnlyList<string> Groups => Volatile.Read(ref _groups);

    internal void Joined(string key)
    {
        lock (_groupGate)
        {
            _groups = [.. _groups, key];
        }
    }

    internal void Left(string key)
    {
        lock (_groupGate)
        {
            _groups = [.. _groups.Where(g => g != key)];
        }
    }

    /// <summary>Queues one complete UTF-8 frame. Returns false if the link is closing or the cap was hit (the link is then closed with 4008).</summary>
    public bool TrySend(byte[] frame)
    {
        if (IsClosing)
        {
            _metrics?.SendQueueDrops.Add(1);
            return false;
        }
        if (Interlocked.Add(ref _queuedBytes, frame.Length) > _maxQueuedBytes)
        {
            Interlocked.Add(ref _queuedBytes, -frame.Length);
            _metrics?.SendQueueDrops.Add(1);
            if (RequestClose(CloseCodes.SlowConsumer, "send queue overflow: client reads too slowly"))
            {
                _metrics?.SlowConsumerDisconnects.Add(1);
            }
            return false;
        }
        if (!_queue.TryWrite(frame))
        {
            Interlocked.Add(ref _queuedBytes, -frame.Length);
            return false;
        }
        return true;
    }

    /// <summary>
    /// Asks the writer loop to send a close frame with <paramref name="code"/>; the first request wins (returns true). No data frame
    /// starts after this. The frame being sent and then the close frame each get a bounded wait (10 s) to reach the transport; then the
    /// peer gets 10 s to answer the close. Only when one of these runs out is the socket aborted (issue 10 item 9: a slow consumer
    /// sees 4008, not a reset).
    /// </summary>
    public bool RequestClose(int code, string reason)
    {
        if (Interlocked.CompareExchange(ref _closeCode, code, 0) != 0)
        {
            return false;
        }
        _closeReason = reason.Length > 120 ? reason[..120] : reason;
        // Canceled before the queue completes, so the writer it wakes sends no further data frame.
        _closeRequested.Cancel();
        _queue.Complete();
        return true;
    }

    /// <summary>Like <see cref="RequestClose"/>, but frames already queued (such as the error frame that says why) are sent first.</summary>
    public bool RequestCloseAfterFlush(int code, string reason)
    {
        if (Interlocked.CompareExchange(ref _closeCode, code, 0) != 0)
        {
            return false;
        }
        _closeReason = reason.Length > 120 ? reason[..120] : reason;
        // Completing the queue ends the writer loop once it is drained; it then sends the close frame.
        _queue.Complete();
        return true;
    }

    /// <summary>Sends queued frames until a close is requested, then sends the close frame.</summary>
    public async Task RunWriterAsync()
    {
        // Sends are never canceled by the close request itself: a WebSocket send canceled halfway aborts the socket, and the
        // close frame behind it would be lost. A requested close only stops further data frames; the frame in flight gets the
        // bounded wait below.
        using var sendDeadline = new CancellationTokenSource();
        using var onClose = _closeRequested.Token.Register(() => sendDeadline.CancelAfter(CloseGrace));
        try
        {
            // A close request completes the queue, which ends this wait; the frames it left are then not sent.
            while (await _queue.WaitToReadAsync() && !_closeRequested.IsCancellationRequested)
            {
                while (!_closeRequested.IsCancellationRequested && _queue.TryRead(out var frame))
                {
                    // The Memory overload: a ValueTask, so no Task per frame.
                    await _socket.SendAsync(frame.AsMemory(), WebSocketMessageType.Text, true, sendDeadline.Token);
                    Interlocked.Add(ref _queuedBytes, -frame.Length);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            // The frame in flight did not reach the transport in time (or the send failed): nothing more can be sent.
            RequestClose(CloseCodes.InternalError, "send failed");
            _socket.Abort();
            _abort.Cancel();
            return;
        }
        try
        {
            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                using var closeDeadline = new CancellationTokenSource(CloseGrace);
                await _socket.CloseOutputAsync((WebSocketCloseStatus)Math.Max(CloseCode, CloseCodes.Normal), _closeReason, closeDeadline.Token);
            }
            // The close frame is out: the peer has the grace period to answer it, then the reader gives up.
            _abort.CancelAfter(CloseGrace);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            _socket.Abort();
            _abort.Cancel();
        }
    }

    /// <summary>
    /// Reads text messages and hands each complete one to <paramref name="onFrame"/>, until the peer closes, the link
    /// is aborted, or a message passes <paramref name="maxFrameBytes"/> (then the link is closed with 1009).
    /// </summary>
    public async Task RunReaderAsync(int maxFrameBytes, Func<ReadOnlyMemory<byte>, ValueTask> onFrame)
    {
        byte[]? buffer = null;
        var count = 0;
        try
        {
            while (true)
            {
                if (buffer is null)
                {
                    // An idle link holds no receive buffer: wait for data with a zero-byte read, then rent one
                    // (about 4 KiB per idle link saved, measured in docs/benchmarks.md S1).
                    var peek = await _socket.ReceiveAsync(Memory<byte>.Empty, _abort.Token);
                    if (peek.MessageType == WebSocketMessageType.Close)
                    {
                        RequestClose(CloseCodes.Normal, "closed by peer");
                        return;
                    }
                    buffer = ArrayPool<byte>.Shared.Rent(4096);
                }
                if (count == buffer.Length)
                {
                    var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, maxFrameBytes + 1));
                    buffer.AsSpan(0, count).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                var result = await _socket.ReceiveAsync(buffer.AsMemory(count), _abort.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    RequestClose(CloseCodes.Normal, "closed by peer");
                    return;
                }
                count += result.Count;
                if (count > maxFrameBytes)
                {
                    RequestClose(CloseCodes.MessageTooBig, $"frame larger than {maxFrameBytes} bytes");
                    await DrainUntilPeerCloseAsync(buffer);
                    return;
                }
                if (!result.EndOfMessage)
                {
                    continue;
                }
                Interlocked.Exchange(ref _lastInboundTicks, _time.GetUtcNow().UtcTicks);
                if (result.MessageType == WebSocketMessageType.Binary)
                {
                    await onFrame(ReadOnlyMemory<byte>.Empty);
                }
                else
                {
                    await onFrame(buffer.AsMemory(0, count));
                }
                count = 0;
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = null;
                if (IsClosing)
                {
                    // Keep reading until the peer answers our close frame, so the handshake completes.
                    continue;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            RequestClose(CloseCodes.GenericError, "connection lost");
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>
    /// After the hub decided to close, reads and discards what the peer still sends until its close frame arrives or the grace after
    /// our close frame runs out. Returning at once would end the request with unread bytes in the kernel's receive buffer, and the
    /// kernel answers those with a TCP reset: a client still sending would lose the close frame, and with it the reason (RFC 6455
    /// §7.1.1: the closing side keeps reading until the peer's close frame). A link the framework fails itself (invalid UTF-8, a bad
    /// frame header) cannot be read any more; <see cref="Edges.LingeringClose"/> drains that one below the WebSocket.
    /// </summary>
    private async Task DrainUntilPeerCloseAsync(byte[] scratch)
    {
        try
        {
            while (true)
            {
                var result = await _socket.ReceiveAsync(scratch.AsMemory(), _abort.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            // The peer went away or the grace ran out: nothing more to read.
        }
    }
}
