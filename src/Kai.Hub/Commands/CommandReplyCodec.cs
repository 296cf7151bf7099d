using Kai.Hub.Routing;
using Kai.Hub.Storage;

namespace Kai.Hub.Commands;

/// <summary>
/// A command's result crossing nodes: the agent answered on another node, which stored the result; the reply carries only the
/// command id and the waiting node reads the finished command from the shared store (the system of record), so no second
/// serialization of <see cref="CommandRecord"/> exists.
/// </summary>
internal sealed class CommandReplyCodec(ICommandStore store) : IReplyCodec
{
    public string Kind => "command";

    public bool TryEncode(object reply, out byte[] body)
    {
        body = [];
        return reply is CommandRecord;
    }

    public async ValueTask<object?> DecodeAsync(string correlationId, byte[] body, CancellationToken ct) =>
        await store.GetCommandAsync(correlationId, ct);
}
