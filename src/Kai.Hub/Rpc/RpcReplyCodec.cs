using System.Text.Json;
using Kai.Hub.Routing;
using Kai.Protocol;
using Kai.Protocol.Rpc;

namespace Kai.Hub.Rpc;

/// <summary>
/// AMRI replies crossing nodes (issue 11, docs/operations.md "What crosses nodes"): the caller waits on node A, its agent answered
/// on node B. RPC responses are never stored, so the reply carries the whole response envelope and who answered it; node A hands it
/// to its waiter only after <see cref="RpcService.AdmitRemote"/> checked the responder may answer that request (the rule that
/// <see cref="RpcService.Accept"/> applies to local answers).
/// </summary>
/// <remarks>The service is resolved when a reply arrives: the router holds the codecs, and the RPC service holds the router.</remarks>
internal sealed class RpcReplyCodec(IServiceProvider services) : IReplyCodec
{
    public string Kind => "rpc";

    public bool TryEncode(object reply, out byte[] body)
    {
        if (reply is RpcService.Reply r)
        {
            body = JsonSerializer.SerializeToUtf8Bytes(new Wire(r.AgentId, r.OwnerId, r.Response), KaiJson.Options);
            return true;
        }
        body = [];
        return false;
    }

    public ValueTask<object?> DecodeAsync(string correlationId, byte[] body, CancellationToken ct)
    {
        var wire = Read<Wire>(body);
        return ValueTask.FromResult(wire is { AgentId.Length: > 0, Response: not null }
            ? services.GetRequiredService<RpcService>().AdmitRemote(correlationId, new RpcService.Reply(wire.AgentId, wire.Response, wire.OwnerId))
            : null);
    }

    private static T? Read<T>(byte[] body) where T : class
    {
        try
        {
            return JsonSerializer.Deserialize<T>(body, KaiJson.Options);
        }
        catch (JsonException)
        {
            return null; // another node's bytes that do not parse are dropped, like a reply nobody waits for
        }
    }

    private sealed record Wire(string AgentId, string? OwnerId, RpcResponse Response);
}
