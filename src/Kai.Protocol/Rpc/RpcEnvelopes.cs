using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kai.Protocol.Rpc;

/// <summary>
/// An AMRI request envelope (seed 001 §4), exactly as the seed writes it:
/// <c>{id, origin, destination, timestamp, method, params, headers{trace_id, auth_token?, user_id, ttl}}</c>.
/// It is the body of <c>POST /api/v1/rpc</c>, one text message on <c>/ws/rpc</c>, and the payload of the
/// <c>rpc_request</c> frame an agent receives on its live link.
/// </summary>
/// <param name="Id">The request id (a UUID v4 in the seed; any string of 1 to 128 characters). It correlates the response; it must be unique among the caller's requests in flight.</param>
/// <param name="Origin">Who sends it (<c>kAI.module.id</c>). The hub sets it to the caller's principal id when absent; on delivery to an agent it is always the caller's id.</param>
/// <param name="Destination">The agent id (or <c>kah:</c> handle) to call. Absent: the routing table chooses by method prefix (seed 001 §9). <c>hub</c>: a method the hub serves itself (<c>agent.register</c>).</param>
/// <param name="Timestamp">When it was sent, Unix time in <b>seconds</b> (seed 001 §4). 0 or absent: the time the hub received it.</param>
/// <param name="Method">The method, <c>string.rpc.verb</c>: dot-separated segments of letters, digits, <c>_</c> and <c>-</c>, at most 128 characters.</param>
/// <param name="Params">The parameters: a JSON object (or array); absent means <c>{}</c>.</param>
/// <param name="Headers">Context headers (seed 001 §4, §8); absent means the hub fills them.</param>
public sealed record RpcRequest(
    string? Id,
    string? Origin,
    string? Destination,
    long Timestamp,
    string? Method,
    JsonElement? Params,
    RpcHeaders? Headers);

/// <summary>
/// The <c>headers</c> of an AMRI request (seed 001 §4, with the telemetry fields of §8). The hub fills what the caller leaves out
/// before the request reaches an agent.
/// </summary>
/// <param name="TraceId">The trace id (UUID or 32 hex digits). It becomes the W3C trace-id of the call's span (RFC: W3C Trace Context); absent: a new one.</param>
/// <param name="AuthToken">An optional JWT (seed 001). The hub authenticates callers by their bearer token; this header is never forwarded to agents.</param>
/// <param name="UserId">The user on whose behalf the call runs; set by the hub to the caller's tenant (a caller cannot claim another user).</param>
/// <param name="Ttl">Time to live in <b>milliseconds</b>, end to end from the request's <c>timestamp</c>: caps the method's deadline (retries included). An envelope already past it is refused with <c>TTL_EXPIRED</c> (408).</param>
/// <param name="CorrelationId">The workflow correlation id when the call is part of one (seed 001 §8).</param>
/// <param name="SourceAgent">The calling agent (seed 001 §8); set by the hub.</param>
/// <param name="TargetAgent">The agent the request was delivered to (seed 001 §8); set by the hub on delivery.</param>
/// <param name="Aggregate">
/// Hub extension, scatter-gather (seed 000 "multi-agent response aggregation"): <c>all</c>, <c>first</c> or <c>quorum</c>. The request goes to
/// every healthy agent of the target capability at once and the replies are gathered into one <see cref="RpcGatherResult"/> until the
/// policy is met or the deadline passes. Only with a capability target (<c>destination: "capability:&lt;name&gt;"</c> or a capability route).
/// </param>
/// <param name="Quorum">With <c>aggregate: "quorum"</c>: how many successful replies are enough (1 to the number asked; default a majority).</param>
/// <param name="Callback">
/// Hub extension, asynchronous reply (seed 004 <c>callback_url</c>): where the response envelope goes when the agent answers, <c>topic:&lt;name&gt;</c>
/// (an <c>rpc.callback</c> event on that topic, seen by the caller's tenant) or <c>agent:&lt;id&gt;</c> / a <c>kah:</c> handle (an
/// <c>rpc_response</c> frame on that agent's link, routed as the caller). The call itself answers at once with <see cref="RpcCallbackAccepted"/>.
/// </param>
/// <param name="CallbackUrl">
/// Seed 004's <c>callback_url</c>: on delivery the hub sets it to <c>/api/v1/callbacks/{id}</c>, where the agent may post its late response
/// envelope. A caller may send it too (any value): it asks for an asynchronous reply like <paramref name="Callback"/>, to topic <c>rpc.callback</c>.
/// </param>
public sealed record RpcHeaders(
    string? TraceId = null,
    string? AuthToken = null,
    string? UserId = null,
    long? Ttl = null,
    string? CorrelationId = null,
    string? SourceAgent = null,
    string? TargetAgent = null,
    string? Aggregate = null,
    int? Quorum = null,
    string? Callback = null,
    string? CallbackUrl = null);

