using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Frames;

namespace Kai.Testing;

/// <summary>A raw WebSocket speaking the frame format, with receive timeouts so a test fails instead of hanging.</summary>
public sealed class TestSocket(ClientWebSocket socket) : IAsyncDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    public ClientWebSocket Socket { get; } = socket;

    public Task SendAsync(string type, object? payload, string? id = null) =>
        SendRawAsync(JsonSerializer.Serialize(new { type, id, timestamp = DateTimeOffset.UtcNow, payload }, KaiJson.Options));

    public Task SendRawAsync(string text) =>
        Socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    /// <summary>Receives the next frame; throws <see cref="TimeoutException"/> if none comes, <see cref="WebSocketCloseException"/> on close.</summary>
    public async Task<Frame> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        var buffer = new byte[64 * 1024];
        using var ms = new MemoryStream();
        try
        {
            while (true)
            {
                var result = await Socket.ReceiveAsync(buffer, cts.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    if (Socket.State == WebSocketState.CloseReceived)
                    {
                        // Finish the close handshake, as a well-behaved client does.
                        await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                    }
                    throw new WebSocketCloseException((int?)Socket.CloseStatus, Socket.CloseStatusDescription);
                }
                ms.Write(buffer, 0, result.Count);
                if (result.EndOfMessage)
                {
                    return Frame.Parse(ms.ToArray());
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("No frame arrived in time.");
        }
    }

    /// <summary>Receives frames until one of <paramref name="type"/> arrives (others are skipped).</summary>
    public async Task<Frame> ReceiveAsync(string type, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException($"No '{type}' frame arrived in time.");
            }
            var frame = await ReceiveAsync(left);
            if (frame.Type == type)
            {
                return frame;
            }
        }
    }

    /// <summary>Reads until the hub closes the link and returns the close code.</summary>
    public async Task<int?> ReceiveCloseAsync(TimeSpan? timeout = null)
    {
        try
        {
            while (true)
            {
                await ReceiveAsync(timeout);
            }
        }
        catch (WebSocketCloseException ex)
        {
            return ex.Code;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Socket.State == WebSocketState.Open)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", cts.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
            {
                Socket.Abort();
            }
        }
        Socket.Dispose();
    }
}

public sealed class WebSocketCloseException(int? code, string? reason) : Exception($"closed with {code}: {reason}")
{
    public int? Code { get; } = code;

    public string? Reason { get; } = reason;
}
