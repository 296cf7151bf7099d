using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;
using Kai.Protocol;
using Kai.Protocol.Frames;

namespace Kai.Client;

/// <summary>
/// One open WebSocket link speaking the seed 000 frame format: an agent's live link (<c>/ws/agents/{agent_id}</c>,
/// as the agent or an observer) or the event link (<c>/ws</c>, wrapped by <see cref="EventLink"/>). Frames that answer a
/// <see cref="RequestAsync"/> (an <c>ack</c> or <c>error</c> with its id) complete that call; every other frame is
/// delivered in order through <see cref="ReceiveAsync"/> / <see cref="ReadAllAsync"/>. Sends are serialized.
/// </summary>
public sealed class HubLink : IAsyncDisposable
{
    private const int MaxIncomingBytes = 64 * 1024 * 1024;
    private readonly ClientWebSocket _socket;
    private readonly Channel<Frame> _incoming = Channel.CreateUnbounded<Frame>(new UnboundedChannelOptions { SingleWriter = true });
    private readonly ConcurrentDictionary<string, TaskCompletionSource<Frame>> _pending = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private Task _reader = Task.CompletedTask;
    private WelcomePayload? _welcome;

    private HubLink(ClientWebSocket socket) => _socket = socket;

    /// <summary>
    /// The hub's <c>welcome</c> frame on an agent link (<c>/ws/agents/{id}</c>): the link's role, the expected heartbeat interval
    /// and the frame size limit. On the event link <c>/ws</c> read <see cref="WelcomeAs{T}"/> with <c>EventLinkWelcome</c> instead.
    /// </summary>
    public WelcomePayload Welcome => _welcome ??= WelcomeFrame.PayloadAs<WelcomePayload>()!;

    /// <summary>The raw <c>welcome</c> frame, the first frame of every link.</summary>
    public Frame WelcomeFrame { get; private set; } = null!;

    /// <summary>The <c>welcome</c> payload read as <typeparamref name="T"/> (for example <c>EventLinkWelcome</c> on <c>/ws</c>).</summary>
    /// <typeparam name="T">The payload record of the link's welcome.</typeparam>
    /// <returns>The payload.</returns>
    /// <exception cref="JsonException">The payload does not have the shape of <typeparamref name="T"/>.</exception>
    public T WelcomeAs<T>() => WelcomeFrame.PayloadAs<T>()!;

    /// <summary>Completes when the link is closed, by either side.</summary>
    public Task Completion => _closed.Task;

    /// <summary>The close code once closed (see <c>Kai.Protocol.CloseCodes</c>), or null while open or after an abort.</summary>
    public int? CloseCode => (int?)_socket.CloseStatus;

    /// <summary>The close reason once closed.</summary>
    public string? CloseReason => _socket.CloseStatusDescription;

