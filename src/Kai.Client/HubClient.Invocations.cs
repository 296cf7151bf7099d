using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Protocol.Kail;

namespace Kai.Client;

public sealed partial class HubClient
{
    /// <summary>
    /// Invokes an agent through KAIL (seed 002, <c>POST /api/v1/invocations</c>) and waits for the result: a fresh envelope with a new id
    /// (the replay nonce) and the current time as <c>context.timestamp</c>.
    /// </summary>
    /// <param name="target">The Kind Agent Handle: <c>kah:agent.local.&lt;name&gt;</c>, <c>kah:agent.&lt;node&gt;.&lt;name&gt;</c> or <c>kah:&lt;agent id&gt;</c>.</param>
    /// <param name="intent">The intent (1 to 128 of <c>A-Z a-z 0-9 _ . : -</c>).</param>
    /// <param name="input">Any value serializable to JSON (<c>payload.input</c>).</param>
    /// <param name="options">Optional <c>payload.options</c> object (<c>model</c>, <c>temperature</c>, <c>stream</c>, …).</param>
    /// <param name="threadId">Optional <c>context.thread_id</c>.</param>
    /// <param name="chain">Optional further targets, each receiving the previous output.</param>
    /// <param name="sealWith">A key id of <see cref="PayloadKeys"/>: <c>payload.input</c> is sent sealed with that key (a JWE, docs/protocol.md
    /// "Encrypted payloads"), so the hub routes and stores it without reading it; the agent needs the same key. Null: sent as it is.</param>
    /// <param name="ct">Cancels the wait (the invocation goes on in the hub).</param>
    /// <returns>The completed <see cref="InvocationResult"/> with its stack; a sealed output is opened (see
    /// <see cref="InvokeAsync(AgentInvocation, CancellationToken)"/>).</returns>
    /// <exception cref="HubApiException">The hub's error: <c>VALIDATION_ERROR</c>, <c>AGENT_NOT_FOUND</c>, <c>FORBIDDEN</c>, <c>REPLAY_DETECTED</c>, the signature codes
    /// (<c>SIGNATURE_REQUIRED</c>, <c>KEY_UNKNOWN</c>, <c>KEY_REVOKED</c>, <c>SIGNATURE_INVALID</c>; sign with <see cref="KailSigning"/>),
    /// <c>ENVELOPE_EXPIRED</c>, or the failed invocation's code (<c>INVOCATION_TIMEOUT</c>, <c>INVOCATION_FAILED</c>, an agent's own code) with the
    /// result in <c>details.invocation</c>.</exception>
    /// <exception cref="EncryptedPayloadException"><paramref name="sealWith"/> is not in <see cref="PayloadKeys"/> (or none is set), or the sealed output does not open.</exception>
    public Task<InvocationResult> InvokeAsync(
        string target, string intent, object? input, object? options = null, string? threadId = null, IReadOnlyList<string>? chain = null,
        string? sealWith = null, CancellationToken ct = default) =>
        InvokeAsync(NewInvocation(target, intent, input, options, threadId, chain, sealWith), ct);

    /// <summary>Sends a prepared envelope to <c>POST /api/v1/invocations</c> and waits for its result.</summary>
    /// <param name="invocation">The envelope; <see cref="AgentInvocation.Sender"/> may be null (the hub sets it).</param>
    /// <param name="ct">Cancels the wait.</param>
    /// <returns>The completed result. When <see cref="PayloadKeys"/> is set and the output is sealed (<see cref="EncryptedPayload.IsEncrypted"/>),
    /// <see cref="InvocationResult.Output"/> is the opened plaintext; the hub signed the sealed output, so check
    /// <see cref="KailSigning.VerifyResult(InvocationResult, IEnumerable{HubKey})"/> on <see cref="GetInvocationAsync"/>'s copy, which is left sealed.</returns>
    /// <exception cref="HubApiException">As the other overload.</exception>
    /// <exception cref="EncryptedPayloadException">The output is sealed with a key <see cref="PayloadKeys"/> lacks, or does not authenticate.</exception>
    public async Task<InvocationResult> InvokeAsync(AgentInvocation invocation, CancellationToken ct = default) =>
        OpenOutput(await SendAsync<InvocationResult>(HttpMethod.Post, "api/v1/invocations", invocation, ct));

    /// <summary>The hub's result-signing keys (<c>GET /api/v1/invocations/keys</c>), for <see cref="KailSigning.VerifyResult(InvocationResult, IEnumerable{HubKey})"/>.</summary>
    /// <param name="ct">Cancels the call.</param>
    /// <returns>The keys (one today, Ed25519).</returns>
    /// <exception cref="HubApiException">AUTHENTICATION_FAILED without a valid token.</exception>
    public Task<HubKeyList> InvocationKeysAsync(CancellationToken ct = default) =>
        SendAsync<HubKeyList>(HttpMethod.Get, "api/v1/invocations/keys", null, ct);

    /// <summary>
    /// Registers a public key under an agent for signing KAIL envelopes (<c>POST /api/v1/agents/{agentId}/keys</c>); the agent itself, its owner or
    /// an admin may. Rotation: register the next key, switch to it, then <see cref="RevokeAgentKeyAsync"/> the old one.
    /// </summary>
    /// <param name="agentId">The agent.</param>
    /// <param name="key">The algorithm and the public key (base64 or JWK), and optionally the key id.</param>
    /// <param name="ct">Cancels the call.</param>
    /// <returns>The registered key with its id.</returns>
    /// <exception cref="HubApiException">VALIDATION_ERROR naming the field, CONFLICT for a taken id or too many keys, AGENT_NOT_FOUND.</exception>
    public Task<AgentKey> RegisterAgentKeyAsync(string agentId, AgentKeyCreate key, CancellationToken ct = default) =>
        SendAsync<AgentKey>(HttpMethod.Post, $"api/v1/agents/{Uri.EscapeDataString(agentId)}/keys", key, ct);

