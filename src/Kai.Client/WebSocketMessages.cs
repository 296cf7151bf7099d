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
}
