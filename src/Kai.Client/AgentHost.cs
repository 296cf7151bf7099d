using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Polly.Retry;

namespace Kai.Client;

/// <summary>Settings of an <see cref="AgentHost"/>.</summary>
public sealed class AgentHostOptions
{
    /// <summary>The agent's credentials.</summary>
    public required AgentCredentials Credentials { get; init; }

    /// <summary>Longest wait between reconnect attempts. Default: 30 seconds.</summary>
    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>First reconnect delay; doubles per failed attempt, with jitter. Default: 500 ms.</summary>
    public TimeSpan ReconnectDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Commands handled at once; more wait. Default: 16.</summary>
    public int MaxConcurrentCommands { get; init; } = 16;

    /// <summary>Clock for heartbeats and backoff. Default: the system clock.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Logger. Default: none.</summary>
    public ILogger Logger { get; init; } = NullLogger.Instance;

    /// <summary>
    /// Called when the hub rejects the credentials at the token exchange (<c>AUTHENTICATION_FAILED</c>, for example after the
    /// client secret was rotated): return the current credentials (re-read from where they are saved) or null. A different
    /// secret is tried at once; an unchanged one is re-read with the reconnect backoff, up to <see cref="CredentialReloadAttempts"/>
    /// times, and then <see cref="AgentHost.RunAsync"/> throws the rejection. Default: none (a rejection ends the run at once).
    /// </summary>
    public Func<CancellationToken, ValueTask<AgentCredentials?>>? ReloadCredentials { get; init; }

    /// <summary>Consecutive rejections with an unchanged secret before giving up, when <see cref="ReloadCredentials"/> is set. Default: 6.</summary>
    public int CredentialReloadAttempts { get; init; } = 6;

    /// <summary>
    /// The keys of encrypted payloads (docs/protocol.md, "Encrypted payloads"). Sealed RPC <c>params</c> and KAIL <c>payload.input</c> are
    /// opened with the key their <c>kid</c> names before the handler runs, and the handler's result is sealed with the same key; a sealed
    /// value that does not open here (no such key, a wrong key, altered) is answered <c>VALIDATION_ERROR</c> without running the handler.
    /// Errors and streamed chunks are never sealed. Default: none (a sealed value is refused the same way).
    /// </summary>
    public PayloadKeyRing? PayloadKeys { get; init; }
}

/// <summary>What a command handler receives (seed 000 <c>command</c> frame).</summary>
/// <param name="CommandId">The hub's id; the same id may arrive twice after a reconnect (at-least-once delivery).</param>
/// <param name="Command">The command name.</param>
/// <param name="Parameters">The parameters object.</param>
/// <param name="Priority"><c>low</c>, <c>normal</c>, <c>high</c> or <c>urgent</c>.</param>
/// <param name="Deadline">After this the hub no longer waits for the result.</param>
/// <param name="CorrelationId">The caller's correlation id, if any.</param>
public sealed record CommandContext(string CommandId, string Command, JsonElement Parameters, string Priority, DateTimeOffset Deadline, string? CorrelationId)
{
    /// <summary>Reads a string parameter, or null if absent.</summary>
    public string? GetString(string name) =>
        Parameters.ValueKind == JsonValueKind.Object && Parameters.TryGetProperty(name, out var v)
            ? v.ValueKind == JsonValueKind.String ? v.GetString() : v.GetRawText()
            : null;
}

/// <summary>
/// Hosts one agent process: signs in with client credentials, holds the live link, reconnects with exponential
/// backoff and jitter (Polly), sends heartbeats at the hub's interval, runs command handlers and answers messages.
/// </summary>
/// <remarks>
/// Commands are at least once: a command id seen again while its handler runs is ignored, and one already answered
/// gets the same result again without running the handler twice (the last 1,024 results are kept).
/// Messages are at most once: <see cref="SendMessageAsync"/> throws if the target has no live link.
/// </remarks>
public sealed partial class AgentHost : IAsyncDisposable
{
    private readonly AgentHostOptions _options;
    private readonly HubClient _client;
    private readonly Dictionary<string, Func<CommandContext, CancellationToken, Task<object?>>> _commands = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Func<AgentMessageDelivery, CancellationToken, Task<object?>>> _messageHandlers = new(StringComparer.Ordinal);
    private readonly Channel<AgentMessageDelivery> _messages = Channel.CreateBounded<AgentMessageDelivery>(new BoundedChannelOptions(1024) { FullMode = BoundedChannelFullMode.DropOldest });
    private readonly ConcurrentDictionary<string, TaskCompletionSource<AgentMessageDelivery>> _asks = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _running = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CommandResultPayload> _results = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _resultOrder = new();
    private readonly SemaphoreSlim _concurrency;
    private TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private HubLink? _link;
    private AgentCredentials _credentials;
    private int _rejections;

