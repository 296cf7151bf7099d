namespace Kai.Protocol;

/// <summary>
/// Stable error codes used in the REST error envelope (<see cref="Rest.ErrorBody.Code"/>) and in WebSocket
/// <c>error</c> frames (<see cref="Frames.ErrorPayload.Code"/>).
/// </summary>
/// <remarks>
/// The first seven codes and their HTTP statuses come from seed 004 ("Error Codes"). The rest extend the
/// table for cases the seed does not name; each keeps one HTTP status. Codes never change meaning once
/// published; clients may switch on them. See <c>docs/protocol.md</c>, "Errors".
/// </remarks>
public static class ErrorCodes
{
    /// <summary>The agent is offline or cannot take the request now. HTTP 503 (seed 004).</summary>
    public const string AgentUnavailable = "AGENT_UNAVAILABLE";
    /// <summary>A command or task passed its deadline. HTTP 408 (seed 004).</summary>
    public const string TaskTimeout = "TASK_TIMEOUT";
    /// <summary>A template or definition is invalid. HTTP 400 (seed 004).</summary>
    public const string InvalidTemplate = "INVALID_TEMPLATE";
    /// <summary>A workflow failed. HTTP 500 (seed 004).</summary>
    public const string WorkflowFailed = "WORKFLOW_FAILED";
    /// <summary>Missing, invalid or expired credentials. HTTP 401 (seed 004).</summary>
    public const string AuthenticationFailed = "AUTHENTICATION_FAILED";
    /// <summary>Too many requests; retry after the <c>Retry-After</c> header. HTTP 429 (seed 004).</summary>
    public const string RateLimitExceeded = "RATE_LIMIT_EXCEEDED";
    /// <summary>A dependency did not complete. HTTP 412 (seed 004).</summary>
    public const string DependencyNotMet = "DEPENDENCY_NOT_MET";
    /// <summary>The request body, query or frame is malformed or fails validation. HTTP 400.</summary>
    public const string ValidationError = "VALIDATION_ERROR";
    /// <summary>The principal is authenticated but lacks the permission. HTTP 403.</summary>
    public const string Forbidden = "FORBIDDEN";
    /// <summary>No such resource, or not one the caller may see (no cross-tenant existence leak). HTTP 404.</summary>
    public const string NotFound = "NOT_FOUND";
    /// <summary>No such agent, or not one the caller may reach. HTTP 404.</summary>
    public const string AgentNotFound = "AGENT_NOT_FOUND";
    /// <summary>The HTTP method is not allowed on this path. HTTP 405.</summary>
    public const string MethodNotAllowed = "METHOD_NOT_ALLOWED";
    /// <summary>The resource already exists (duplicate email, duplicate agent id). HTTP 409.</summary>
    public const string Conflict = "CONFLICT";
    /// <summary>The request body is larger than the route allows. HTTP 413.</summary>
    public const string PayloadTooLarge = "PAYLOAD_TOO_LARGE";
    /// <summary>The content type is not accepted by the route. HTTP 415.</summary>
    public const string UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE";
    /// <summary>An unexpected server fault; the correlation id finds it in the logs. HTTP 500.</summary>
    public const string InternalError = "INTERNAL_ERROR";
    /// <summary>The hub cannot write to its database: the disk is full or failing. Nothing of the request was stored; retry
    /// later (the hub recovers by itself when space returns, and <c>/ready</c> answers 503 meanwhile). HTTP 507 (RFC 4918 §11.5).</summary>
    public const string InsufficientStorage = "INSUFFICIENT_STORAGE";
    /// <summary>The frame type is unknown or not allowed on this link. WebSocket only.</summary>
    public const string UnsupportedFrame = "UNSUPPORTED_FRAME";
    /// <summary>
    /// A hosted agent's LLM provider kept answering 429 (too many requests) after the hub's retries, which honour its
    /// <c>Retry-After</c>. HTTP 429. Source: seed 002 §V (adapters), issue 11 item 14.
    /// </summary>
    public const string LlmRateLimited = "LLM_RATE_LIMITED";
    /// <summary>
    /// A hosted agent's LLM provider could not be reached or kept answering 5xx after the hub's retries. HTTP 503.
    /// Source: seed 002 §V.
    /// </summary>
    public const string LlmUnavailable = "LLM_UNAVAILABLE";
    /// <summary>A call to a hosted agent's LLM provider passed its per-call timeout (the provider's <c>timeout</c>, seconds). HTTP 504.</summary>
    public const string LlmTimeout = "LLM_TIMEOUT";
    /// <summary>
    /// A hosted agent's LLM provider answered something that is not a usable chat completion (a 4xx other than 429,
    /// malformed JSON, no choices). HTTP 502.
    /// </summary>
    public const string LlmBadResponse = "LLM_BAD_RESPONSE";
    /// <summary>The upload would take the owner past its storage quota (<c>storage_limit</c>); nothing is stored. HTTP 413.</summary>
    public const string QuotaExceeded = "QUOTA_EXCEEDED";
    /// <summary>The uploaded content does not match the <c>sha256</c> the client gave; nothing is stored. HTTP 400.</summary>
    public const string ChecksumMismatch = "CHECKSUM_MISMATCH";
    /// <summary>
    /// The hub's database (PostgreSQL, <c>Kai:Store=postgres</c>) cannot be reached now; a write may not have been stored (retry
    /// with the same idempotency key). <c>/ready</c> answers 503 meanwhile. HTTP 503.
    /// </summary>
    public const string StoreUnavailable = "STORE_UNAVAILABLE";
    /// <summary>An AMRI method no routing table entry serves and no <c>destination</c> names (seed 001 §9). HTTP 404.</summary>
    public const string MethodNotFound = "METHOD_NOT_FOUND";
    /// <summary>An AMRI request got no answer within its method's deadline (seed 001 §7), retries included. HTTP 504.</summary>
    public const string DeadlineExceeded = "DEADLINE_EXCEEDED";
    /// <summary>An AMRI request arrived after its <c>timestamp + ttl</c> (seed 001 §4); it was not routed. HTTP 408.</summary>
    public const string TtlExpired = "TTL_EXPIRED";
    /// <summary>The target's circuit breaker is open after repeated failures (seed 000 "Circuit breaker"); retry after the break. HTTP 503.</summary>
    public const string CircuitOpen = "CIRCUIT_OPEN";
    /// <summary>A KAIL invocation id (the nonce, seed 002 §VIII) already seen within the replay window; nothing was routed. HTTP 409.</summary>
    public const string ReplayDetected = "REPLAY_DETECTED";
    /// <summary>A KAIL envelope whose <c>context.timestamp</c> is older than the replay window or too far ahead (seed 002 §VIII TTL); nothing was routed. HTTP 400.</summary>
    public const string EnvelopeExpired = "ENVELOPE_EXPIRED";
    /// <summary>A KAIL invocation nested deeper than <c>Kai:Kail:MaxDepth</c> (a loop between agents); refused. HTTP 508.</summary>
    public const string InvocationDepthExceeded = "INVOCATION_DEPTH_EXCEEDED";
    /// <summary>Every try of a KAIL invocation failed (the agent answered <c>failed</c>); the result's stack shows each. HTTP 502.</summary>
    public const string InvocationFailed = "INVOCATION_FAILED";
    /// <summary>No answer to a KAIL invocation try before its deadline (after retries and fallbacks). HTTP 504.</summary>
    public const string InvocationTimeout = "INVOCATION_TIMEOUT";
    /// <summary>A KAIL envelope without <c>signature</c> where <c>Kai:Kail:Signatures</c> is <c>required</c> (for all intents, or for this
    /// one); nothing was routed or stored. HTTP 403. Source: seed 002 §VIII "signed envelopes"; docs/protocol.md, "KAIL signatures".</summary>
    public const string SignatureRequired = "SIGNATURE_REQUIRED";
    /// <summary>A KAIL envelope whose <c>signature</c> does not verify with the named key over the RFC 8785 canonical envelope (a tampered
    /// envelope, a wrong key, a malformed signature); nothing was routed or stored. HTTP 403. Source: seed 002 §VIII.</summary>
    public const string SignatureInvalid = "SIGNATURE_INVALID";
    /// <summary>A signed KAIL envelope whose <c>key_id</c> is missing, unknown, or names a key the sender may not sign with (another
    /// agent's key is reported the same way, so key ids cannot be probed); nothing was routed or stored. HTTP 403. Source: seed 002 §VIII.</summary>
    public const string KeyUnknown = "KEY_UNKNOWN";
    /// <summary>A signed KAIL envelope whose <c>key_id</c> names a key its agent revoked; nothing was routed or stored. HTTP 403. Source: seed 002 §VIII.</summary>
    public const string KeyRevoked = "KEY_REVOKED";

