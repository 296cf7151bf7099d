using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kai.Protocol.Kail;

/// <summary>
/// The KAIL invocation envelope (seed 002 §IV, <c>AgentEnvelope</c> of type <c>AgentInvocation</c>):
/// <c>{type, version, id, sender, target, intent, payload{input, options}, context{thread_id, timestamp}, signature}</c>.
/// It is the body of <c>POST /api/v1/invocations</c> (one object, or an array for a batch) and the payload of the
/// <c>invocation</c> frame an agent receives on its link. Its shape is checked against <c>kail_schema.json</c>
/// (<see cref="KailSchema"/>) before anything else.
/// </summary>
/// <param name="Type">Always <see cref="KailTypes.AgentInvocation"/>.</param>
/// <param name="Version"><c>1.x</c>; the hub speaks <see cref="KailTypes.Version"/>.</param>
/// <param name="Id">The invocation id, chosen by the sender (a UUID is usual; 8 to 128 characters of <c>A-Z a-z 0-9 . _ : -</c>).
/// It is also the replay nonce (seed 002 §VIII): the hub refuses an id it has seen within the replay window with
/// <see cref="ErrorCodes.ReplayDetected"/>.</param>
/// <param name="Sender">The sender's Kind Agent Handle. Optional on input: the hub sets it from the caller's token
/// (<c>kah:agent.local.&lt;agent id&gt;</c> for an agent, <c>kah:user.&lt;user id&gt;</c> for a user); a different value is refused.</param>
/// <param name="Target">The Kind Agent Handle of the agent to invoke: <c>kah:agent.local.&lt;name&gt;</c> (this hub),
/// <c>kah:agent.&lt;node&gt;.&lt;name&gt;</c> (another node) or the short form <c>kah:&lt;agent id&gt;</c>.</param>
/// <param name="Intent">What the target is asked to do (<c>summarize_document</c>); 1 to 128 characters of <c>A-Z a-z 0-9 _ . : -</c>.</param>
/// <param name="Payload">The input and options.</param>
/// <param name="Context">Thread, timestamp and hub extensions.</param>
/// <param name="Chain">Hub extension (seed 002 §I "agent chaining"): further targets, invoked in order after <paramref name="Target"/>,
/// each receiving the previous one's output as its <c>payload.input</c>. At most 16.</param>
/// <param name="Signature">Base64 (or base64url) signature over the RFC 8785 canonical JSON (<see cref="JsonCanonicalizer"/>) of the envelope as
/// sent, without <c>signature</c> (seed 002 §VIII; <see cref="KailSignatures.SigningInput"/>): 64 bytes, Ed25519 or ES256 as r‖s. The hub
/// verifies it at admission under <c>Kai:Kail:Signatures</c>; a bad one is refused with <see cref="ErrorCodes.SignatureInvalid"/>. The hub
/// does not forward it to the target (the envelope it delivers differs: hop id, deadline).</param>
/// <param name="KeyId">Hub extension (seed 002 §VIII names no key field): the id of the sender's registered public key that made
/// <paramref name="Signature"/> (<c>/api/v1/agents/{id}/keys</c>). It is part of the signed input. Required with a signature.</param>
public sealed record AgentInvocation(
    string Type,
    string Version,
    string Id,
    string? Sender,
    string Target,
    string Intent,
    InvocationPayload Payload,
    InvocationContext Context,
    IReadOnlyList<string>? Chain = null,
    string? Signature = null,
    string? KeyId = null);

/// <summary>The <c>payload</c> of an <see cref="AgentInvocation"/> (seed 002 §IV).</summary>
/// <param name="Input">Any JSON value: the text or object the target works on. For a hosted LLM agent, a string is the prompt and
/// an object <c>{prompt | messages}</c> is passed as chat parameters.</param>
/// <param name="Options">Free-form options for the target (seed: <c>{model, temperature}</c>). The hub reads <c>stream</c> (true: output
/// also arrives as <c>stream_chunk</c> frames / SSE events); hosted LLM agents map <c>model</c>, <c>temperature</c> (0 to 2) and <c>max_tokens</c>.</param>
public sealed record InvocationPayload(JsonElement Input, JsonElement? Options = null);

