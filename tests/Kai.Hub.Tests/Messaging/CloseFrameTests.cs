using System.Net.WebSockets;
using System.Text;
using Kai.Protocol;
using Kai.Testing;

namespace Kai.Hub.Tests.Messaging;

/// <summary>
/// A link the hub closes for bad input gets its close frame even while the client is still sending, as the fuzz bench's
/// clients do (bench/fuzz.sh; the rare drops it still reports are described in docs/security.md).
/// </summary>
public sealed class CloseFrameTests
{
    public static TheoryData<string> BadInputs => ["oversized", "invalid-utf8"];

    [Theory]
    [MemberData(nameof(BadInputs))]
    public async Task A_client_that_keeps_sending_after_bad_input_still_receives_the_close_frame(string input)
    {
        await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string> { ["Kai:Links:MaxFrameBytes"] = "4096" });
        var user = await hub.NewUserAsync();
        for (var attempt = 0; attempt < 10; attempt++)
        {
            await using var link = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, $"noisy-{attempt}"));
            var socket = link.Socket;
            var bad = input == "invalid-utf8" ? [0x7B, 0xFF, 0xFE, 0x7D] : Encoding.UTF8.GetBytes(new string('x', 6000));
            await socket.SendAsync(bad, WebSocketMessageType.Text, true, CancellationToken.None);
            // Keep the hub's receive buffer busy, as a client that has not yet seen the close does.
            var filler = Encoding.UTF8.GetBytes("{\"type\":\"heartbeat\",\"payload\":{\"padding\":\"" + new string('p', 2000) + "\"}}");
            var sending = Task.Run(async () =>
            {
                try
                {
                    for (var i = 0; i < 200; i++)
                    {
                        await socket.SendAsync(filler, WebSocketMessageType.Text, true, CancellationToken.None);
                    }
                }
                catch (Exception e) when (e is WebSocketException or ObjectDisposedException)
                {
                }
            });
            var expected = input == "invalid-utf8" ? 1007 : CloseCodes.MessageTooBig;
            Assert.Equal(expected, await link.ReceiveCloseAsync());
            await sending;
        }
    }

    [Fact]
    public async Task A_client_that_sends_megabytes_after_invalid_UTF8_before_reading_still_receives_1007()
    {
        // After the framework fails a link (1007) the hub drains what the client still sends; a client that has not read the close
        // yet can send whole frames meanwhile, here 2 MiB of them before it reads at all (the fuzz bench's clients do this).
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        var filler = Encoding.UTF8.GetBytes("{\"type\":\"heartbeat\",\"payload\":{\"padding\":\"" + new string('p', 64 * 1024) + "\"}}");
        for (var attempt = 0; attempt < 3; attempt++)
        {
            await using var link = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, $"flood-{attempt}"));
            var socket = link.Socket;
            await socket.SendAsync(new byte[] { 0x7B, 0xFF, 0xFE, 0x7D }, WebSocketMessageType.Text, true, CancellationToken.None);
            for (var i = 0; i < 32; i++)
            {
                await socket.SendAsync(filler, WebSocketMessageType.Text, true, CancellationToken.None);
            }
            Assert.Equal(1007, await link.ReceiveCloseAsync());
        }
    }

    public static TheoryData<string> RefusedPaths => ["ws/agents/someone", "ws", "api/chat/ws/session_20260101000000_deadbeef"];

    [Theory]
    [MemberData(nameof(RefusedPaths))]
    public async Task A_link_refused_at_the_start_gets_its_close_frame_while_the_client_floods_it_with_bad_frames(string path)
    {
        // The fuzz bench's drops: a link refused right after the upgrade (here a bad token, 4003) whose client sends invalid UTF-8
        // and then megabytes before it reads. The hub's close handshake fails on the bad frame; the link must still linger until
        // the client has what it was sent, or the kernel's reset destroys the close frame.
        await using var hub = await TestHub.StartAsync();
        var filler = Encoding.UTF8.GetBytes("{\"type\":\"heartbeat\",\"payload\":{\"padding\":\"" + new string('p', 64 * 1024) + "\"}}");
        for (var attempt = 0; attempt < 3; attempt++)
        {
            await using var link = await hub.ConnectAsync(path, "not-a-token");
            var socket = link.Socket;
            await socket.SendAsync(new byte[] { 0x7B, 0xFF, 0xFE, 0x7D }, WebSocketMessageType.Text, true, CancellationToken.None);
            try
            {
                for (var i = 0; i < 32; i++)
                {
                    await socket.SendAsync(filler, WebSocketMessageType.Text, true, CancellationToken.None);
                }
            }
            catch (WebSocketException e)
            {
                Assert.Fail($"attempt {attempt}: the hub reset the link while the client was sending ({e.Message})");
            }
            Assert.Equal(CloseCodes.AuthenticationFailed, await link.ReceiveCloseAsync());
        }
    }
}
