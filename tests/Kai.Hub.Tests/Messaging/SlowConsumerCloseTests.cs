using System.Net.Sockets;
using System.Net.WebSockets;
using Kai.Hub.Routing;
using Kai.Protocol;
using Kai.Testing;

namespace Kai.Hub.Tests.Messaging;

/// <summary>
/// Issue 10 item 9: a slow consumer learns why it was dropped. The hub stops sending data, lets the frame in flight and then the
/// close frame reach the transport within a bounded wait, and only then gives up; the client reads close status 4008, not 1006.
/// </summary>
public sealed class SlowConsumerCloseTests
{
    private const int Cap = 64 * 1024;

    [Fact]
    public async Task A_client_that_stops_reading_receives_close_4008_when_it_reads_again()
    {
        await using var hub = await StartAsync();
        var user = await hub.NewUserAsync();
        await using var sender = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "firehose"));
        var sloth = await hub.NewAgentAsync(user.AccessToken, "sloth");
        using var slow = await ConnectSmallBufferAsync(hub, $"ws/agents/{sloth.AgentId}", await hub.AgentTokenAsync(sloth));

        // The client reads nothing while the hub's queue for it passes the cap.
        var link = hub.Service<ConnectionRegistry>().AgentLink("sloth")!;
        await FloodUntilClosingAsync(sender, link);
        Assert.Equal(CloseCodes.SlowConsumer, link.CloseCode);

        // When it reads again it gets the queued data, then the close frame that says why.
        var (status, _) = await DrainAsync(slow, chunkDelay: TimeSpan.Zero);
        Assert.Equal(CloseCodes.SlowConsumer, (int?)status);
        Assert.Contains("slow", slow.CloseStatusDescription, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_client_reading_slowly_receives_close_4008_not_a_reset()
    {
        await using var hub = await StartAsync();
        var user = await hub.NewUserAsync();
        await using var sender = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "firehose"));
        var sloth = await hub.NewAgentAsync(user.AccessToken, "sloth");
        using var slow = await ConnectSmallBufferAsync(hub, $"ws/agents/{sloth.AgentId}", await hub.AgentTokenAsync(sloth));
        var link = hub.Service<ConnectionRegistry>().AgentLink("sloth")!;

        // About 40 KB/s: 4 KiB every 100 ms, from the start, while the sender floods far faster.
        var reader = DrainAsync(slow, chunkDelay: TimeSpan.FromMilliseconds(100));
        await FloodUntilClosingAsync(sender, link);
        var (status, _) = await reader;
        Assert.Equal(CloseCodes.SlowConsumer, (int?)status);
    }

    private static Task<TestHub> StartAsync() =>
        TestHub.StartAsync(settings: new Dictionary<string, string> { ["Kai:Links:SendQueueBytes"] = Cap.ToString(System.Globalization.CultureInfo.InvariantCulture) });

    /// <summary>A real client socket with a small kernel receive buffer, so little of the flood hides in the client's kernel.</summary>
    private static async Task<ClientWebSocket> ConnectSmallBufferAsync(TestHub hub, string path, string token)
    {
        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, ct) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveBufferSize = 16 * 1024 };
                await socket.ConnectAsync(context.DnsEndPoint, ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        var client = new ClientWebSocket();
        await client.ConnectAsync(hub.WebSocketUri(path, token), new HttpMessageInvoker(handler, disposeHandler: false), CancellationToken.None);
        // The welcome comes after the hub registered the link.
        var welcome = new byte[4096];
        var first = await client.ReceiveAsync(welcome, CancellationToken.None);
        Assert.Contains("\"welcome\"", System.Text.Encoding.UTF8.GetString(welcome, 0, first.Count), StringComparison.Ordinal);
        return client;
    }

    private static async Task FloodUntilClosingAsync(TestSocket sender, LinkConnection link)
    {
        var blob = new string('z', 16 * 1024);
        var sent = 0;
        while (!link.IsClosing)
        {
            Assert.True(sent++ < 20_000, "the slow consumer was never closed");
            await sender.SendAsync("agent_message", new { to_agent = "sloth", message_type = "flood", content = blob });
        }
    }

    /// <summary>Reads 4 KiB at a time (pausing between chunks to be slow) until the close frame; returns its status and the bytes read.</summary>
    private static async Task<(WebSocketCloseStatus? Status, long Bytes)> DrainAsync(ClientWebSocket socket, TimeSpan chunkDelay)
    {
        var buffer = new byte[4096];
        long total = 0;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer, cts.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                    return (result.CloseStatus, total);
                }
                total += result.Count;
                if (chunkDelay > TimeSpan.Zero)
                {
                    await Task.Delay(chunkDelay, cts.Token);
                }
            }
        }
        catch (WebSocketException ex)
        {
            Assert.Fail($"the link ended without a close frame after {total} bytes ({ex.WebSocketErrorCode}: {ex.Message})");
            throw;
        }
    }
}