/// <summary>The <c>context</c> of an <see cref="AgentInvocation"/> (seed 002 §IV, plus hub extensions).</summary>
/// <param name="ThreadId">The conversation it belongs to; a hosted LLM agent prepends the thread's earlier turns.</param>
/// <param name="Timestamp">When the sender made the envelope (ISO 8601 UTC). Older than the replay window, or further ahead than the
/// allowed clock skew, it is refused with <see cref="ErrorCodes.EnvelopeExpired"/>.</param>
/// <param name="ParentId">Hub extension: the invocation during whose handling this one is made (agent-to-agent hops); the hub appends this
/// invocation's hops to the parent's depth and refuses it past <c>Kai:Kail:MaxDepth</c> with <see cref="ErrorCodes.InvocationDepthExceeded"/>.</param>
/// <param name="HopId">Set by the hub on the <c>invocation</c> frame: the id of this try, which the agent echoes in its <c>invocation_result</c>.</param>
/// <param name="TimeoutMs">Hub extension: the deadline of each try in milliseconds (default <c>Kai:Kail:Timeout</c> seconds).</param>
public sealed record InvocationContext(
    string? ThreadId,
    DateTimeOffset Timestamp,
    string? ParentId = null,
    string? HopId = null,
    int? TimeoutMs = null);

/// <summary>
/// The answer to an invocation: the body of <c>POST /api/v1/invocations</c> (when it waits) and of <c>GET /api/v1/invocations/{id}</c>,
/// and the payload of the <c>invocation_result</c> frame the hub sends to an agent that invoked over its link.
/// </summary>
/// <param name="Type">Always <see cref="KailTypes.InvocationResult"/>.</param>
/// <param name="Version">The protocol version, <see cref="KailTypes.Version"/>.</param>
/// <param name="Id">The invocation id.</param>
/// <param name="Status">One of <see cref="InvocationStatuses"/>.</param>
/// <param name="Output">The last target's output (null until completed, or when it failed).</param>
/// <param name="Error">Why it failed (<see cref="InvocationStatuses.Failed"/> only).</param>
/// <param name="Agent">The handle of the agent that produced <paramref name="Output"/> (after fallbacks, the one that answered).</param>
/// <param name="Stack">The <c>InvocationStack</c> (seed 002 §II): every try of every hop, in order.</param>
/// <param name="CreatedAt">When the hub accepted it.</param>
/// <param name="CompletedAt">When it ended (null while running).</param>
/// <param name="KeyId">The id of the hub key that signed this result (<c>GET /api/v1/invocations/keys</c>); null when the hub does not sign
/// (<c>Kai:Kail:Signatures</c> = <c>off</c>).</param>
/// <param name="Signature">The hub's Ed25519 signature (base64, 64 bytes) over the RFC 8785 canonical JSON of this result as sent, without
/// <c>signature</c> (<see cref="KailSignatures.SigningInput"/>); verify it with the published key named by <paramref name="KeyId"/>.</param>
public sealed record InvocationResult(
    string Type,
    string Version,
    string Id,
    string Status,
    JsonElement? Output,
    InvocationError? Error,
    string? Agent,
    IReadOnlyList<InvocationHop> Stack,
    DateTimeOffset CreatedAt,
    DateTimeOffset? CompletedAt,
    string? KeyId = null,
    string? Signature = null);

/// <summary>Why an invocation or one of its tries failed.</summary>
/// <param name="Code">A stable code of <see cref="ErrorCodes"/> (<c>INVOCATION_TIMEOUT</c>, <c>AGENT_UNAVAILABLE</c>, <c>INVOCATION_FAILED</c>, …).</param>
/// <param name="Message">A sentence for people.</param>
public sealed record InvocationError(string Code, string Message);

