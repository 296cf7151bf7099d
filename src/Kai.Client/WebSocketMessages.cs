using System.Net.WebSockets;

namespace Kai.Client;

/// <summary>Reading whole messages from a client WebSocket, shared by <see cref="HubLink"/> and <see cref="ChatLink"/>.</summary>
internal static class WebSocketMessages
{
    /// <summary>
    /// Reads one whole message into <paramref name="message"/> (emptied first). False when the hub sent a close frame; it is answered, so
    /// the closing handshake completes and the socket's <c>CloseStatus</c> tells why.
    /// </summary>
    /// <exception cref="InvalidDataException">The message is larger than <paramref name="maxBytes"/>.</exception>
    public static async Task<bool> ReceiveMessageAsync(this ClientWebSocket socket, byte[] buffer, MemoryStream message, int maxBytes, CancellationToken ct)
    {
        message.SetLength(0);
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, ct);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                if (socket.State == WebSocketState.CloseReceived)
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                }
                return false;
            }
            message.Write(buffer, 0, result.Count);
            if (message.Length > maxBytes)
            {
                throw new InvalidDataException($"an incoming message is larger than {maxBytes} bytes");
            }
            if (result.EndOfMessage)
            {
                return true;
            }
        }
    }

    /// <summary>
    /// Closes normally (1000): the close frame under <paramref name="sendLock"/> (a WebSocket takes one send at a time, so it must not
    /// overlap a frame or a ping being sent), then waits for the hub's half of the handshake, <paramref name="closed"/>; 5 s in all,
    /// then the socket is aborted. Nothing to do when the socket is no longer open.
    /// </summary>
    public static async Task CloseNormallyAsync(this ClientWebSocket socket, SemaphoreSlim sendLock, Task closed)
    {
        if (socket.State != WebSocketState.Open)
        {
            return;
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await sendLock.WaitAsync(timeout.Token);
            try
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token);
            }
            finally
            {
                sendLock.Release();
            }
            await closed.WaitAsync(timeout.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
            socket.Abort();
        }
    }
}