    /// <summary>Revokes an agent's signing key (<c>DELETE /api/v1/agents/{agentId}/keys/{keyId}</c>): envelopes signed with it are refused with KEY_REVOKED.</summary>
    /// <param name="agentId">The agent.</param>
    /// <param name="keyId">The key id.</param>
    /// <param name="ct">Cancels the call.</param>
    /// <returns>The key with its <c>revoked_at</c> (the first revocation's time when it was revoked before).</returns>
    /// <exception cref="HubApiException">NOT_FOUND for an unknown key, AGENT_NOT_FOUND.</exception>
    public Task<AgentKey> RevokeAgentKeyAsync(string agentId, string keyId, CancellationToken ct = default) =>
        SendAsync<AgentKey>(HttpMethod.Delete, $"api/v1/agents/{Uri.EscapeDataString(agentId)}/keys/{Uri.EscapeDataString(keyId)}", null, ct);

    /// <summary>Reads an invocation's status, result and stack (<c>GET /api/v1/invocations/{id}</c>).</summary>
    /// <param name="invocationId">The invocation id.</param>
    /// <param name="ct">Cancels the call.</param>
    /// <returns>The invocation as the hub has it now; a sealed output stays sealed (open it with <see cref="PayloadKeyRing.Open"/>).</returns>
    /// <exception cref="HubApiException"><c>NOT_FOUND</c> for an unknown id or another tenant's invocation.</exception>
    public Task<InvocationResult> GetInvocationAsync(string invocationId, CancellationToken ct = default) =>
        SendAsync<InvocationResult>(HttpMethod.Get, $"api/v1/invocations/{Uri.EscapeDataString(invocationId)}", null, ct);

    /// <summary>
    /// Invokes with <c>?stream=true</c> and yields the output as it is produced (the <c>chunk</c> Server-Sent Events, <c>stream_id</c> = the invocation id),
    /// then the result: each item is either a chunk (<see cref="InvocationStreamItem.Chunk"/>) or, last, the result (<see cref="InvocationStreamItem.Result"/>).
    /// The agent streams when it supports it (hosted LLM agents do with <c>options.stream</c>, which this call sets).
    /// </summary>
    /// <param name="invocation">The envelope (see <see cref="NewInvocation"/>).</param>
    /// <param name="ct">Stops reading.</param>
    /// <returns>The chunks, then the result.</returns>
    /// <exception cref="HubApiException">The invocation was refused before it ran.</exception>
    public async IAsyncEnumerable<InvocationStreamItem> InvokeStreamingAsync(AgentInvocation invocation, [EnumeratorCancellation] CancellationToken ct = default)
    {
        var token = await EnsureAccessTokenAsync(ct);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(BaseAddress, "api/v1/invocations?stream=true"))
        {
            Content = JsonContent.Create(invocation, options: KaiJson.Options),
        };
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        if (!response.IsSuccessStatusCode)
        {
            await ReadAsync<object>(response, ct);
        }
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
        string? name = null;
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                name = line["event: ".Length..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                var data = line["data: ".Length..];
                if (name == "chunk")
                {
                    yield return new InvocationStreamItem(JsonSerializer.Deserialize<StreamChunkPayload>(data, KaiJson.Options), null);
                }
                else if (name == "result")
                {
                    yield return new InvocationStreamItem(null, OpenOutput(JsonSerializer.Deserialize<InvocationResult>(data, KaiJson.Options)!));
                    yield break;
                }
            }
        }
    }

    /// <summary>Builds an envelope: new UUID id, <c>version</c> 1.0, timestamp now on this client's clock.</summary>
    /// <param name="target">The target handle.</param>
    /// <param name="intent">The intent.</param>
    /// <param name="input">The input value.</param>
    /// <param name="options">Optional options object.</param>
    /// <param name="threadId">Optional thread id.</param>
    /// <param name="chain">Optional chain of further targets.</param>
    /// <param name="sealWith">A key id of <see cref="PayloadKeys"/> to seal the input with, or null. Sign after sealing (<see cref="KailSigning"/>):
    /// the signature then covers the ciphertext.</param>
    /// <returns>The envelope, unsigned.</returns>
    /// <exception cref="EncryptedPayloadException"><paramref name="sealWith"/> is not in <see cref="PayloadKeys"/>, or none is set.</exception>
    public AgentInvocation NewInvocation(
        string target, string intent, object? input, object? options = null, string? threadId = null, IReadOnlyList<string>? chain = null, string? sealWith = null) =>
        new(KailTypes.AgentInvocation, KailTypes.Version, Guid.NewGuid().ToString(), null, target, intent,
            new InvocationPayload(SealIf(input, sealWith), options is null ? null : JsonSerializer.SerializeToElement(options, KaiJson.Options)),
            new InvocationContext(threadId, _time.GetUtcNow()), chain);

    private InvocationResult OpenOutput(InvocationResult result) =>
        result.Output is { } output && PayloadKeys is { } keys && EncryptedPayload.IsEncrypted(output) ? result with { Output = keys.Open(output) } : result;
}

/// <summary>One item of <see cref="HubClient.InvokeStreamingAsync"/>: a chunk of output, or (last) the result.</summary>
/// <param name="Chunk">A piece of output, in order (<c>chunk_index</c> from 0).</param>
/// <param name="Result">The outcome, with the stack.</param>
public sealed record InvocationStreamItem(StreamChunkPayload? Chunk, InvocationResult? Result);
