using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rpc;
using Microsoft.Extensions.Logging;

namespace Kai.Client;

/// <summary>An AMRI method a handler cannot serve: answered as the response's <c>error</c> (seed 001 §5).</summary>
/// <param name="code">The error code, a number (the seed shows HTTP-like codes: 400, 403, 404, 500).</param>
/// <param name="message">What went wrong.</param>
/// <param name="type">An optional stable name, for example <c>NOT_FOUND</c>.</param>
public sealed class RpcException(int code, string message, string? type = null) : Exception(message)
{
    /// <summary>The error code sent back.</summary>
    public int Code { get; } = code;

    /// <summary>The stable name sent back, if any.</summary>
    public string? Type { get; } = type;
}

public sealed partial class AgentHost
{
    private readonly Dictionary<string, Func<RpcRequest, CancellationToken, Task<object?>>> _rpc = new(StringComparer.Ordinal);

    /// <summary>
    /// Registers the handler of an AMRI method (seed 001) this agent serves: an exact method (<c>memory.query</c>) or a prefix with <c>.*</c>
    /// (<c>memory.*</c>); the longest match wins. The hub delivers requests as <c>rpc_request</c> frames; the handler's return value becomes
    /// the response's <c>result</c>, an <see cref="RpcException"/> its <c>error</c>, any other exception a 500. A method with no handler is
    /// answered 404 <c>METHOD_NOT_FOUND</c>. The token is cancelled when the request's <c>headers.ttl</c> runs out.
    /// Sealed <c>params</c> reach the handler opened, and its result is sealed with the same key (<see cref="AgentHostOptions.PayloadKeys"/>);
    /// params that do not open are answered 400 <c>VALIDATION_ERROR</c> saying why, without running the handler.
    /// </summary>
    public AgentHost OnRpc(string method, Func<RpcRequest, CancellationToken, Task<object?>> handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(method);
        _rpc[method] = handler;
        return this;
    }

    private Func<RpcRequest, CancellationToken, Task<object?>>? RpcHandler(string? method)
    {
        if (method is null)
        {
            return null;
        }
        if (_rpc.TryGetValue(method, out var exact))
        {
            return exact;
        }
        return _rpc.Where(kv => kv.Key.EndsWith(".*", StringComparison.Ordinal) && method.StartsWith(kv.Key[..^1], StringComparison.Ordinal))
            .OrderByDescending(kv => kv.Key.Length).Select(kv => kv.Value).FirstOrDefault();
    }

    private async Task RunRpcAsync(HubLink link, RpcRequest request, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (request.Headers?.Ttl is { } ttl and > 0)
        {
            deadline.CancelAfter(TimeSpan.FromMilliseconds(ttl));
        }
        JsonElement? result = null;
        RpcError? error = null;
        if (RpcHandler(request.Method) is not { } handler)
        {
            error = new RpcError(404, $"Agent '{AgentId}' does not serve '{request.Method}'.", ErrorCodes.MethodNotFound);
        }
        else if (OpenSealed(request.Params, out var parameters, out var keyId) is { } refusal)
        {
            error = new RpcError(400, $"params cannot be opened: {refusal}", ErrorCodes.ValidationError);
        }
        else
        {
            try
            {
                var value = await handler(keyId is null ? request : request with { Params = parameters }, deadline.Token);
                result = SealedLike(value, keyId);
            }
            catch (RpcException e)
            {
                error = new RpcError(e.Code, e.Message, e.Type);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !ct.IsCancellationRequested)
            {
                return; // past the ttl: the hub has answered the caller already
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                error = new RpcError(500, e.Message, ErrorCodes.InternalError);
            }
        }
        try
        {
            await link.SendAsync(FrameTypes.RpcResponse,
                new RpcResponse(request.Id, AgentId, request.Origin, _options.Time.GetUtcNow().ToUnixTimeSeconds(), result, error, null), ct: ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.ReplyNotSent(_options.Logger, AgentId, e.Message);
        }
    }
}
