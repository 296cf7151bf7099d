using System.Buffers;
using System.Buffers.Text;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;

namespace Kai.Bench;

/// <summary>
/// Outgoing connections spread over several loopback source addresses (127.0.0.2, 127.0.0.3, ...), so tens of
/// thousands of links to one server port do not exhaust one address's ephemeral ports. Loopback only.
/// </summary>
internal static class Loopback
{
    private static int _next;
    private const int Sources = 8;

    public static IPAddress NextSource() => new(new byte[] { 127, 0, 0, (byte)(2 + (Interlocked.Increment(ref _next) % Sources)) });

    public static async Task<Socket> ConnectAsync(EndPoint remote, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.Bind(new IPEndPoint(NextSource(), 0));
            await socket.ConnectAsync(remote, ct);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>One handler for every WebSocket: its ConnectCallback binds a loopback source address.</summary>
    public static readonly HttpMessageInvoker Invoker = new(new SocketsHttpHandler
    {
        ConnectCallback = async (ctx, ct) =>
        {
            var ip = (await Dns.GetHostAddressesAsync(ctx.DnsEndPoint.Host, ct)).First(a => a.AddressFamily == AddressFamily.InterNetwork);
            if (!IPAddress.IsLoopback(ip))
            {
                throw new InvalidOperationException("The benchmark only talks to loopback addresses.");
            }
            return new NetworkStream(await ConnectAsync(new IPEndPoint(ip, ctx.DnsEndPoint.Port), ct), ownsSocket: true);
        },
        PooledConnectionLifetime = TimeSpan.FromMinutes(10),
    });

    public static async Task<ClientWebSocket> WebSocketAsync(Uri uri, CancellationToken ct)
    {
        var ws = new ClientWebSocket();
        ws.Options.KeepAliveInterval = TimeSpan.Zero;
        ws.Options.HttpVersion = HttpVersion.Version11;
        ws.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        try
        {
            await ws.ConnectAsync(uri, Invoker, ct);
            return ws;
        }
        catch
        {
            ws.Dispose();
            throw;
        }
    }

    /// <summary>Finds <c>kbt:</c> followed by decimal digits (a Stopwatch timestamp the generator put in a message) and returns it, or -1.</summary>
    public static long Stamp(ReadOnlySpan<byte> message, out long seq)
    {
        seq = -1;
        var at = message.IndexOf("kbt:"u8);
        if (at < 0 || !Utf8Parser.TryParse(message[(at + 4)..], out long stamp, out var used))
        {
            return -1;
        }
        var rest = message[(at + 4 + used)..];
        if (rest.Length > 1 && rest[0] == (byte)':')
        {
            Utf8Parser.TryParse(rest[1..], out seq, out _);
        }
        return stamp;
    }

    public static string StampText(long stamp, long seq) => $"kbt:{stamp}:{seq}";
}

/// <summary>
/// A raw WebSocket link with one receive loop that hands each complete text message to a callback (on the loop's
/// own thread, so the callback must be quick). Sends are serialized by the caller: one sender per link.
/// </summary>
internal sealed class RawLink : IAsyncDisposable
{
    private readonly ClientWebSocket _ws;
    private readonly Task _loop;
    private readonly CancellationTokenSource _stop = new();

    private RawLink(ClientWebSocket ws, Action<RawLink, ReadOnlyMemory<byte>> onMessage)
    {
        _ws = ws;
        _loop = Task.Run(() => ReceiveLoopAsync(onMessage));
    }

    public static async Task<RawLink> ConnectAsync(Uri uri, Action<RawLink, ReadOnlyMemory<byte>> onMessage, CancellationToken ct) =>
        new(await Loopback.WebSocketAsync(uri, ct), onMessage);

    public int Index { get; init; }

    public bool Open => _ws.State == WebSocketState.Open;

    public WebSocketCloseStatus? CloseStatus => _ws.CloseStatus;

    public ValueTask SendAsync(ReadOnlyMemory<byte> utf8, CancellationToken ct = default) =>
        _ws.SendAsync(utf8, WebSocketMessageType.Text, true, ct);

    public void SendNow(ReadOnlyMemory<byte> utf8)
    {
        var pending = _ws.SendAsync(utf8, WebSocketMessageType.Text, true, CancellationToken.None);
        if (!pending.IsCompletedSuccessfully)
        {
            pending.AsTask().GetAwaiter().GetResult();
        }
    }

    public Task SendTextAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text)).AsTask();

    private async Task ReceiveLoopAsync(Action<RawLink, ReadOnlyMemory<byte>> onMessage)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(8192);
        var count = 0;
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                if (count == buffer.Length)
                {
                    var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, count).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                var r = await _ws.ReceiveAsync(buffer.AsMemory(count), _stop.Token);
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
                count += r.Count;
                if (r.EndOfMessage)
                {
                    onMessage(this, buffer.AsMemory(0, count));
                    count = 0;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            // The link ended; the scenario sees it as missing deliveries.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_ws.State == WebSocketState.Open)
            {
                using var t = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", t.Token);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            _ws.Abort();
        }
        await _stop.CancelAsync();
        _ws.Abort();
        try
        {
            await _loop.WaitAsync(TimeSpan.FromSeconds(2));
        }
        catch (TimeoutException)
        {
            // Abandon it; the socket is aborted.
        }
        _ws.Dispose();
        _stop.Dispose();
    }
}

internal static class Parallel2
{
    /// <summary>Runs <paramref name="body"/> for 0..count-1 with at most <paramref name="width"/> in flight.</summary>
    public static async Task<T[]> MapAsync<T>(int count, int width, Func<int, Task<T>> body, CancellationToken ct)
    {
        var results = new T[count];
        var next = -1;
        async Task Worker()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                ct.ThrowIfCancellationRequested();
                results[i] = await body(i);
            }
        }
        await Task.WhenAll(Enumerable.Range(0, Math.Min(width, Math.Max(count, 1))).Select(_ => Worker()));
        return results;
    }
}
