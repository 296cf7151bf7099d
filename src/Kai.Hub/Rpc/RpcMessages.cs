using System.Text.Json;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Protocol;
using Kai.Protocol.Rpc;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Rpc;

/// <summary>
/// The translation the RPC edges share: bytes to an AMRI request or to JSON-RPC 2.0 requests (single, batch, notifications), each
/// handed to <see cref="RpcService.CallAsync"/>, and the answers back to bytes. No routing here.
/// </summary>
internal sealed class RpcMessages(RpcService rpc, IOptions<RpcOptions> options, TimeProvider time)
{
    private readonly RpcOptions _options = options.Value;

    /// <summary>One AMRI envelope; a body that is not JSON or not an envelope gets a <c>VALIDATION_ERROR</c> response envelope.</summary>
    public async Task<RpcResponse> AmriAsync(KaiPrincipal caller, JsonElement? body, string? parseError, string backend, CancellationToken ct)
    {
        var started = time.GetTimestamp();
        if (parseError is not null || body is not { ValueKind: JsonValueKind.Object } envelope)
        {
            return rpc.Fail(null, caller, ErrorCodes.ValidationError,
                parseError is null ? "An AMRI request envelope must be a JSON object {id, origin, destination, timestamp, method, params, headers}." : $"The body is not JSON: {parseError}.",
                started, 0, backend);
        }
        RpcRequest? request;
        try
        {
            request = envelope.Deserialize<RpcRequest>(KaiJson.Options);
        }
        catch (JsonException e)
        {
            var id = envelope.TryGetProperty("id", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString() : null;
            return rpc.Fail(new RpcRequest(id, null, null, 0, null, null, null), caller, ErrorCodes.ValidationError,
                $"Malformed AMRI request envelope: {ClientErrors.Describe(e)}.", started, 0, backend);
        }
        return await rpc.CallAsync(caller, request!, backend, ct);
    }

    /// <summary>A JSON-RPC 2.0 message (one request or a batch); null when nothing is to be answered (only notifications).</summary>
    public async Task<object?> JsonRpcAsync(KaiPrincipal caller, JsonElement? body, string? parseError, CancellationToken ct)
    {
        if (parseError is not null || body is null)
        {
            return new JsonRpcResponse(null, new JsonRpcError(JsonRpcErrorCodes.ParseError, $"Parse error: {parseError ?? "empty body"}."), null);
        }
        var root = body.Value;
        if (root.ValueKind != JsonValueKind.Array)
        {
            return await OneAsync(caller, root, ct);
        }
        var count = root.GetArrayLength();
        if (count == 0 || count > _options.MaxBatch)
        {
            return new JsonRpcResponse(null, new JsonRpcError(JsonRpcErrorCodes.InvalidRequest,
                count == 0 ? "Invalid Request: an empty batch." : $"Invalid Request: a batch holds at most {_options.MaxBatch} requests."), null);
        }
        var answers = await Task.WhenAll(root.EnumerateArray().Select(e => OneAsync(caller, e, ct)));
        var list = answers.Where(a => a is not null).ToList();
        return list.Count == 0 ? null : list;
    }

    /// <summary>
    /// The parse error for JSON with a lone surrogate escape (<c>"\ud800"</c>): it parses, but reading the string throws, so the
    /// message is refused as not being I-JSON (RFC 7493 §2.1) before any field of it is read.
    /// </summary>
    public const string InvalidUnicode = "a string in it is not valid Unicode (a lone surrogate escape such as \\ud800)";

    /// <summary>A <c>/ws/rpc</c> text message: a JSON-RPC request or batch (it has <c>"jsonrpc"</c>, or is an array), else an AMRI envelope.</summary>
    public async Task<object?> SocketMessageAsync(KaiPrincipal caller, ReadOnlyMemory<byte> utf8, CancellationToken ct)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(utf8);
        }
        catch (JsonException e)
        {
            // Not JSON: neither kind can be told; the AMRI error envelope says so (a JSON-RPC client reads "error" too).
            return await AmriAsync(caller, null, ClientErrors.Describe(e), RpcBackends.WebSocket, ct);
        }
        using (doc)
        {
            var root = doc.RootElement;
            var (body, error) = IJson.IsValidUnicode(root) ? (root, null) : ((JsonElement?)null, InvalidUnicode);
            return root.ValueKind == JsonValueKind.Array || (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("jsonrpc", out _))
                ? await JsonRpcAsync(caller, body, error, ct)
                : await AmriAsync(caller, body, error, RpcBackends.WebSocket, ct);
        }
    }

    private async Task<JsonRpcResponse?> OneAsync(KaiPrincipal caller, JsonElement e, CancellationToken ct)
    {
        JsonElement? id = e.ValueKind == JsonValueKind.Object && e.TryGetProperty("id", out var i) ? i.Clone() : null;
        JsonRpcRequest? r = null;
        string? problem = null;
        if (e.ValueKind != JsonValueKind.Object)
        {
            problem = "a request must be an object {jsonrpc: \"2.0\", method, params?, id?}";
        }
        else
        {
            try
            {
                r = e.Deserialize<JsonRpcRequest>(KaiJson.Options);
            }
            catch (JsonException x)
            {
                problem = ClientErrors.Describe(x);
            }
        }
        if (problem is null)
        {
            if (r!.Jsonrpc != "2.0")
            {
                problem = "jsonrpc must be exactly \"2.0\"";
            }
            else if (string.IsNullOrEmpty(r.Method))
            {
                problem = "method must be a non-empty string";
            }
            else if (id is { } given && given.ValueKind is not (JsonValueKind.String or JsonValueKind.Number or JsonValueKind.Null))
            {
                problem = "id must be a string, a number or null";
            }
            else if (r.Params is { } p && p.ValueKind is not (JsonValueKind.Object or JsonValueKind.Array))
            {
                problem = "params must be an object or an array";
            }
        }
        if (problem is not null)
        {
            return new JsonRpcResponse(null, new JsonRpcError(JsonRpcErrorCodes.InvalidRequest, "Invalid Request: " + problem + "."),
                id is { ValueKind: JsonValueKind.String or JsonValueKind.Number } ok ? ok : null);
        }
        var request = new RpcRequest(Guid.NewGuid().ToString(), caller.Id, r!.Destination, time.GetUtcNow().ToUnixTimeSeconds(), r.Method, r.Params, r.Headers);
        var response = await rpc.CallAsync(caller, request, RpcBackends.JsonRpc, ct);
        if (id is null)
        {
            return null; // a notification: never answered (JSON-RPC 2.0 §4.1)
        }
        return response.Error is { } error
            ? new JsonRpcResponse(null, new JsonRpcError(JsonRpcErrorCodes.For(error.Type), error.Message, error), id)
            : new JsonRpcResponse(response.Result ?? default, null, id);
    }
}
