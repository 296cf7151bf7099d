using System.Collections.Concurrent;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Protocol.Frames;
using Kai.Protocol.Kail;

namespace Kai.Client;

/// <summary>What an intent handler gets: the invocation as delivered (with <c>context.hop_id</c>), and a way to stream output.</summary>
/// <param name="Invocation">The envelope the hub delivered (seed 002 §IV); a sealed <c>payload.input</c> is here opened.</param>
/// <param name="Chunk">Sends one piece of output as a <c>stream_chunk</c> (<c>stream_id</c> = the hop id); the second argument marks the last piece.
/// Chunks are never sealed: a handler of a sealed input that streams sends its chunks readable by the hub.</param>
/// <param name="PayloadKeyId">The key id the input came sealed with (the output is sealed with it too), or null when it came as it is.</param>
public sealed record IntentContext(AgentInvocation Invocation, Func<string, bool, Task> Chunk, string? PayloadKeyId = null)
{
    /// <summary>The input as a string (null when it is not a JSON string).</summary>
    public string? InputText => Invocation.Payload.Input.ValueKind == JsonValueKind.String ? Invocation.Payload.Input.GetString() : null;
}

/// <summary>An intent handler's refusal with a stable code, sent as the failed <c>invocation_result</c>'s <c>error.code</c> (else <c>INVOCATION_FAILED</c>).</summary>
/// <param name="code">An error code, for example <c>UPSTREAM_TIMEOUT</c>.</param>
/// <param name="message">A sentence for people.</param>
public sealed class IntentFailedException(string code, string message) : Exception(message)
{
    /// <summary>The code sent to the hub.</summary>
    public string Code { get; } = code;
}

public sealed partial class AgentHost
{
    private readonly ConcurrentDictionary<string, Func<IntentContext, CancellationToken, Task<object?>>> _intents = new(StringComparer.Ordinal);

    /// <summary>
    /// Answers KAIL <c>invocation</c> frames of <paramref name="intent"/> (seed 002): the handler's return value becomes the <c>invocation_result</c>
    /// output; an exception a failed result (<see cref="IntentFailedException"/> gives its code), after which the hub may try a backup agent.
    /// An invocation of an intent with no handler is answered failed with <c>UNKNOWN_INTENT</c>. A sealed <c>payload.input</c> reaches the handler
    /// opened and the output is sealed with the same key (<see cref="AgentHostOptions.PayloadKeys"/>); an input that does not open is answered
    /// failed with <c>VALIDATION_ERROR</c> saying why, without running the handler.
    /// </summary>
    /// <param name="intent">The intent name.</param>
    /// <param name="handler">Computes the output.</param>
    /// <returns>This host.</returns>
    public AgentHost OnIntent(string intent, Func<IntentContext, CancellationToken, Task<object?>> handler)
    {
        _intents[intent] = handler;
        return this;
    }

    private async Task RunInvocationAsync(HubLink link, AgentInvocation invocation, CancellationToken ct)
    {
        var hop = invocation.Context.HopId ?? invocation.Id;
        var index = 0;
        InvocationResultPayload answer;
        if (!_intents.TryGetValue(invocation.Intent, out var handler))
        {
            answer = new InvocationResultPayload(invocation.Id, invocation.Context.HopId, InvocationStatuses.Failed, null,
                new InvocationError("UNKNOWN_INTENT", $"unknown intent '{invocation.Intent}'; this agent handles: {string.Join(", ", _intents.Keys.Order(StringComparer.Ordinal))}"));
        }
        else if (OpenSealed(invocation.Payload.Input, out var input, out var keyId) is { } refusal)
        {
            answer = new InvocationResultPayload(invocation.Id, invocation.Context.HopId, InvocationStatuses.Failed, null,
                new InvocationError(ErrorCodes.ValidationError, $"payload.input cannot be opened: {refusal}"));
        }
        else
        {
            try
            {
                var delivered = keyId is null ? invocation : invocation with { Payload = invocation.Payload with { Input = input!.Value } };
                var context = new IntentContext(delivered, (text, last) =>
                    (_link ?? link).SendAsync(FrameTypes.StreamChunk, new StreamChunkPayload(hop, text, Interlocked.Increment(ref index) - 1, last), ct: ct), keyId);
                var output = await handler(context, ct);
                answer = new InvocationResultPayload(invocation.Id, invocation.Context.HopId, InvocationStatuses.Completed, SealedLike(output, keyId));
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                answer = new InvocationResultPayload(invocation.Id, invocation.Context.HopId, InvocationStatuses.Failed, null,
                    new InvocationError(ex is IntentFailedException f ? f.Code : ErrorCodes.InvocationFailed, ex.Message));
            }
        }
        try
        {
            await (_link ?? link).RequestAsync(FrameTypes.InvocationResult, answer, ct: ct);
        }
        catch (Exception ex) when (ex is HubLinkClosedException or System.Net.WebSockets.WebSocketException or OperationCanceledException or TimeoutException or HubApiException)
        {
            // The try timed out or the link dropped: the hub has moved on (a backup agent, or a failed result).
            Log.ResultNotSent(_options.Logger, hop, ex.Message);
        }
    }
}
