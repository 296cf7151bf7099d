namespace Kai.Hub.Routing;

/// <summary>
/// How one kind of reply (a command record, an RPC response, an invocation result) crosses the backplane to the node whose
/// <see cref="PendingRequests"/> waits for it. A capability whose requests can be answered on another node registers one.
/// </summary>
internal interface IReplyCodec
{
    /// <summary>The name carried with the reply (unique among codecs), for example <c>command</c>.</summary>
    string Kind { get; }

    /// <summary>Encodes <paramref name="reply"/> when it is of this codec's type.</summary>
    bool TryEncode(object reply, out byte[] body);

    /// <summary>Turns a body back into the reply the waiter expects; null when there is nothing to hand over (unknown id).</summary>
    ValueTask<object?> DecodeAsync(string correlationId, byte[] body, CancellationToken ct);
}
