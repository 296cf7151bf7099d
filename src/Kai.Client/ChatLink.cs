using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;
using Kai.Protocol;
using Kai.Protocol.Chat;

namespace Kai.Client;

/// <summary>
/// An open chat WebSocket <c>/api/chat/ws/{session_id}</c> (seed 003 "WebSocket Protocol"), from <see cref="HubClient.ConnectChatAsync"/>.
/// The hub's messages arrive in order through <see cref="ReadAllAsync"/> (its <c>ping</c>s are answered and left out). The link sends its
/// own <c>ping</c> every <see cref="HeartbeatInterval"/>, as the reference client does, so a human who is thinking is not closed for
/// inactivity (4002). Sends are serialized.
/// </summary>
public sealed class ChatLink : IAsyncDisposable
{
    private const int MaxIncomingBytes = 4 * 1024 * 1024;
    private readonly ClientWebSocket _socket;
    private readonly Channel<ChatSocketMessage> _incoming = Channel.CreateUnbounded<ChatSocketMessage>(new UnboundedChannelOptions { SingleWriter = true });
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _reader;
    private readonly Task _heartbeat;

    private ChatLink(ClientWebSocket socket, string sessionId, TimeSpan heartbeat)
    {
        _socket = socket;
        SessionId = sessionId;
        HeartbeatInterval = heartbeat;
        _reader = ReadLoopAsync();
        _heartbeat = HeartbeatLoopAsync();
    }

    /// <summary>The session this link belongs to.</summary>
    public string SessionId { get; }

    /// <summary>How often the link sends <c>{"type":"ping"}</c> (20 s; the hub closes a link that sent nothing for 30 s plus 5 s of grace).</summary>
    public TimeSpan HeartbeatInterval { get; }

    /// <summary>Completes when the link is closed, by either side.</summary>
    public Task Completion => _closed.Task;

    /// <summary>
    /// The close code once closed, or null while open or after an abort (<see cref="CloseCodes"/>): 4001 not a session id, 4002 the session
    /// ended or timed out or the link sent nothing for too long, 4003 a bad token or not the caller's session, 4004 too many messages.
    /// </summary>
    public int? CloseCode => (int?)_socket.CloseStatus;

    /// <summary>The close reason once closed.</summary>
    public string? CloseReason => _socket.CloseStatusDescription;

    internal static async Task<ChatLink> ConnectAsync(Uri uri, string accessToken, string sessionId, TimeSpan? heartbeat, CancellationToken ct)
    {
        var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + accessToken);
        try
        {
            await socket.ConnectAsync(uri, ct);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new ChatLink(socket, sessionId, heartbeat ?? TimeSpan.FromSeconds(20));
    }

    /// <summary>
    /// Sends the human's words, as the reference client does: <c>{type: "text", content, timestamp, metadata{conversation_type}}</c>. In a
    /// <see cref="ChatSessionTypes.AgentAgent"/> session the text is the topic the two agents start talking about.
    /// </summary>
    /// <param name="content">The text: not blank, at most the hub's <c>Kai:Chat:MaxContentLength</c> characters; the hub answers an <c>error</c> message otherwise.</param>
    /// <param name="conversationType">The session type (<see cref="ChatSessionTypes"/>).</param>
    /// <param name="ct">Cancellation.</param>
    public Task SendTextAsync(string content, string conversationType = ChatSessionTypes.HumanAgent, CancellationToken ct = default) =>
        SendAsync(new { type = ChatFrameTypes.Text, content, timestamp = DateTimeOffset.UtcNow, metadata = new { conversation_type = conversationType } }, ct);

    /// <summary>Stops the two agents of an <see cref="ChatSessionTypes.AgentAgent"/> session (<c>{type: "stop"}</c>); the hub answers with a <c>stop</c> message.</summary>
    /// <param name="ct">Cancellation.</param>
    public Task StopAsync(CancellationToken ct = default) => SendAsync(new { type = ChatFrameTypes.Stop, timestamp = DateTimeOffset.UtcNow }, ct);

    /// <summary>The hub's messages in order, <c>ping</c> left out, until the link closes (then <see cref="CloseCode"/> says why).</summary>
    /// <param name="ct">Cancellation.</param>
    public IAsyncEnumerable<ChatSocketMessage> ReadAllAsync(CancellationToken ct = default) => _incoming.Reader.ReadAllAsync(ct);

    private async Task SendAsync(object message, CancellationToken ct)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(message, KaiJson.Options);
        await _sendLock.WaitAsync(ct);
        try
        {
            await _socket.SendAsync(bytes, WebSocketMessageType.Text, true, ct);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private async Task HeartbeatLoopAsync()
    {
        try
        {
            while (true)
            {
                await Task.Delay(HeartbeatInterval, _stop.Token);
                await SendAsync(new { type = ChatFrameTypes.Ping, timestamp = DateTimeOffset.UtcNow }, _stop.Token);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            // The link is closing.
        }
    }

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[16 * 1024];
        using var message = new MemoryStream();
        try
        {
            while (await _socket.ReceiveMessageAsync(buffer, message, MaxIncomingBytes, _stop.Token))
            {
                ChatSocketMessage? parsed;
                try
                {
                    parsed = JsonSerializer.Deserialize<ChatSocketMessage>(message.GetBuffer().AsSpan(0, (int)message.Length), KaiJson.Options);
                }
                catch (JsonException)
                {
                    parsed = null;
                }
                if (parsed is { Type: not null } m && m.Type != ChatFrameTypes.Ping)
                {
                    await _incoming.Writer.WriteAsync(m);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or InvalidDataException or ObjectDisposedException)
        {
            // The link is gone; Completion and CloseCode tell the caller.
        }
        finally
        {
            _incoming.Writer.TryComplete();
            _closed.TrySetResult();
        }
    }

    /// <summary>Closes the link normally (1000), waiting up to 5 s for the hub's half of the handshake. The session stays; end it with <see cref="HubClient.EndChatSessionAsync"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        await _socket.CloseNormallyAsync(_sendLock, _closed.Task);
        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll(_reader, _heartbeat);
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
        _socket.Dispose();
        _stop.Dispose();
        _sendLock.Dispose();
    }
}
