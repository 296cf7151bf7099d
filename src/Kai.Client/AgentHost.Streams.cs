using System.Collections.Concurrent;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Protocol.Frames;
using Microsoft.Extensions.Logging;

namespace Kai.Client;

public sealed partial class AgentHost
{
    private readonly ConcurrentDictionary<string, StreamRun> _streams = new(StringComparer.Ordinal);
    private Func<StreamPromptPayload, CancellationToken, IAsyncEnumerable<string>>? _streamHandler;

    /// <summary>
    /// Registers the prompt stream handler (seed 000 "stream-prompt"): for each <c>stream_prompt</c> frame the host enumerates the
    /// handler and sends each yielded string as a <c>stream_chunk</c> with <c>chunk_index</c> 0, 1, 2, …, then one empty chunk with
    /// <c>is_final</c>. It honours <c>stream_control</c> from the hub: <c>pause</c> stops pulling from the enumerator until
    /// <c>resume</c>; <c>cancel</c> cancels the handler's token and sends nothing more. If the handler throws, the final chunk
    /// carries <c>metadata: {"error": message}</c>.
    /// </summary>
    /// <param name="handler">The handler; it receives the prompt and its context and yields text chunks (at most 64 KiB each).</param>
    /// <returns>This host.</returns>
    public AgentHost OnStream(Func<StreamPromptPayload, CancellationToken, IAsyncEnumerable<string>> handler)
    {
        _streamHandler = handler;
        return this;
    }

    private void DispatchStream(Frame frame, CancellationToken ct)
    {
        if (frame.Type == FrameTypes.StreamPrompt && frame.PayloadAs<StreamPromptPayload>() is { } prompt)
        {
            var run = new StreamRun(CancellationTokenSource.CreateLinkedTokenSource(ct));
            if (_streams.TryAdd(prompt.StreamId, run))
            {
                _ = RunStreamAsync(prompt, run);
            }
            else
            {
                run.Dispose();
            }
        }
        else if (frame.Type == FrameTypes.StreamControl && frame.PayloadAs<StreamControlPayload>() is { } control
            && _streams.TryGetValue(control.StreamId, out var running))
        {
            switch (control.Action)
            {
                case "pause":
                    running.Pause();
                    break;
                case "resume":
                    running.Resume();
                    break;
                case "cancel":
                    running.Cancel.Cancel();
                    running.Resume();
                    break;
            }
        }
    }

    private async Task RunStreamAsync(StreamPromptPayload prompt, StreamRun run)
    {
        var token = run.Cancel.Token;
        var index = 0;
        JsonElement? metadata = null;
        try
        {
            if (_streamHandler is not { } handler)
            {
                metadata = ErrorMetadata($"agent '{AgentId}' has no stream handler");
            }
            else
            {
                try
                {
                    await using var chunks = handler(prompt, token).GetAsyncEnumerator(token);
                    while (true)
                    {
                        // Pause: do not ask the handler for more until resume (or cancel).
                        await run.WaitRunningAsync(token);
                        if (!await chunks.MoveNextAsync())
                        {
                            break;
                        }
                        if (!await SendChunkAsync(new StreamChunkPayload(prompt.StreamId, chunks.Current, index), token))
                        {
                            return;
                        }
                        index++;
                    }
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    return; // Cancelled by the hub (or shutdown): nothing more may be sent.
                }
                catch (Exception ex)
                {
                    Log.StreamFailed(_options.Logger, prompt.StreamId, ex.Message);
                    metadata = ErrorMetadata(ex.Message);
                }
            }
            if (!token.IsCancellationRequested)
            {
                await SendChunkAsync(new StreamChunkPayload(prompt.StreamId, "", index, IsFinal: true, Metadata: metadata), token);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Cancelled while sending.
        }
        finally
        {
            _streams.TryRemove(prompt.StreamId, out _);
            run.Dispose();
        }
    }

    private static JsonElement ErrorMetadata(string message) =>
        JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["error"] = message }, KaiJson.Options);

    /// <summary>
    /// Sends one chunk and waits for its ack. A lost link is waited out (up to 30 s) and the same index sent again: the hub acks a
    /// repeated index as a duplicate. Returns false when the hub refuses the stream (<c>CONFLICT</c> after a cancel, <c>NOT_FOUND</c>).
    /// </summary>
    private async Task<bool> SendChunkAsync(StreamChunkPayload chunk, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await CurrentLink().RequestAsync(FrameTypes.StreamChunk, chunk, ct: ct);
                return true;
            }
            catch (HubApiException ex) when (ex.Code is ErrorCodes.Conflict or ErrorCodes.NotFound)
            {
                Log.StreamRefused(_options.Logger, chunk.StreamId, ex.HubMessage);
                return false;
            }
            catch (Exception ex) when (attempt < 3 && ex is HubLinkClosedException or InvalidOperationException or TimeoutException or System.Net.WebSockets.WebSocketException)
            {
                await WaitConnectedAsync(ct).WaitAsync(TimeSpan.FromSeconds(30), _options.Time, ct);
            }
        }
    }

    /// <summary>One running stream: its cancellation and its pause gate.</summary>
    private sealed class StreamRun(CancellationTokenSource cancel) : IDisposable
    {
        private readonly Lock _gate = new();
        private TaskCompletionSource _running = NewOpenGate();

        public CancellationTokenSource Cancel { get; } = cancel;

        public void Pause()
        {
            lock (_gate)
            {
                if (_running.Task.IsCompleted)
                {
                    _running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
            }
        }

        public void Resume()
        {
            lock (_gate)
            {
                _running.TrySetResult();
            }
        }

        public Task WaitRunningAsync(CancellationToken ct)
        {
            lock (_gate)
            {
                return _running.Task.WaitAsync(ct);
            }
        }

        public void Dispose() => Cancel.Dispose();

        private static TaskCompletionSource NewOpenGate()
        {
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            gate.SetResult();
            return gate;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(8, LogLevel.Warning, "Stream {StreamId} handler failed: {Error}")]
        public static partial void StreamFailed(ILogger logger, string streamId, string error);

        [LoggerMessage(9, LogLevel.Information, "Stream {StreamId} refused by the hub: {Reason}")]
        public static partial void StreamRefused(ILogger logger, string streamId, string reason);
    }
}