    /// <summary>Creates the host; nothing connects until <see cref="RunAsync"/>.</summary>
    public AgentHost(AgentHostOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _credentials = options.Credentials;
        _client = new HubClient(new Uri(options.Credentials.HubUrl), time: options.Time);
        _concurrency = new SemaphoreSlim(options.MaxConcurrentCommands);
    }

    /// <summary>The agent id.</summary>
    public string AgentId => _options.Credentials.AgentId;

    /// <summary>Whether the live link is open now.</summary>
    public bool IsConnected => _link is { Completion.IsCompleted: false };

    /// <summary>Raised when a link opens (after the welcome frame).</summary>
    public event Action? Connected;

    /// <summary>Raised when a link closes, with the close code and reason (see <c>Kai.Protocol.CloseCodes</c>).</summary>
    public event Action<int?, string?>? Disconnected;

    /// <summary>Messages that no <see cref="OnMessage"/> handler took and that answer no <see cref="AskAsync"/>, in arrival order (the newest 1,024 are kept).</summary>
    public IAsyncEnumerable<AgentMessageDelivery> Messages(CancellationToken ct = default) => _messages.Reader.ReadAllAsync(ct);

    /// <summary>Registers the handler of a command. It returns the result (any JSON-serializable value) or throws to fail the command with the exception's message.</summary>
    public AgentHost OnCommand(string command, Func<CommandContext, CancellationToken, Task<object?>> handler)
    {
        _commands[command] = handler;
        return this;
    }

    /// <summary>
    /// Registers the handler of a message type. When the message has <c>requires_response</c>, the handler's return value is sent back
    /// as an <c>agent_message</c> of type <c>{message_type}.result</c> with the same <c>correlation_id</c>; an exception is sent back as
    /// type <c>{message_type}.error</c> with <c>{"error": message}</c>.
    /// </summary>
    public AgentHost OnMessage(string messageType, Func<AgentMessageDelivery, CancellationToken, Task<object?>> handler)
    {
        _messageHandlers[messageType] = handler;
        return this;
    }

    /// <summary>Waits until the live link is open.</summary>
    public Task WaitConnectedAsync(CancellationToken ct = default) => _connected.Task.WaitAsync(ct);

    /// <summary>Sends an <c>agent_message</c> and waits for the hub's ack.</summary>
    /// <exception cref="HubApiException"><c>AGENT_NOT_FOUND</c> (unknown or unreachable target), <c>AGENT_UNAVAILABLE</c> (no live link), <c>VALIDATION_ERROR</c>.</exception>
    /// <exception cref="InvalidOperationException">This host is not connected.</exception>
    public Task SendMessageAsync(string toAgent, string messageType, object? content, bool requiresResponse = false, string? correlationId = null, CancellationToken ct = default) =>
        CurrentLink().RequestAsync(FrameTypes.AgentMessage,
            new AgentMessageSend(toAgent, messageType, JsonSerializer.SerializeToElement(content, KaiJson.Options), requiresResponse, correlationId), ct: ct);