    /// <summary>
    /// A webhook or custom-API agent's URL (or a redirect, or its <c>health_check_url</c>) resolves to an address the hub refuses
    /// to reach: loopback, private (RFC 1918, RFC 4193), link-local, CGNAT, cloud metadata, unspecified or multicast, unless the
    /// operator allow-listed it (<c>Kai:Adapters:Webhook:AllowedHosts</c> / <c>AllowedCidrs</c>). Refused at registration and at
    /// call time; nothing is stored or sent. HTTP 403. Source: issue 11 item 14 (SSRF guard), docs/security.md.
    /// </summary>
    public const string AdapterUrlForbidden = "ADAPTER_URL_FORBIDDEN";
    /// <summary>A webhook, custom-API or shell agent did not answer within its <c>timeout</c> (seconds, retries included). HTTP 504.</summary>
    public const string AdapterTimeout = "ADAPTER_TIMEOUT";
    /// <summary>A webhook or custom-API agent kept answering 429 after the hub's retries (which honour <c>Retry-After</c>). HTTP 429.</summary>
    public const string AdapterRateLimited = "ADAPTER_RATE_LIMITED";
    /// <summary>A webhook or custom-API agent could not be reached or kept answering 5xx after the hub's retries. HTTP 503.</summary>
    public const string AdapterUnavailable = "ADAPTER_UNAVAILABLE";
    /// <summary>
    /// A webhook or custom-API agent answered something unusable: a 4xx other than 429, a redirect (never followed), or a body
    /// over the size limit. HTTP 502.
    /// </summary>
    public const string AdapterBadResponse = "ADAPTER_BAD_RESPONSE";
    /// <summary>A shell agent names an executable that is not in <c>Kai:Adapters:Shell:Allowed</c>; nothing runs or is stored. HTTP 403.</summary>
    public const string AdapterExecutableForbidden = "ADAPTER_EXECUTABLE_FORBIDDEN";
    /// <summary>A shell agent's process wrote more than the output cap (<c>Kai:Adapters:Shell:MaxOutputBytes</c>); it was killed. HTTP 502.</summary>
    public const string AdapterOutputTooLarge = "ADAPTER_OUTPUT_TOO_LARGE";
    /// <summary>A shell agent's process exited with a non-zero status (its stderr, capped, is in the message). HTTP 502.</summary>
    public const string AdapterFailed = "ADAPTER_FAILED";
    /// <summary>
    /// An agent's AMRI <c>result</c> does not match the <c>result_schema</c> it declared for the method in <c>agent.register</c>; the
    /// result is not passed on (nor cached). HTTP 502. Source: seed 000 "JSON schema validation", issue 11 item 17.
    /// </summary>
    public const string ResultSchemaMismatch = "RESULT_SCHEMA_MISMATCH";

