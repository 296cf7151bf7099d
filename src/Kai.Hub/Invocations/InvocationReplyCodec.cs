using System.Text.Json;
using Kai.Hub.Routing;
using Kai.Protocol;
using Kai.Protocol.Kail;

namespace Kai.Hub.Invocations;

/// <summary>
/// KAIL <c>invocation_result</c>s crossing nodes: the try waits on the node that admitted the invocation (its run, stack and stream
/// live there), the agent answered on another. The reply carries the result payload and the answering agent; the waiting node
/// hands it on only after <see cref="InvocationService.AdmitRemote"/> checked that agent may answer that try.
/// </summary>
internal sealed class InvocationReplyCodec(IServiceProvider services) : IReplyCodec
{
    public string Kind => "invocation";

    public bool TryEncode(object reply, out byte[] body)
    {
        if (reply is InvocationService.Reply r)
        {
            body = JsonSerializer.SerializeToUtf8Bytes(new Wire(r.AgentId, r.Result), KaiJson.Options);
            return true;
        }
        body = [];
        return false;
    }

    public ValueTask<object?> DecodeAsync(string correlationId, byte[] body, CancellationToken ct)
    {
        var wire = Read(body);
        return ValueTask.FromResult(wire is { AgentId.Length: > 0, Result: not null }
            ? services.GetRequiredService<InvocationService>().AdmitRemote(correlationId, new InvocationService.Reply(wire.AgentId, wire.Result))
            : null);
    }

    private static Wire? Read(byte[] body)
    {
        try
        {
            return JsonSerializer.Deserialize<Wire>(body, KaiJson.Options);
        }
        catch (JsonException)
        {
            return null; // another node's bytes that do not parse are dropped, like a reply nobody waits for
        }
    }

    private sealed record Wire(string AgentId, InvocationResultPayload Result);
}
