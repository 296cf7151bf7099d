using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Kai.Hub.Housekeeping;
using Kai.Hub.Agents;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Routing;
using Kai.Hub.Observability;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Protocol.Frames;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Streams;

/// <summary>
/// Prompt streams (seed 000 "stream-prompt", "Prompt Stream Router"): the hub sends the agent a <c>stream_prompt</c>,
/// relays its <c>stream_chunk</c> frames to the stream's observers in order, and enforces <c>stream_control</c>:
/// a pause buffers up to a bound (then the stream is cancelled and the agent told), a cancel stops all delivery.
/// Observers re-attach from a chunk index after a reconnect. Abandoned streams are cleaned up by the sweeper.
/// </summary>
internal sealed partial class PromptStreams(
    AgentAccess access, Router router, TimeProvider time, IOptions<StreamOptions> options) : IHousekeeping
{
    private readonly StreamOptions _options = options.Value;
    private readonly ConcurrentDictionary<string, PromptStream> _streams = new(StringComparer.Ordinal);

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex StreamIdPattern();

    public int Count => _streams.Count;

    public async Task<StreamPromptResponse> StartAsync(KaiPrincipal principal, string agentId, StreamPromptRequest request, string baseUrl, CancellationToken ct)
    {
        new Validation()
            .Length(request.Prompt, "prompt", 1, 100_000)
            .Check(request.StreamId is null || StreamIdPattern().IsMatch(request.StreamId), "stream_id", "must be 1 to 64 of A-Z a-z 0-9 _ -")
            .Object(request.Context, "context")
            .ThrowIfInvalid();
        var agent = await access.GetAsync(principal, agentId, ct);
        var streamId = request.StreamId ?? "str_" + Guid.CreateVersion7().ToString("N");
        var stream = new PromptStream(streamId, agent.AgentId, agent.OwnerId, time.GetUtcNow());
        if (!_streams.TryAdd(streamId, stream))
        {
            throw new ApiException(ErrorCodes.Conflict, $"A stream with id '{streamId}' already exists.", new Dictionary<string, string> { ["stream_id"] = streamId });
        }
        lock (stream.Gate)
        {
            // Observers already watching the agent follow the stream from chunk 0.
            router.JoinAll(Group(stream), Address.ObserversOf(agent.AgentId));
        }
        var prompt = Frame.Encode(FrameTypes.StreamPrompt, new StreamPromptPayload(streamId, request.Prompt!, request.Context), streamId, time.GetUtcNow());
        if (!(await router.RouteAsync(new Envelope(FrameTypes.StreamPrompt, Address.Agent(agent.AgentId), prompt, principal), ct)).IsDelivered)
        {
            _streams.TryRemove(streamId, out _);
            router.Disband(Group(stream));
            throw new ApiException(ErrorCodes.AgentUnavailable, $"Agent '{agentId}' has no live link to stream from.", new Dictionary<string, string> { ["agent_id"] = agentId });
        }
        var url = $"{AgentService.WebSocketUrl(baseUrl, agent.AgentId)}?stream_id={Uri.EscapeDataString(streamId)}";
        return new StreamPromptResponse(streamId, url, (request.Prompt!.Length + 3) / 4);
    }

    /// <summary>A chunk from the agent's own link. Returns the ack payload.</summary>
    public object Chunk(LinkConnection agentLink, StreamChunkPayload chunk)
    {
        new Validation()
            .Length(chunk.StreamId, "stream_id", 1, 64)
            .Length(chunk.Chunk, "chunk", 0, _options.MaxChunkChars)
            .Check(chunk.ChunkIndex >= 0, "chunk_index", "must be 0 or more")
            .Object(chunk.Metadata, "metadata")
            .ThrowIfInvalid();
        var stream = Find(chunk.StreamId, s => s.AgentId == agentLink.AgentId);
        lock (stream.Gate)
        {
            if (stream.State == StreamStates.Cancelled)
            {
                throw new ApiException(ErrorCodes.Conflict, $"Stream '{stream.StreamId}' was cancelled; stop sending chunks.", Details(stream));
            }
            if (chunk.ChunkIndex < stream.NextIndex)
            {
                return new Dictionary<string, object?> { ["stream_id"] = stream.StreamId, ["chunk_index"] = chunk.ChunkIndex, ["duplicate"] = true };
            }
            if (stream.State == StreamStates.Completed)
            {
                throw new ApiException(ErrorCodes.Conflict, $"Stream '{stream.StreamId}' already completed.", Details(stream));
            }
            if (chunk.ChunkIndex > stream.NextIndex)
            {
                throw new ApiException(ErrorCodes.ValidationError, $"Chunks must arrive in order: expected chunk_index {stream.NextIndex}, got {chunk.ChunkIndex}.",
                    new Dictionary<string, string[]> { ["chunk_index"] = [$"must be {stream.NextIndex}"] });
            }
            var now = time.GetUtcNow();
            var frame = Frame.Encode(FrameTypes.StreamChunk, chunk with { Chunk = chunk.Chunk ?? "", AgentId = stream.AgentId }, timestamp: now);
            stream.Chunks.Add((chunk.ChunkIndex, frame));
            stream.RetainedBytes += frame.Length;
            stream.NextIndex++;
            stream.LastActivity = now;
            if (chunk.IsFinal)
            {
                stream.FinalIndex = chunk.ChunkIndex;
            }
            if (stream.State == StreamStates.Running)
            {
                DeliverPending(stream);
            }
            else
            {
                stream.PendingBytes += frame.Length;
                if (stream.PendingBytes > _options.PauseBufferBytes)
                {
                    Cancel(stream, "pause_buffer_full", forwardToAgent: true);
                }
            }
            Trim(stream);
            return new Dictionary<string, object?> { ["stream_id"] = stream.StreamId, ["chunk_index"] = chunk.ChunkIndex, ["state"] = stream.State };
        }
    }

    /// <summary>A <c>stream_control</c> from an observer of the stream's agent: forwarded to the agent and enforced here.</summary>
    public object Control(LinkConnection observer, StreamControlPayload control)
    {
        new Validation()
            .Length(control.StreamId, "stream_id", 1, 64)
            .Check(control.Action is "pause" or "resume" or "cancel", "action", "must be pause, resume or cancel")
            .ThrowIfInvalid();
        var stream = Find(control.StreamId, s => s.AgentId == observer.AgentId);
        lock (stream.Gate)
        {
            stream.LastActivity = time.GetUtcNow();
            if (stream.IsEnded)
            {
                throw new ApiException(ErrorCodes.Conflict, $"Stream '{stream.StreamId}' is {stream.State}.", Details(stream));
            }
            switch (control.Action)
            {
                case "pause" when stream.State == StreamStates.Running:
                    stream.State = StreamStates.Paused;
                    Notify(stream, "pause", "observer", forwardToAgent: true);
                    break;
                case "resume" when stream.State == StreamStates.Paused:
                    stream.State = StreamStates.Running;
                    Notify(stream, "resume", "observer", forwardToAgent: true);
                    DeliverPending(stream);
                    break;
                case "cancel":
                    Cancel(stream, "observer", forwardToAgent: true);
                    break;
            }
            return new StreamControlAck(stream.StreamId, stream.State, stream.Delivered);
        }
    }

    /// <summary>Attaches an observer from <paramref name="from"/>: the chunks it missed are queued, then it follows live.</summary>
    public StreamResumeAck Attach(LinkConnection observer, string? streamId, int from, Func<StreamResumeAck, byte[]?> ack)
    {
        new Validation()
            .Length(streamId, "stream_id", 1, 64)
            .Check(from >= 0, "from_chunk_index", "must be 0 or more")
            .ThrowIfInvalid();
        var stream = Find(streamId!, s => s.AgentId == observer.AgentId);
        lock (stream.Gate)
        {
            if (from < stream.FirstRetained && from < stream.Delivered)
            {
                throw new ApiException(ErrorCodes.ValidationError, $"Chunks before {stream.FirstRetained} of stream '{stream.StreamId}' are no longer kept.",
                    new Dictionary<string, object> { ["from_chunk_index"] = new[] { $"must be at least {stream.FirstRetained}" }, ["first_available"] = stream.FirstRetained });
            }
            var replay = stream.Chunks.Where(c => c.Index >= from && c.Index < stream.Delivered).ToList();
            var result = new StreamResumeAck(stream.StreamId, stream.State, replay.Count, Math.Max(from, stream.Delivered));
            // The ack, then the missed chunks, then (still under the stream's lock) membership of the live group: nothing is missed or doubled.
            var frames = replay.Select(c => c.Frame).Prepend(ack(result)).OfType<byte[]>();
            router.Join(stream.IsEnded ? null : Group(stream), observer, frames);
            return result;
        }
    }

    /// <summary>Cancels abandoned streams (no activity for the idle timeout) and forgets ended ones after their retention.</summary>
    public Task SweepAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        foreach (var (id, stream) in _streams)
        {
            lock (stream.Gate)
            {
                if (!stream.IsEnded && now - stream.LastActivity >= _options.IdleTimeout)
                {
                    Cancel(stream, "abandoned", forwardToAgent: true);
                }
                if (stream.EndedAt is { } ended && now - ended >= _options.EndedRetention)
                {
                    _streams.TryRemove(id, out _);
                }
            }
        }
        return Task.CompletedTask;
    }

    private PromptStream Find(string streamId, Func<PromptStream, bool> allowed) =>
        _streams.TryGetValue(streamId, out var s) && allowed(s)
            ? s
            : throw new ApiException(ErrorCodes.NotFound, $"Stream '{streamId}' was not found.", new Dictionary<string, string> { ["stream_id"] = streamId });

    private void DeliverPending(PromptStream stream)
    {
        foreach (var (index, frame) in stream.Chunks)
        {
            if (index >= stream.Delivered)
            {
                Broadcast(stream, frame);
            }
        }
        stream.Delivered = stream.NextIndex;
        stream.PendingBytes = 0;
        if (stream.FinalIndex is { } last && stream.Delivered > last)
        {
            stream.State = StreamStates.Completed;
            stream.EndedAt = time.GetUtcNow();
            router.Disband(Group(stream));
        }
    }

    private void Cancel(PromptStream stream, string reason, bool forwardToAgent)
    {
        stream.State = StreamStates.Cancelled;
        stream.EndedAt = time.GetUtcNow();
        // Nothing buffered is delivered after a cancel.
        stream.Chunks.RemoveAll(c => c.Index >= stream.Delivered);
        stream.PendingBytes = 0;
        Notify(stream, "cancel", reason, forwardToAgent);
        router.Disband(Group(stream));
    }

    private void Notify(PromptStream stream, string action, string reason, bool forwardToAgent)
    {
        var frame = Frame.Encode(FrameTypes.StreamControl, new StreamControlPayload(stream.StreamId, action, reason), timestamp: time.GetUtcNow());
        Broadcast(stream, frame, FrameTypes.StreamControl);
        if (forwardToAgent)
        {
            Send(new Envelope(FrameTypes.StreamControl, Address.Agent(stream.AgentId), frame, KaiPrincipal.System));
        }
    }

    private void Trim(PromptStream stream)
    {
        while (stream.RetainedBytes > _options.RetainedBytes && stream.Chunks.Count > 0 && stream.Chunks[0].Index < stream.Delivered)
        {
            stream.RetainedBytes -= stream.Chunks[0].Frame.Length;
            stream.Chunks.RemoveAt(0);
        }
    }

    private static Address Group(PromptStream s) => Address.Stream(s.StreamId, s.OwnerId);

    private void Broadcast(PromptStream stream, byte[] frame, string type = FrameTypes.StreamChunk) =>
        Send(new Envelope(type, Group(stream), frame, KaiPrincipal.System));

    /// <summary>
    /// Routes under the stream's lock, which orders chunks. Delivery to this node's links completes synchronously; a copy for
    /// another node (multi-node) goes on in the background, and its order there is the backplane's.
    /// </summary>
    private void Send(Envelope envelope)
    {
        var pending = router.RouteAsync(envelope, CancellationToken.None);
        if (!pending.IsCompleted)
        {
            _ = pending.AsTask();
        }
    }

    private static Dictionary<string, string> Details(PromptStream s) => new() { ["stream_id"] = s.StreamId, ["state"] = s.State };
}
