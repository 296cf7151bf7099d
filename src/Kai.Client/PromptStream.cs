using System.Net.Http;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Protocol.Frames;

namespace Kai.Client;

/// <summary>
/// A prompt stream being read (seed 000 "stream-prompt"; docs/protocol.md "Prompt streams"): the chunks an agent sends for one
/// <c>stream_id</c>, in order, once each, read on an observer link. If the link drops, the stream reconnects and sends
/// <c>stream_resume {from_chunk_index}</c> with the next index it needs, so no chunk is lost or repeated.
/// Create it with <see cref="HubClient.StartStreamAsync"/>.
/// </summary>
public sealed class PromptStream : IAsyncDisposable
{
    private readonly HubClient _client;
    private readonly SemaphoreSlim _linkLock = new(1, 1);
    private HubLink? _link;
    private int _nextIndex;

    internal PromptStream(HubClient client, string agentId, StreamPromptResponse started, HubLink link)
    {
        _client = client;
        AgentId = agentId;
        StreamId = started.StreamId;
        EstimatedTokens = started.EstimatedTokens;
        _link = link;
    }

    /// <summary>The agent answering the prompt.</summary>
    public string AgentId { get; }

    /// <summary>The stream id (<c>str_…</c> unless the caller chose one).</summary>
    public string StreamId { get; }

    /// <summary>The hub's rough size of the prompt in tokens (characters / 4).</summary>
    public int EstimatedTokens { get; }

    /// <summary>The index of the next chunk expected (so, the number of chunks read so far).</summary>
    public int NextChunkIndex => Volatile.Read(ref _nextIndex);

    /// <summary>
    /// How the stream ended: <c>completed</c> (the agent sent <c>is_final</c>), <c>cancelled</c>, or null while it runs.
    /// </summary>
    public string? Outcome { get; private set; }

    /// <summary>Why it was cancelled: <c>observer</c> (someone sent cancel), <c>pause_buffer_full</c>, <c>abandoned</c>; null otherwise.</summary>
    public string? CancelReason { get; private set; }

    /// <summary>Raised when the observer link is lost, with the reason; the stream reconnects and resumes by itself.</summary>
    public event Action<string>? Reconnecting;

    /// <summary>
    /// The chunks, in <c>chunk_index</c> order, until the final chunk (<see cref="Outcome"/> <c>completed</c>) or a cancel
    /// (<see cref="Outcome"/> <c>cancelled</c>). The final chunk is yielded too; its text may be empty.
    /// </summary>
    /// <param name="ct">Cancellation; it stops reading, it does not cancel the stream (use <see cref="CancelAsync"/>).</param>
    /// <returns>The chunks.</returns>
    /// <exception cref="HubApiException">A resume was refused (<c>VALIDATION_ERROR</c> when the chunks are no longer kept, <c>NOT_FOUND</c> once the stream is forgotten).</exception>
    /// <exception cref="HubLinkClosedException">The observer link was refused for good: 4001 (not permitted or agent deleted), 4003 (bad credentials), 4006, 1009. 4002 refreshes the token and re-attaches at once; 4004 and 1013 back off.</exception>
    public async IAsyncEnumerable<StreamChunkPayload> ReadChunksAsync([EnumeratorCancellation] CancellationToken ct = default)
    {
        var delay = TimeSpan.FromMilliseconds(200);
        while (Outcome is null)
        {
            var link = _link ?? await ReconnectAsync(ct);
            await foreach (var frame in link.ReadAllAsync(ct))
            {
                if (frame.Type == FrameTypes.StreamChunk && frame.PayloadAs<StreamChunkPayload>() is { } chunk && chunk.StreamId == StreamId)
                {
                    if (chunk.ChunkIndex < _nextIndex)
                    {
                        continue; // Already yielded before a reconnect.
                    }
                    Volatile.Write(ref _nextIndex, chunk.ChunkIndex + 1);
                    if (chunk.IsFinal)
                    {
                        Outcome = "completed";
                    }
                    yield return chunk;
                    if (chunk.IsFinal)
                    {
                        yield break;
                    }
                }
                else if (frame.Type == FrameTypes.StreamControl && frame.PayloadAs<StreamControlPayload>() is { Action: "cancel" } control && control.StreamId == StreamId)
                {
                    Outcome = "cancelled";
                    CancelReason = control.Reason;
                    yield break;
                }
            }
            ct.ThrowIfCancellationRequested();
            Reconnecting?.Invoke($"link closed ({link.CloseCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "no close frame"})");
            await _linkLock.WaitAsync(ct);
            try
            {
                if (ReferenceEquals(_link, link))
                {
                    _link = null;
                }
            }
            finally
            {
                _linkLock.Release();
            }
            await link.DisposeAsync();
            if (link.CloseCode is CloseCodes.InvalidSession or CloseCodes.AuthenticationFailed or CloseCodes.MessageTooBig or CloseCodes.Replaced)
            {
                throw new HubLinkClosedException(link.CloseCode, link.CloseReason);
            }
            if (link.CloseCode == CloseCodes.SessionExpired)
            {
                // Token expired or session revoked: refresh and re-attach at once (ReconnectAsync backs off if that fails).
                _client.ExpireAccessToken();
                continue;
            }
            await Task.Delay(delay, ct);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
        }
    }