/// <summary>
/// An AMRI response envelope (seed 001 §5): <c>{id, origin, destination, timestamp, result, error, metrics{latency_ms, retries, backend}}</c>.
/// Exactly one of <paramref name="Result"/> and <paramref name="Error"/> is non-null; both are always written (as <c>null</c> when empty).
/// An agent answers an <c>rpc_request</c> with it in an <c>rpc_response</c> frame (its <c>metrics</c> are then ignored: the hub measures).
/// </summary>
/// <param name="Id">The id of the request it answers.</param>
/// <param name="Origin">Who answered: the agent id, or <c>hub</c> for errors the hub raised and methods it serves.</param>
/// <param name="Destination">The request's origin.</param>
/// <param name="Timestamp">When it was answered, Unix time in seconds.</param>
/// <param name="Result">The method's result (any JSON), or <c>null</c> on error.</param>
/// <param name="Error">The error, or <c>null</c> on success.</param>
/// <param name="Metrics">What the call cost, measured by the hub.</param>
public sealed record RpcResponse(
    string? Id,
    string? Origin,
    string? Destination,
    long Timestamp,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] JsonElement? Result,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] RpcError? Error,
    RpcMetrics? Metrics);

/// <summary>
/// The AMRI error (seed 001 §5): <c>{code, message, stack?}</c>, plus <c>type</c>, the hub's stable error name.
/// </summary>
/// <param name="Code">A number, the HTTP status the error maps to, as the seed writes it (<c>403</c>): 400 malformed, 404 unknown method or agent, 408 ttl expired, 429 rate limited, 503 unavailable or circuit open, 504 deadline exceeded. Errors an agent returns keep the agent's code.</param>
/// <param name="Message">What went wrong, for a human.</param>
/// <param name="Type">The stable name to switch on, one of <see cref="ErrorCodes"/> (for example <c>METHOD_NOT_FOUND</c>); an agent's own errors carry the agent's type or none.</param>
/// <param name="Stack">A stack trace; present only when the hub runs in the Development environment (seed 001 §5), never in production.</param>
public sealed record RpcError(int Code, string Message, string? Type = null, string? Stack = null);

/// <summary>The <c>metrics</c> of an AMRI response (seed 001 §5).</summary>
/// <param name="LatencyMs">Milliseconds from the hub receiving the request to the answer, retries and backoff included.</param>
/// <param name="Retries">How many times the hub retried (0 when the first attempt answered).</param>
/// <param name="Backend">The transport the caller used: <c>REST</c>, <c>WebSocket</c> or <c>JSON-RPC</c>.</param>
/// <param name="Cache">For a method with a cache policy: <c>hit</c> (the result came from the hub's cache, no agent was called) or <c>miss</c>; absent otherwise.</param>
/// <param name="CacheAgeMs">On a hit: how old the cached result is, milliseconds.</param>
public sealed record RpcMetrics(long LatencyMs, int Retries, string Backend, string? Cache = null, long? CacheAgeMs = null);

/// <summary>The <c>result</c> of a scatter-gather call (<see cref="RpcHeaders.Aggregate"/>).</summary>
/// <param name="Aggregate">The policy: <c>all</c>, <c>first</c> or <c>quorum</c>.</param>
/// <param name="Asked">How many agents the request went to.</param>
/// <param name="Answered">How many answered before the gather ended (with a result or their own error).</param>
/// <param name="Complete">Whether the policy was met (<c>all</c>: every agent answered) rather than cut by the deadline.</param>
/// <param name="Responses">The replies in arrival order.</param>
public sealed record RpcGatherResult(string Aggregate, int Asked, int Answered, bool Complete, IReadOnlyList<RpcGatherReply> Responses);

/// <summary>One agent's reply in a <see cref="RpcGatherResult"/>.</summary>
/// <param name="AgentId">Who answered.</param>
/// <param name="Result">Its result (null when it answered an error).</param>
/// <param name="Error">Its error, or null.</param>
/// <param name="LatencyMs">Milliseconds from the scatter to this reply.</param>
public sealed record RpcGatherReply(
    string AgentId,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] JsonElement? Result,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] RpcError? Error,
    long LatencyMs);