    /// <summary>Returns the HTTP status a code maps to (400 for an unknown code).</summary>
    /// <param name="code">One of the constants of this class.</param>
    /// <returns>The HTTP status code, for example 503 for <see cref="AgentUnavailable"/>.</returns>
    public static int HttpStatus(string code) => code switch
    {
        AgentUnavailable => 503,
        TaskTimeout => 408,
        InvalidTemplate => 400,
        WorkflowFailed => 500,
        AuthenticationFailed => 401,
        RateLimitExceeded => 429,
        DependencyNotMet => 412,
        ValidationError => 400,
        Forbidden => 403,
        NotFound => 404,
        AgentNotFound => 404,
        MethodNotAllowed => 405,
        Conflict => 409,
        PayloadTooLarge => 413,
        UnsupportedMediaType => 415,
        InternalError => 500,
        InsufficientStorage => 507,
        LlmRateLimited => 429,
        LlmUnavailable => 503,
        LlmTimeout => 504,
        LlmBadResponse => 502,
        QuotaExceeded => 413,
        ChecksumMismatch => 400,
        StoreUnavailable => 503,
        MethodNotFound => 404,
        DeadlineExceeded => 504,
        TtlExpired => 408,
        CircuitOpen => 503,
        ReplayDetected => 409,
        EnvelopeExpired => 400,
        InvocationDepthExceeded => 508,
        InvocationFailed => 502,
        InvocationTimeout => 504,
        AdapterUrlForbidden => 403,
        AdapterTimeout => 504,
        AdapterRateLimited => 429,
        AdapterUnavailable => 503,
        AdapterBadResponse => 502,
        AdapterExecutableForbidden => 403,
        ResultSchemaMismatch => 502,
        AdapterOutputTooLarge => 502,
        AdapterFailed => 502,
        SignatureRequired => 403,
        SignatureInvalid => 403,
        KeyUnknown => 403,
        KeyRevoked => 403,
        _ => 400,
    };
}