/// <summary>
/// One entry of the <c>InvocationStack</c> (seed 002 §II: "tracks full pipeline of agent-to-agent hops, inputs, and outputs"): one try of one
/// target. Inputs and outputs are recorded as SHA-256 hashes (lower-case hex of the UTF-8 JSON), so the stack can be audited without keeping payloads.
/// </summary>
/// <param name="HopId">The id of this try (<c>&lt;invocation id&gt;.&lt;n&gt;</c>).</param>
/// <param name="Step">The position in the chain, 0 for the target, 1 for the first <c>chain</c> entry, …</param>
/// <param name="Attempt">1 for the first try of this step; higher for retries and fallbacks.</param>
/// <param name="Agent">The handle that was tried (<c>kah:agent.local.&lt;id&gt;</c>).</param>
/// <param name="Intent">The intent asked.</param>
/// <param name="Fallback">Whether this try went to a backup agent (seed 002 §IX "reroute to backup agent pool").</param>
/// <param name="Depth">Nesting depth: 1 for an invocation made by a user, parent's depth + 1 for one made while handling another.</param>
/// <param name="StartedAt">When the hub routed this try.</param>
/// <param name="DurationMs">How long until the answer, failure or timeout, in milliseconds (null while running).</param>
/// <param name="InputSha256">SHA-256 of the input JSON.</param>
/// <param name="OutputSha256">SHA-256 of the output JSON (null unless it completed).</param>
/// <param name="Status"><c>running</c>, <c>completed</c> or <c>failed</c>.</param>
/// <param name="Error">Why this try failed.</param>
public sealed record InvocationHop(
    string HopId,
    int Step,
    int Attempt,
    string Agent,
    string Intent,
    bool Fallback,
    int Depth,
    DateTimeOffset StartedAt,
    double? DurationMs,
    string InputSha256,
    string? OutputSha256,
    string Status,
    InvocationError? Error = null);

/// <summary>
/// Agent to hub: the <c>invocation_result</c> frame, the answer to an <c>invocation</c> frame.
/// </summary>
/// <param name="Id">The invocation id (<see cref="AgentInvocation.Id"/>).</param>
/// <param name="HopId">The <see cref="InvocationContext.HopId"/> of the frame being answered; when omitted, the invocation's current try.</param>
/// <param name="Status"><see cref="InvocationStatuses.Completed"/> or <see cref="InvocationStatuses.Failed"/>.</param>
/// <param name="Output">The output (any JSON) when completed.</param>
/// <param name="Error">Why it failed; the hub then tries a backup agent if there is one.</param>
public sealed record InvocationResultPayload(string Id, string? HopId, string Status, JsonElement? Output = null, InvocationError? Error = null);

/// <summary>The answer of <c>POST /api/v1/invocations?wait=false</c>: the id to poll, at once.</summary>
/// <param name="Id">The invocation id.</param>
/// <param name="Status">Always <see cref="InvocationStatuses.Running"/>.</param>
/// <param name="Location">The relative URL that shows it (<c>/api/v1/invocations/{id}</c>).</param>
public sealed record InvocationAccepted(string Id, string Status, string Location);

/// <summary>The values of <see cref="InvocationResult.Status"/> and <see cref="InvocationHop.Status"/>.</summary>
public static class InvocationStatuses
{
    /// <summary>Accepted and not finished.</summary>
    public const string Running = "running";
    /// <summary>The last target answered; <see cref="InvocationResult.Output"/> holds its output.</summary>
    public const string Completed = "completed";
    /// <summary>Every try failed, or the invocation was refused; <see cref="InvocationResult.Error"/> says why.</summary>
    public const string Failed = "failed";
}

/// <summary>The fixed strings of the KAIL protocol.</summary>
public static class KailTypes
{
    /// <summary>The <c>type</c> of an invocation envelope.</summary>
    public const string AgentInvocation = "AgentInvocation";
    /// <summary>The <c>type</c> of a result.</summary>
    public const string InvocationResult = "InvocationResult";
    /// <summary>The protocol version the hub speaks.</summary>
    public const string Version = "1.0";
    /// <summary>The prefix of every Kind Agent Handle.</summary>
    public const string HandlePrefix = "kah:";

    /// <summary>The handle of an agent of this hub: <c>kah:agent.local.&lt;agentId&gt;</c>.</summary>
    /// <param name="agentId">The agent id.</param>
    /// <returns>The handle.</returns>
    public static string LocalHandle(string agentId) => HandlePrefix + "agent.local." + agentId;

    /// <summary>The handle of a user as a sender: <c>kah:user.&lt;userId&gt;</c>.</summary>
    /// <param name="userId">The user id.</param>
    /// <returns>The handle.</returns>
    public static string UserHandle(string userId) => HandlePrefix + "user." + userId;
}
