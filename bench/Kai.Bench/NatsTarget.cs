using System.Buffers.Text;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Kai.Bench;

/// <summary>
/// The smallest correct NATS client for the benchmark (NATS text protocol over TCP: INFO, CONNECT, PING/PONG, SUB,
/// PUB, MSG). The reader answers the server's PINGs and hands each MSG payload to a callback. Writes are serialized by
/// a lock, so the sender thread and an echoing reader may share a connection.
/// </summary>
internal sealed class NatsConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly Task _reader;
    private readonly Lock _write = new();
    private readonly TaskCompletionSource _pong = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Action<NatsConnection, ReadOnlyMemory<byte>> _onMessage;

    private NatsConnection(Socket socket, Action<NatsConnection, ReadOnlyMemory<byte>> onMessage)
    {
        _socket = socket;
        _onMessage = onMessage;
        _reader = Task.Run(ReadLoopAsync);
    }

    public static async Task<NatsConnection> ConnectAsync(IPEndPoint server, Action<NatsConnection, ReadOnlyMemory<byte>> onMessage, CancellationToken ct)
    {
        var c = new NatsConnection(await Loopback.ConnectAsync(server, ct), onMessage);
        c.Write("CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":false}\r\nPING\r\n"u8);
        await c._pong.Task.WaitAsync(TimeSpan.FromSeconds(10), ct);
        return c;
    }

    public void Write(ReadOnlySpan<byte> bytes)
    {
        lock (_write)
        {
            while (!bytes.IsEmpty)
            {
                bytes = bytes[_socket.Send(bytes)..];
            }
        }
    }

    public void Subscribe(string subject, int sid) => Write(Encoding.ASCII.GetBytes($"SUB {subject} {sid}\r\n"));

    public void Publish(string subject, string payload) => Write(Encoding.ASCII.GetBytes($"PUB {subject} {payload.Length}\r\n{payload}\r\n"));

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[64 * 1024];
        int start = 0, end = 0;
        try
        {
            while (true)
            {
                if (end == buffer.Length)
                {
                    if (start == 0)
                    {
                        Array.Resize(ref buffer, buffer.Length * 2);
                    }
                    else
                    {
                        Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                        end -= start;
                        start = 0;
                    }
                }
                var n = await _socket.ReceiveAsync(buffer.AsMemory(end), SocketFlags.None);
                if (n == 0)
                {
                    return;
                }
                end += n;
                while (true)
                {
                    var span = buffer.AsSpan(start, end - start);
                    var eol = span.IndexOf("\r\n"u8);
                    if (eol < 0)
                    {
                        break;
                    }
                    var line = span[..eol];
                    if (line.StartsWith("MSG "u8))
                    {
                        // MSG <subject> <sid> [reply-to] <#bytes>
                        var lastSpace = line.LastIndexOf((byte)' ');
                        Utf8Parser.TryParse(line[(lastSpace + 1)..], out int size, out _);
                        if (span.Length < eol + 2 + size + 2)
                        {
                            break; // wait for the whole payload
                        }
                        _onMessage(this, buffer.AsMemory(start + eol + 2, size));
                        start += eol + 2 + size + 2;
                        continue;
                    }
                    if (line.SequenceEqual("PING"u8))
                    {
                        Write("PONG\r\n"u8);
                    }
                    else if (line.SequenceEqual("PONG"u8))
                    {
                        _pong.TrySetResult();
                    }
                    else if (line.StartsWith("-ERR"u8))
                    {
                        Console.Error.WriteLine("nats: " + Encoding.ASCII.GetString(line));
                    }
                    start += eol + 2;
                }
                if (start == end)
                {
                    start = end = 0;
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Closed.
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Already gone.
        }
        _socket.Close();
        try
        {
            await _reader.WaitAsync(TimeSpan.FromSeconds(2));
        }
        catch (TimeoutException)
        {
            // Abandon it.
        }
    }
}

/// <summary>nats-server (Debian, 2.9) as the raw pub/sub ceiling: no auth, no REST, no durable queue.</summary>
internal sealed class NatsTarget(IPEndPoint server) : ITarget
{
    public string Name => "nats";