    /// <summary>Connects with <c>Authorization: Bearer</c> and waits for the <c>welcome</c> frame (10 s at most).</summary>
    /// <param name="uri">The <c>ws://</c> or <c>wss://</c> URI.</param>
    /// <param name="accessToken">The access token.</param>
    /// <param name="ct">Cancellation.</param>
    /// <returns>The open link.</returns>
    /// <exception cref="HubLinkClosedException">The hub closed the link instead of welcoming it (4003, 4001, ...).</exception>
    public static async Task<HubLink> ConnectAsync(Uri uri, string accessToken, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + accessToken);
        socket.Options.KeepAliveInterval = TimeSpan.FromSeconds(30);
        await socket.ConnectAsync(uri, ct);
        var link = new HubLink(socket);
        link._reader = link.ReadLoopAsync();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            var first = await link._incoming.Reader.ReadAsync(timeout.Token);
            if (first.Type != FrameTypes.Welcome)
            {
                throw new HubLinkClosedException(null, $"expected a welcome frame, got '{first.Type}'");
            }
            link.WelcomeFrame = first;
            return link;
        }
        catch (ChannelClosedException)
        {
            await link.DisposeAsync();
            throw new HubLinkClosedException(link.CloseCode, link.CloseReason);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            await link.DisposeAsync();
            throw new HubLinkClosedException(link.CloseCode, "no welcome frame within 10 s");
        }
    }

    /// <summary>Receives the next frame that is not the answer to a request.</summary>
    /// <exception cref="ChannelClosedException">The link closed; see <see cref="CloseCode"/>.</exception>
    public ValueTask<Frame> ReceiveAsync(CancellationToken ct = default) => _incoming.Reader.ReadAsync(ct);

    /// <summary>All frames that are not answers to requests, in order, until the link closes.</summary>
    public IAsyncEnumerable<Frame> ReadAllAsync(CancellationToken ct = default) => _incoming.Reader.ReadAllAsync(ct);

    /// <summary>Sends one frame without waiting for an answer.</summary>
    /// <param name="type">The frame type.</param>
    /// <param name="payload">The payload, serialized with the wire settings.</param>
    /// <param name="id">Optional id; with one, the hub answers with <c>ack</c> or <c>error</c> (see <see cref="RequestAsync"/>).</param>
    /// <param name="ct">Cancellation.</param>
    public async Task SendAsync(string type, object? payload, string? id = null, CancellationToken ct = default)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(
            new Frame(type, id, DateTimeOffset.UtcNow, JsonSerializer.SerializeToElement(payload, KaiJson.Options)), KaiJsonContext.Default.Frame);
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

    /// <summary>Sends a frame with a fresh id and waits for the hub's <c>ack</c>.</summary>
    /// <returns>The <c>ack</c> frame (its payload is type-specific, for example <c>{"command_id", "status"}</c> for a command).</returns>
    /// <exception cref="HubApiException">The hub answered with an <c>error</c> frame (for example <c>AGENT_NOT_FOUND</c>).</exception>
    /// <exception cref="TimeoutException">No answer within <paramref name="timeout"/> (default 30 s).</exception>
    public async Task<Frame> RequestAsync(string type, object? payload, TimeSpan? timeout = null, CancellationToken ct = default)
    {
        var id = Guid.NewGuid().ToString("N");
        var answer = new TaskCompletionSource<Frame>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = answer;
        try
        {
            await SendAsync(type, payload, id, ct);
            var frame = await answer.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(30), ct);
            if (frame.Type == FrameTypes.Error)
            {
                var error = frame.PayloadAs<ErrorPayload>()!;
                throw new HubApiException(error.Code, error.Message, 0, error.Details);
            }
            return frame;
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>Closes the link normally (1000) and waits for the hub to finish the handshake (5 s at most).</summary>
    public Task CloseAsync() => _socket.CloseNormallyAsync(_sendLock, _closed.Task);

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[16 * 1024];
        using var message = new MemoryStream();
        try
        {
            while (await _socket.ReceiveMessageAsync(buffer, message, MaxIncomingBytes, _stop.Token))
            {
                Frame frame;
                try
                {
                    frame = Frame.Parse(message.GetBuffer().AsSpan(0, (int)message.Length));
                }
                catch (JsonException)
                {
                    continue;
                }
                if (frame.Id is not null && frame.Type is FrameTypes.Ack or FrameTypes.Error && _pending.TryGetValue(frame.Id, out var waiter))
                {
                    waiter.TrySetResult(frame);
                    continue;
                }
                await _incoming.Writer.WriteAsync(frame);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or InvalidDataException or ObjectDisposedException)
        {
            // The link is gone; Completion and CloseCode tell the caller.
        }
        finally
        {
            _incoming.Writer.TryComplete();
            foreach (var pending in _pending.Values)
            {
                pending.TrySetException(new HubLinkClosedException(CloseCode, CloseReason));
            }
            _closed.TrySetResult();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await CloseAsync();
        await _stop.CancelAsync();
        try
        {
            await _reader;
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

/// <summary>The hub closed a link, or refused to open it.</summary>
/// <param name="code">The WebSocket close code (see <c>Kai.Protocol.CloseCodes</c>), if one was received.</param>
/// <param name="reason">The close reason.</param>
public sealed class HubLinkClosedException(int? code, string? reason) : Exception($"The link was closed ({code?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "no code"}): {reason}")
{
    /// <summary>The close code, if any.</summary>
    public int? Code { get; } = code;
}
