using System.Text;
using System.Threading.Channels;
using Kai.Hub.Auth;
using Kai.Hub.Routing;
using Kai.Protocol.Events;

namespace Kai.Hub.Events;

/// <summary>
/// An SSE response as an event subscriber. Like a WebSocket link it has one send queue bounded in bytes and one
/// writer loop; a client that reads too slowly has its response ended (the SSE equivalent of 4008) and
/// reconnects with <c>Last-Event-ID</c>.
/// </summary>
internal sealed class SseSubscriber(KaiPrincipal principal, HttpResponse response, int maxQueuedBytes) : EventSubscriber(principal)
{
    private static readonly byte[] Ping = Encoding.UTF8.GetBytes(": ping\n\n");
    private readonly Channel<byte[]> _queue = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
    private long _queuedBytes;
    private int _closed;

    public override bool IsClosing => Volatile.Read(ref _closed) != 0;

    /// <summary>Why the stream was ended by the hub (0 while open): a close code such as 4008 or 4002.</summary>
    public int CloseCode { get; private set; }

    public override SendResult TrySend(BusEvent e) => TrySendRaw(e.Sse);

    public override SendResult TrySendRaw(byte[] bytes)
    {
        if (IsClosing)
        {
            return SendResult.Dropped;
        }
        if (Interlocked.Add(ref _queuedBytes, bytes.Length) > maxQueuedBytes)
        {
            Interlocked.Add(ref _queuedBytes, -bytes.Length);
            Close(Protocol.CloseCodes.SlowConsumer, "slow consumer");
            return SendResult.Overflow;
        }
        return _queue.Writer.TryWrite(bytes) ? SendResult.Sent : SendResult.Dropped;
    }

    public void SendPing() => TrySendRaw(Ping);

    public override SendResult TrySendGap(GapPayload gap, DateTimeOffset now) =>
        TrySendRaw(BusEvent.SseBytes(Kai.Protocol.Frames.FrameTypes.Gap, null, System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(gap, Protocol.KaiJsonContext.Default.GapPayload)));

    public override void Close(int code, string reason)
    {
        if (Interlocked.CompareExchange(ref _closed, 1, 0) == 0)
        {
            CloseCode = code;
            _queue.Writer.TryComplete();
        }
    }

    /// <summary>Writes queued bytes to the response until the hub ends it or the client goes away.</summary>
    public async Task RunWriterAsync(CancellationToken aborted)
    {
        try
        {
            while (await _queue.Reader.WaitToReadAsync(aborted))
            {
                while (!IsClosing && _queue.Reader.TryRead(out var bytes))
                {
                    await response.Body.WriteAsync(bytes, aborted);
                    Interlocked.Add(ref _queuedBytes, -bytes.Length);
                }
                if (IsClosing)
                {
                    return;
                }
                await response.Body.FlushAsync(aborted);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The client went away.
        }
        finally
        {
            Close(Protocol.CloseCodes.Normal, "closed");
        }
    }
}