    public Task<double> HeapBytesAsync(CancellationToken ct) => Task.FromResult(double.NaN);

    public async Task<Held> HoldAsync(int n, CancellationToken ct)
    {
        var cs = await Parallel2.MapAsync(n, 32, async i =>
        {
            try
            {
                return await NatsConnection.ConnectAsync(server, (_, _) => { }, ct);
            }
            catch (Exception ex) when (ex is SocketException or TimeoutException)
            {
                Console.Error.WriteLine($"nats: connection {i} failed: {ex.Message}");
                return null;
            }
        }, ct);
        return new Held(cs.Count(c => c is not null), async () =>
            await Parallel2.MapAsync(n, 64, async i =>
            {
                if (cs[i] is { } c)
                {
                    await c.DisposeAsync();
                }
                return 0;
            }, CancellationToken.None));
    }

    public async Task<IPairs> PairsAsync(int pairs, Action<long> onOneWay, Action<long> onRoundTrip, CancellationToken ct)
    {
        var a = new NatsConnection[pairs];
        var b = new NatsConnection[pairs];
        for (var p = 0; p < pairs; p++)
        {
            var back = $"bench.a.{p}";
            a[p] = await NatsConnection.ConnectAsync(server, (_, m) =>
            {
                var stamp = Loopback.Stamp(m.Span, out long _);
                if (stamp > 0)
                {
                    onRoundTrip(Clock.Now - stamp);
                }
            }, ct);
            a[p].Subscribe(back, 1);
            b[p] = await NatsConnection.ConnectAsync(server, (c, m) =>
            {
                var stamp = Loopback.Stamp(m.Span, out long _);
                if (stamp > 0)
                {
                    onOneWay(Clock.Now - stamp);
                    var head = Encoding.ASCII.GetBytes($"PUB {back} {m.Length}\r\n");
                    c.Write([.. head, .. m.Span, .. "\r\n"u8]);
                }
            }, ct);
            b[p].Subscribe($"bench.b.{p}", 1);
        }
        await Task.Delay(300, ct);
        return new Pairs(a, b);
    }

    private sealed class Pairs(NatsConnection[] a, NatsConnection[] b) : IPairs
    {
        public void Send(int pair, long stamp, long seq) => a[pair].Publish($"bench.b.{pair}", Loopback.StampText(stamp, seq));

        public async ValueTask DisposeAsync()
        {
            foreach (var c in a.Concat(b))
            {
                await c.DisposeAsync();
            }
        }
    }

    public async Task<(IFanout? Fanout, string Note)> FanoutAsync(int subscribers, Action<long, long> onDelivery, CancellationToken ct)
    {
        var subs = await Parallel2.MapAsync(subscribers, 32, async i =>
        {
            var c = await NatsConnection.ConnectAsync(server, (_, m) =>
            {
                var stamp = Loopback.Stamp(m.Span, out var seq);
                if (stamp > 0)
                {
                    onDelivery(Clock.Now - stamp, seq);
                }
            }, ct);
            c.Subscribe("bench.fanout", 1);
            return c;
        }, ct);
        var publisher = await NatsConnection.ConnectAsync(server, (_, _) => { }, ct);
        // A PING/PONG round trip on each subscriber's connection would prove its SUB is registered; one on the last is enough
        // in practice because the server handles connections' SUBs before the publisher's later PUBs. Give it a moment.
        await Task.Delay(300, ct);
        return (new Fanout(publisher, subs), "NATS subject");
    }

    private sealed class Fanout(NatsConnection publisher, NatsConnection[] subs) : IFanout
    {
        public void Publish(long stamp, long seq) => publisher.Publish("bench.fanout", Loopback.StampText(stamp, seq));

        public async ValueTask DisposeAsync()
        {
            await publisher.DisposeAsync();
            await Parallel2.MapAsync(subs.Length, 64, async i => { await subs[i].DisposeAsync(); return 0; }, CancellationToken.None);
        }
    }

    public Func<int, Task>? RestRead(int agents, string mix) => null;

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