    /// <summary>The text of the chunks, in order (empty final chunks skipped), until the stream completes or is cancelled.</summary>
    /// <param name="ct">Cancellation; it stops reading, it does not cancel the stream.</param>
    /// <returns>The texts.</returns>
    public async IAsyncEnumerable<string> ReadAllAsync([EnumeratorCancellation] CancellationToken ct = default)
    {
        await foreach (var chunk in ReadChunksAsync(ct))
        {
            if (!string.IsNullOrEmpty(chunk.Chunk))
            {
                yield return chunk.Chunk;
            }
        }
    }

    /// <summary>Sends <c>stream_control pause</c>: the hub tells the agent to pause and buffers what still arrives (256 KiB by default; past that it cancels).</summary>
    /// <exception cref="HubApiException"><c>CONFLICT</c> once the stream ended, <c>NOT_FOUND</c> for a forgotten stream.</exception>
    public Task<StreamControlAck> PauseAsync(CancellationToken ct = default) => ControlAsync("pause", ct);

    /// <summary>Sends <c>stream_control resume</c>: the buffered chunks are delivered, then live ones.</summary>
    /// <exception cref="HubApiException">As <see cref="PauseAsync"/>.</exception>
    public Task<StreamControlAck> ResumeAsync(CancellationToken ct = default) => ControlAsync("resume", ct);

    /// <summary>Sends <c>stream_control cancel</c>: the agent's handler is cancelled and nothing more is delivered.</summary>
    /// <exception cref="HubApiException">As <see cref="PauseAsync"/>.</exception>
    public Task<StreamControlAck> CancelAsync(CancellationToken ct = default) => ControlAsync("cancel", ct);

    private async Task<StreamControlAck> ControlAsync(string action, CancellationToken ct)
    {
        var link = _link ?? await ReconnectAsync(ct);
        var ack = await link.RequestAsync(FrameTypes.StreamControl, new StreamControlPayload(StreamId, action), ct: ct);
        return ack.PayloadAs<StreamControlAck>()!;
    }

    /// <summary>Opens a new observer link and re-attaches with <c>stream_resume</c> from the next index needed.</summary>
    private async Task<HubLink> ReconnectAsync(CancellationToken ct)
    {
        await _linkLock.WaitAsync(ct);
        try
        {
            if (_link is { Completion.IsCompleted: false } open)
            {
                return open;
            }
            var delay = TimeSpan.FromMilliseconds(200);
            while (true)
            {
                try
                {
                    var link = await _client.ConnectAsync(AgentId, ct);
                    await link.RequestAsync(FrameTypes.StreamResume, new StreamResumePayload(StreamId, NextChunkIndex), ct: ct);
                    _link = link;
                    return link;
                }
                catch (Exception ex) when (ex is HttpRequestException or WebSocketException or TimeoutException
                    or HubLinkClosedException { Code: not (CloseCodes.AuthenticationFailed or CloseCodes.InvalidSession or CloseCodes.MessageTooBig or CloseCodes.Replaced) })
                {
                    if (ex is HubLinkClosedException { Code: CloseCodes.SessionExpired })
                    {
                        _client.ExpireAccessToken();
                    }
                    Reconnecting?.Invoke(ex.Message);
                    await Task.Delay(delay, ct);
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
                }
            }
        }
        finally
        {
            _linkLock.Release();
        }
    }

    /// <summary>Closes the observer link. The stream itself goes on unless cancelled.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_link is { } link)
        {
            await link.DisposeAsync();
        }
        _linkLock.Dispose();
    }
}