/// <summary>The <c>result</c> of a call with <see cref="RpcHeaders.Callback"/>: the request was routed, the response will go to the callback.</summary>
/// <param name="Status">Always <c>accepted</c>.</param>
/// <param name="Id">The request id (the response envelope carries it).</param>
/// <param name="Callback">Where the response goes (<c>topic:&lt;name&gt;</c>, <c>agent:&lt;id&gt;</c> or a handle).</param>
/// <param name="CallbackUrl">Where the agent may post it late: <c>/api/v1/callbacks/{id}</c>.</param>
/// <param name="ExpiresAt">Until when a response is accepted (Unix seconds): the request's ttl, or <c>Kai:Rpc:CallbackWindowMs</c>.</param>
public sealed record RpcCallbackAccepted(string Status, string Id, string Callback, string CallbackUrl, long ExpiresAt);

/// <summary>The answer to <c>POST /api/v1/callbacks/{request_id}</c>: the late response was taken and goes to the caller's callback.</summary>
/// <param name="Id">The request id.</param>
/// <param name="Accepted">Always true (a response that is not accepted is 404).</param>
public sealed record RpcCallbackAck(string Id, bool Accepted);

/// <summary>
/// What an agent declares about a method, command or intent it serves (seed 000 "JSON schema validation for all commands", "response
/// caching"): in <c>agent.register</c>'s <c>methods</c> or <c>schemas</c>, or <c>PUT /api/v1/agents/{agent_id}/schemas</c>
/// (<see cref="AgentSchemaDeclarations"/>). Schemas are JSON Schema (draft 2020-12), evaluated by JsonSchema.Net with formats asserted and
/// no remote <c>$ref</c>; each at most 64 KiB of JSON. A value sealed as a JWE (encrypted payloads) is not read, so it is not checked.
/// </summary>
/// <param name="ParamsSchema">What the caller sends must match it: an RPC request's <c>params</c>, a command's <c>parameters</c>, an invocation's
/// <c>payload.input</c>. Otherwise the request is refused with <c>VALIDATION_ERROR</c> naming the failing paths, before anything is stored or routed.</param>
/// <param name="ResultSchema">What the agent answers must match it: an RPC <c>result</c>, a command result, an invocation's <c>output</c>. Otherwise
/// the RPC caller gets <c>RESULT_SCHEMA_MISMATCH</c> (502), a command fails with that code, and an invocation try fails with it (a fallback may follow).</param>
/// <param name="CacheTtlMs">Methods only: cache successful results for this many milliseconds, keyed by method and canonical params (RFC 8785), per
/// tenant; 0 or absent: the configured policy. Refused on commands and intents.</param>
public sealed record RpcMethodDeclaration(JsonElement? ParamsSchema = null, JsonElement? ResultSchema = null, long? CacheTtlMs = null);

/// <summary>The <c>backend</c> names of <see cref="RpcMetrics"/> (seed 001 §3).</summary>
public static class RpcBackends
{
    /// <summary><c>POST /api/v1/rpc</c>.</summary>
    public const string Rest = "REST";
    /// <summary>AMRI envelopes on <c>/ws/rpc</c>.</summary>
    public const string WebSocket = "WebSocket";
    /// <summary>JSON-RPC 2.0 on <c>POST /jsonrpc</c> or <c>/ws/rpc</c>.</summary>
    public const string JsonRpc = "JSON-RPC";
}

/// <summary>Methods the hub serves itself (seed 001 §6).</summary>
public static class RpcMethods
{
    /// <summary>The handshake (seed 001 §6): params <see cref="AgentRegisterParams"/>, result <see cref="AgentRegisterResult"/>. Called by an agent with its own token.</summary>
    public const string AgentRegister = "agent.register";

    /// <summary>The <c>destination</c> that names the hub itself.</summary>
    public const string Hub = "hub";
}

/// <summary>The params of <c>agent.register</c> (seed 001 §6).</summary>
/// <param name="Capabilities">What the agent serves (for example <c>llm_chat</c>, <c>memory.store</c>); replaces its registered capabilities, and each becomes a routing table prefix.</param>
/// <param name="Intents">What it intends to do (<c>serve</c>); kept in the routing table.</param>
/// <param name="Metadata">Where and what it runs.</param>
/// <param name="Methods">Hub extension: method name → what the agent declares about it (schemas, cache TTL); see <see cref="RpcMethodDeclaration"/>.
/// Short for <c>schemas.methods</c> (give one of the two).</param>
/// <param name="Schemas">Hub extension: the agent's declarations for its methods, commands and intents (<see cref="AgentSchemaDeclarations"/>). With
/// <c>methods</c> or <c>schemas</c> the registration replaces everything the agent declared before, durably (the same record as
/// <c>PUT /api/v1/agents/{agent_id}/schemas</c>); without either, what it declared stays.</param>
public sealed record AgentRegisterParams(IReadOnlyList<string>? Capabilities, IReadOnlyList<string>? Intents, AgentRegisterMetadata? Metadata,
    IReadOnlyDictionary<string, RpcMethodDeclaration>? Methods = null, AgentSchemaDeclarations? Schemas = null);

