namespace Kai.Protocol.Frames;

public static partial class FrameTypes
{
    /// <summary>Hub to agent: an AMRI request addressed to the agent (seed 001 §4). Payload: <see cref="Rpc.RpcRequest"/>. Answer with <see cref="RpcResponse"/>.</summary>
    public const string RpcRequest = "rpc_request";
    /// <summary>Agent to hub: the answer to an <see cref="RpcRequest"/>, with the same <c>id</c> (seed 001 §5). Payload: <see cref="Rpc.RpcResponse"/>; the hub acks it with <c>{id, accepted}</c>.</summary>
    public const string RpcResponse = "rpc_response";
}