    /// <summary>Sends a message with <c>requires_response</c> and waits for the answer with the same correlation id.</summary>
    /// <exception cref="HubApiException">As <see cref="SendMessageAsync"/>.</exception>
    /// <exception cref="TimeoutException">No answer within <paramref name="timeout"/> (default 30 s).</exception>
    public async Task<AgentMessageDelivery> AskAsync(string toAgent, string messageType, object? content, TimeSpan? timeout = null, CancellationToken ct = default)
    {
        var correlationId = Guid.NewGuid().ToString("N");
        var answer = new TaskCompletionSource<AgentMessageDelivery>(TaskCreationOptions.RunContinuationsAsynchronously);
        _asks[correlationId] = answer;
        try
        {
            await SendMessageAsync(toAgent, messageType, content, true, correlationId, ct);
            return await answer.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(30), _options.Time, ct);
        }
        finally
        {
            _asks.TryRemove(correlationId, out _);
        }
    }

    /// <summary>Sends a <c>log</c> frame (seed 000); the hub relays it to observers. Dropped silently when not connected.</summary>
    public async Task LogAsync(string level, string message, string? component = null, CancellationToken ct = default)
    {
        if (_link is { } link && IsConnected)
        {
            try
            {
                await link.SendAsync(FrameTypes.Log, new LogPayload(level, message, component, _options.Time.GetUtcNow()), ct: ct);
            }
            catch (Exception ex) when (ex is System.Net.WebSockets.WebSocketException or ObjectDisposedException or HubLinkClosedException)
            {
                // The link closed between the check and the send: the log line is dropped, as documented.
            }
        }
    }

    /// <summary>
    /// Connects and serves until <paramref name="ct"/> is cancelled, reconnecting after every loss. Returns normally on cancellation.
    /// </summary>
    /// <exception cref="HubApiException">The credentials were rejected (<c>AUTHENTICATION_FAILED</c>).</exception>
    /// <exception cref="HubLinkClosedException">The hub refused the agent for good (4001: deleted or not permitted; 4006: another process took over the agent).</exception>
    public async Task RunAsync(CancellationToken ct)
    {
        var pipeline = new ResiliencePipelineBuilder { TimeProvider = _options.Time }
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = _options.ReconnectDelay,
                MaxDelay = _options.MaxReconnectDelay,
                // 4002: the token expired or the session was revoked; ServeOnceAsync fetches a new token first, so reconnect at once.
                // Only on the first attempt, so a hub that keeps closing with 4002 still gets backoff. 4004 and 1013 take the backoff.
                DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(
                    args.AttemptNumber == 0 && args.Outcome.Exception is HubLinkClosedException { Code: CloseCodes.SessionExpired } ? TimeSpan.Zero : null),
                ShouldHandle = new PredicateBuilder().Handle<Exception>(ex => ex is not OperationCanceledException && !IsTerminal(ex)),
                OnRetry = args =>
                {
                    Log.Reconnecting(_options.Logger, AgentId, args.RetryDelay, args.Outcome.Exception?.Message);
                    return default;
                },
            })
            .Build();
        try
        {
            while (!ct.IsCancellationRequested)
            {
                // One pipeline run per connection episode: a link that lived a while resets the backoff.
                await pipeline.ExecuteAsync(ServeOnceAsync, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Stopped by the caller.
        }
    }

    private static bool IsTerminal(Exception ex) =>
        ex is HubApiException { Code: ErrorCodes.AuthenticationFailed or ErrorCodes.ValidationError }
        || ex is HubLinkClosedException { Code: CloseCodes.InvalidSession or CloseCodes.Replaced or CloseCodes.MessageTooBig };

    private async ValueTask ServeOnceAsync(CancellationToken ct)
    {
        await LoginAsync(ct);
        await using var link = await _client.ConnectAsync(AgentId, ct);
        var opened = _options.Time.GetUtcNow();
        _link = link;
        _connected.TrySetResult();
        Log.Connected(_options.Logger, AgentId);
        Connected?.Invoke();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var heartbeats = HeartbeatLoopAsync(link, TimeSpan.FromSeconds(Math.Max(1, link.Welcome.HeartbeatInterval)), stop.Token);
        try
        {
            await foreach (var frame in link.ReadAllAsync(ct))
            {
                Dispatch(link, frame, stop.Token);
            }
        }
        finally
        {
            await stop.CancelAsync();
            await heartbeats;
            _link = null;
            _connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Disconnected?.Invoke(link.CloseCode, link.CloseReason);
        }
        ct.ThrowIfCancellationRequested();
        Log.Disconnected(_options.Logger, AgentId, link.CloseCode, link.CloseReason);
        if (IsTerminal(new HubLinkClosedException(link.CloseCode, link.CloseReason)) || _options.Time.GetUtcNow() - opened < TimeSpan.FromSeconds(5))
        {
            // Terminal codes stop the host; a link that died young counts as a failed attempt, so backoff applies.
            throw new HubLinkClosedException(link.CloseCode, link.CloseReason);
        }
    }

    private async Task HeartbeatLoopAsync(HubLink link, TimeSpan interval, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(interval, _options.Time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                await link.SendAsync(FrameTypes.Heartbeat, new HeartbeatPayload(AgentId, _options.Time.GetUtcNow(), null, _running.Count), ct: ct);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or System.Net.WebSockets.WebSocketException or ObjectDisposedException)
        {
            // The link ended.
        }
    }

    private void Dispatch(HubLink link, Frame frame, CancellationToken ct)
    {
        switch (frame.Type)
        {
            case FrameTypes.Command when frame.PayloadAs<CommandPayload>() is { } command:
                _ = RunCommandAsync(link, command, ct);
                break;
            case FrameTypes.AgentMessage when frame.PayloadAs<AgentMessageDelivery>() is { } message:
                if (message.CorrelationId is { } cid && !message.RequiresResponse && _asks.TryGetValue(cid, out var ask))
                {
                    ask.TrySetResult(message);
                }
                else if (_messageHandlers.TryGetValue(message.MessageType, out var handler))
                {
                    _ = RunMessageHandlerAsync(message, handler, ct);
                }
                else
                {
                    _messages.Writer.TryWrite(message);
                }
                break;
            case FrameTypes.Task or FrameTypes.TaskCancel:
                DispatchTask(frame, ct);
                break;
            case FrameTypes.StreamPrompt or FrameTypes.StreamControl:
                DispatchStream(frame, ct);
                break;
            case FrameTypes.RpcRequest when frame.PayloadAs<Kai.Protocol.Rpc.RpcRequest>() is { } rpc:
                _ = RunRpcAsync(link, rpc, ct);
                break;
            case FrameTypes.Invocation when frame.PayloadAs<Kai.Protocol.Kail.AgentInvocation>() is { } invocation:
                _ = RunInvocationAsync(link, invocation, ct);
                break;
            case FrameTypes.Error:
                Log.HubError(_options.Logger, AgentId, frame.Payload.GetRawText());
                break;
        }
    }

    private async Task RunCommandAsync(HubLink link, CommandPayload command, CancellationToken ct)
    {
        if (_results.TryGetValue(command.CommandId, out var cached))
        {
            await SendResultAsync(link, cached, ct);
            return;
        }
        if (!_running.TryAdd(command.CommandId, 0))
        {
            return;
        }
        CommandResultPayload result;
        await _concurrency.WaitAsync(ct);
        try
        {
            if (!_commands.TryGetValue(command.Command, out var handler))
            {
                result = new CommandResultPayload(command.CommandId, CommandStatuses.Failed, null,
                    $"unknown command '{command.Command}'; this agent handles: {string.Join(", ", _commands.Keys.Order(StringComparer.Ordinal))}");
            }
            else
            {
                try
                {
                    var value = await handler(new CommandContext(command.CommandId, command.Command, command.Parameters, command.Priority, command.Deadline, command.CorrelationId), ct);
                    result = new CommandResultPayload(command.CommandId, CommandStatuses.Completed, JsonSerializer.SerializeToElement(value, KaiJson.Options));
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    result = new CommandResultPayload(command.CommandId, CommandStatuses.Failed, null, ex.Message);
                }
            }
        }
        finally
        {
            _concurrency.Release();
            _running.TryRemove(command.CommandId, out _);
        }
        Remember(result);
        await SendResultAsync(_link ?? link, result, ct);
    }

    private async Task SendResultAsync(HubLink link, CommandResultPayload result, CancellationToken ct)
    {
        try
        {
            await link.RequestAsync(FrameTypes.CommandResult, result, ct: ct);
        }
        catch (Exception ex) when (ex is HubLinkClosedException or System.Net.WebSockets.WebSocketException or OperationCanceledException or TimeoutException or HubApiException)
        {
            // The hub redelivers the command after a reconnect; the cached result answers it then.
            Log.ResultNotSent(_options.Logger, result.CommandId, ex.Message);
        }
    }

    private void Remember(CommandResultPayload result)
    {
        _results[result.CommandId] = result;
        _resultOrder.Enqueue(result.CommandId);
        while (_resultOrder.Count > 1024 && _resultOrder.TryDequeue(out var old))
        {
            _results.TryRemove(old, out _);
        }
    }

    private async Task RunMessageHandlerAsync(AgentMessageDelivery message, Func<AgentMessageDelivery, CancellationToken, Task<object?>> handler, CancellationToken ct)
    {
        string type;
        object? reply;
        try
        {
            reply = await handler(message, ct);
            type = message.MessageType + ".result";
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            reply = new Dictionary<string, string> { ["error"] = ex.Message };
            type = message.MessageType + ".error";
        }
        if (!message.RequiresResponse)
        {
            return;
        }
        try
        {
            await SendMessageAsync(message.FromAgent, type, reply, false, message.CorrelationId, ct);
        }
        catch (Exception ex) when (ex is HubApiException or HubLinkClosedException or InvalidOperationException or TimeoutException)
        {
            Log.ReplyNotSent(_options.Logger, message.FromAgent, ex.Message);
        }
    }

    /// <summary>
    /// Opens <paramref name="value"/> with <see cref="AgentHostOptions.PayloadKeys"/> when it is sealed. Returns null when it was not sealed
    /// (<paramref name="opened"/> is the value itself) or opened; else why it cannot be opened, for the error answer.
    /// </summary>
    private string? OpenSealed(JsonElement? value, out JsonElement? opened, out string? keyId)
    {
        opened = value;
        keyId = null;
        if (value is not { } sealedValue || !EncryptedPayload.IsEncrypted(sealedValue))
        {
            return null;
        }
        keyId = EncryptedPayload.KeyIdOf(sealedValue);
        if (_options.PayloadKeys is not { } keys)
        {
            return $"it is sealed (key '{keyId}') and agent '{AgentId}' holds no payload keys.";
        }
        try
        {
            opened = keys.Open(sealedValue);
            return null;
        }
        catch (EncryptedPayloadException e)
        {
            return e.Message;
        }
    }

    /// <summary>The handler's value as JSON, sealed with <paramref name="keyId"/> when the request came sealed with it.</summary>
    private JsonElement SealedLike(object? value, string? keyId) =>
        keyId is null ? JsonSerializer.SerializeToElement(value, KaiJson.Options) : _options.PayloadKeys!.Seal(value, keyId);

    private HubLink CurrentLink() => _link ?? throw new InvalidOperationException($"Agent '{AgentId}' is not connected to the hub.");

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_link is { } link)
        {
            await link.DisposeAsync();
        }
        _client.Dispose();
        _concurrency.Dispose();
    }

    /// <summary>The token exchange, re-reading the credentials after a rejection when the options say how.</summary>
    private async Task LoginAsync(CancellationToken ct)
    {
        try
        {
            await _client.LoginAgentAsync(_credentials.ClientId, _credentials.ClientSecret, ct);
            _rejections = 0;
        }
        catch (HubApiException ex) when (ex.Code == ErrorCodes.AuthenticationFailed && _options.ReloadCredentials is { } reload)
        {
            var fresh = await reload(ct);
            if (fresh is not null && fresh.ClientId == _credentials.ClientId && fresh.ClientSecret != _credentials.ClientSecret)
            {
                Log.CredentialsReloaded(_options.Logger, AgentId);
                _credentials = fresh;
                await _client.LoginAgentAsync(_credentials.ClientId, _credentials.ClientSecret, ct);
                _rejections = 0;
                return;
            }
            if (++_rejections >= _options.CredentialReloadAttempts)
            {
                throw;
            }
            // Not terminal: the pipeline retries with backoff, and the saved secret may have changed by then.
            throw new CredentialsRejectedException(ex);
        }
    }

    /// <summary>The secret was refused and the saved one is unchanged (yet): retried with backoff.</summary>
    private sealed class CredentialsRejectedException(HubApiException inner)
        : Exception($"the hub rejected the client secret ({inner.Message}); re-reading the saved credentials", inner);

    private static partial class Log
    {
        [LoggerMessage(7, LogLevel.Warning, "Agent {AgentId}: the hub rejected the client secret; using the newly saved one")]
        public static partial void CredentialsReloaded(ILogger logger, string agentId);

        [LoggerMessage(1, LogLevel.Information, "Agent {AgentId} connected to the hub")]
        public static partial void Connected(ILogger logger, string agentId);

        [LoggerMessage(2, LogLevel.Warning, "Agent {AgentId} lost its link (close {Code}: {Reason})")]
        public static partial void Disconnected(ILogger logger, string agentId, int? code, string? reason);

        [LoggerMessage(3, LogLevel.Warning, "Agent {AgentId} reconnecting in {Delay}: {Error}")]
        public static partial void Reconnecting(ILogger logger, string agentId, TimeSpan delay, string? error);

        [LoggerMessage(4, LogLevel.Warning, "Agent {AgentId} got an error frame: {Error}")]
        public static partial void HubError(ILogger logger, string agentId, string error);

        [LoggerMessage(5, LogLevel.Warning, "Result of {CommandId} not sent: {Error}")]
        public static partial void ResultNotSent(ILogger logger, string commandId, string error);

        [LoggerMessage(6, LogLevel.Warning, "Reply to {AgentId} not sent: {Error}")]
        public static partial void ReplyNotSent(ILogger logger, string agentId, string error);
    }
}