/// <summary>
/// An agent's schema declarations (seed 000 "JSON schema validation for all commands"): <c>GET</c> and <c>PUT /api/v1/agents/{agent_id}/schemas</c>,
/// and <c>agent.register</c>'s <c>schemas</c>. Stored with the agent, so they survive restarts of the hub and of the agent, and every node of a
/// cluster applies them (within 2 s of a change on another node). Each map has at most 128 entries; absent maps are empty.
/// </summary>
/// <param name="Methods">RPC method name (dot-separated names) → declaration. Applies to calls of that method in the agent's tenant; when two agents
/// declare one method, the latest declaration wins.</param>
/// <param name="Commands">Command name (1 to 128 characters) → declaration. Applies to commands sent to this agent.</param>
/// <param name="Intents">KAIL intent (1 to 64 characters) → declaration: <c>params_schema</c> checks <c>payload.input</c>, <c>result_schema</c> the
/// <c>output</c>. Applies to invocations of that intent in the agent's tenant; the latest declaration wins.</param>
public sealed record AgentSchemaDeclarations(
    IReadOnlyDictionary<string, RpcMethodDeclaration>? Methods = null,
    IReadOnlyDictionary<string, RpcMethodDeclaration>? Commands = null,
    IReadOnlyDictionary<string, RpcMethodDeclaration>? Intents = null);

/// <summary>The <c>metadata</c> of <c>agent.register</c> (seed 001 §6).</summary>
/// <param name="Hostname">The host it runs on.</param>
/// <param name="Version">Its version; stored as the agent's version.</param>
/// <param name="Load">Its load from 0 to 1.</param>
public sealed record AgentRegisterMetadata(string? Hostname, string? Version, double? Load);

/// <summary>The result of <c>agent.register</c> (seed 001 §6).</summary>
/// <param name="AgentId">The agent's id.</param>
/// <param name="Accepted">Whether the registration was accepted.</param>
/// <param name="HeartbeatInterval">How often to heartbeat, in <b>seconds</b>.</param>
public sealed record AgentRegisterResult(string AgentId, bool Accepted, int HeartbeatInterval);

/// <summary>One row of <c>GET /api/v1/rpc/routes</c> (seed 001 §9).</summary>
/// <param name="Prefix">The method prefix (dot-segment boundary: <c>llm.chat</c> matches <c>llm.chat</c> and <c>llm.chat.stream</c>).</param>
/// <param name="Target">Where matching methods go: <c>agent:&lt;id&gt;</c> or <c>capability:&lt;name&gt;</c>.</param>
/// <param name="Source"><c>config</c> (<c>Kai:Rpc:Routes</c>) or <c>registration</c> (<c>agent.register</c>).</param>
/// <param name="Health"><c>healthy</c> (a reachable target with a closed circuit), <c>degraded</c> (some reachable ones are unhealthy or open), or <c>unavailable</c>.</param>
/// <param name="Agents">The agents behind it the caller may see, with their state.</param>
/// <param name="Intents">Intents registered with it.</param>
public sealed record RpcRouteView(string Prefix, string Target, string Source, string Health, IReadOnlyList<RpcRouteAgent> Agents, IReadOnlyList<string> Intents);

/// <summary>An agent behind a routing table entry.</summary>
/// <param name="AgentId">The agent.</param>
/// <param name="Reachable">Whether it can be reached now (live link, hosted, or another node).</param>
/// <param name="Healthy">Whether the capability resolver counts it healthy.</param>
/// <param name="Circuit">Its circuit breaker state: <c>closed</c>, <c>open</c>, <c>half_open</c> or <c>isolated</c>.</param>
public sealed record RpcRouteAgent(string AgentId, bool Reachable, bool Healthy, string Circuit);

/// <summary>The body of <c>GET /api/v1/rpc/routes</c>.</summary>
/// <param name="Routes">The entries, by prefix.</param>
public sealed record RpcRoutesResponse(IReadOnlyList<RpcRouteView> Routes);
