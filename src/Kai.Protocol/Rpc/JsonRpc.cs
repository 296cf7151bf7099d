using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kai.Protocol.Rpc;

/// <summary>
/// A JSON-RPC 2.0 request (https://www.jsonrpc.org/specification §4): <c>{jsonrpc: "2.0", method, params?, id?}</c>. Without <c>id</c>
/// it is a notification: it runs, and nothing is answered. Seed 001 §3's "local JSON-RPC" transport, on <c>POST /jsonrpc</c> and <c>/ws/rpc</c>.
/// </summary>
/// <param name="Jsonrpc">Must be exactly <c>"2.0"</c>.</param>
/// <param name="Method">The AMRI method.</param>
/// <param name="Params">An object or an array (the AMRI <c>params</c>).</param>
/// <param name="Id">A string, number or null; echoed in the response. Absent: a notification.</param>
/// <param name="Destination">Extension: the AMRI <c>destination</c> (absent: the routing table decides).</param>
/// <param name="Headers">Extension: the AMRI <c>headers</c> (<c>ttl</c> in ms, <c>trace_id</c>, <c>correlation_id</c>).</param>
public sealed record JsonRpcRequest(string? Jsonrpc, string? Method, JsonElement? Params, JsonElement? Id, string? Destination = null, RpcHeaders? Headers = null);

/// <summary>A JSON-RPC 2.0 response (§5): <c>{jsonrpc: "2.0", result | error, id}</c>; <c>id</c> is null when the request's could not be read.</summary>
/// <param name="Result">The result, on success.</param>
/// <param name="Error">The error, on failure.</param>
/// <param name="Id">The request's id.</param>
public sealed record JsonRpcResponse(
    JsonElement? Result,
    JsonRpcError? Error,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] JsonElement? Id)
{
    /// <summary>Always <c>"2.0"</c>.</summary>
    [JsonPropertyOrder(-1)]
    public string Jsonrpc => "2.0";
}

/// <summary>A JSON-RPC 2.0 error object (§5.1).</summary>
/// <param name="Code">One of <see cref="JsonRpcErrorCodes"/>.</param>
/// <param name="Message">A short description.</param>
/// <param name="Data">The AMRI error behind it (<see cref="RpcError"/>: HTTP-like <c>code</c>, <c>type</c>), when there is one.</param>
public sealed record JsonRpcError(int Code, string Message, RpcError? Data = null);

/// <summary>The JSON-RPC 2.0 error codes (§5.1) and the server-defined ones (−32000 to −32099) the hub uses for AMRI errors.</summary>
public static class JsonRpcErrorCodes
{
    /// <summary>Invalid JSON was received (§5.1).</summary>
    public const int ParseError = -32700;
    /// <summary>The JSON is not a valid request object (§5.1).</summary>
    public const int InvalidRequest = -32600;
    /// <summary>The method does not exist: <c>METHOD_NOT_FOUND</c> (§5.1).</summary>
    public const int MethodNotFound = -32601;
    /// <summary>Invalid method parameters: <c>VALIDATION_ERROR</c> (§5.1).</summary>
    public const int InvalidParams = -32602;
    /// <summary>Internal error: <c>INTERNAL_ERROR</c> (§5.1).</summary>
    public const int InternalError = -32603;
    /// <summary>Server error: an error the agent returned, or another hub error.</summary>
    public const int ServerError = -32000;
    /// <summary>Server error: <c>AGENT_NOT_FOUND</c>.</summary>
    public const int AgentNotFound = -32001;
    /// <summary>Server error: <c>AGENT_UNAVAILABLE</c>.</summary>
    public const int AgentUnavailable = -32002;
    /// <summary>Server error: <c>DEADLINE_EXCEEDED</c>.</summary>
    public const int DeadlineExceeded = -32003;
    /// <summary>Server error: <c>TTL_EXPIRED</c>.</summary>
    public const int TtlExpired = -32004;
    /// <summary>Server error: <c>RATE_LIMIT_EXCEEDED</c>.</summary>
    public const int RateLimited = -32005;
    /// <summary>Server error: <c>CIRCUIT_OPEN</c>.</summary>
    public const int CircuitOpen = -32006;
    /// <summary>Server error: <c>FORBIDDEN</c>.</summary>
    public const int Forbidden = -32007;

    /// <summary>The JSON-RPC code for an AMRI error type (one of <see cref="ErrorCodes"/>); <see cref="ServerError"/> for others.</summary>
    /// <param name="type">The AMRI error's <c>type</c>.</param>
    /// <returns>The JSON-RPC error code.</returns>
    public static int For(string? type) => type switch
    {
        ErrorCodes.MethodNotFound => MethodNotFound,
        ErrorCodes.ValidationError => InvalidParams,
        ErrorCodes.InternalError => InternalError,
        ErrorCodes.AgentNotFound => AgentNotFound,
        ErrorCodes.AgentUnavailable => AgentUnavailable,
        ErrorCodes.DeadlineExceeded => DeadlineExceeded,
        ErrorCodes.TtlExpired => TtlExpired,
        ErrorCodes.RateLimitExceeded => RateLimited,
        ErrorCodes.CircuitOpen => CircuitOpen,
        ErrorCodes.Forbidden => Forbidden,
        _ => ServerError,
    };
}
