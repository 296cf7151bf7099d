using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Rpc;

namespace Kai.Client;

public sealed partial class HubClient
{
    /// <summary>
    /// Calls an AMRI method (seed 001) through <c>POST /api/v1/rpc</c> and returns the response envelope, errors included: an unknown method,
    /// an expired <c>ttl</c>, an offline agent or a deadline is a response whose <see cref="RpcResponse.Error"/> says so (<c>type</c>
    /// <c>METHOD_NOT_FOUND</c>, <c>TTL_EXPIRED</c>, <c>AGENT_UNAVAILABLE</c>, <c>DEADLINE_EXCEEDED</c>…), not an exception.
    /// </summary>
    /// <param name="method">The method, for example <c>memory.query</c>.</param>
    /// <param name="parameters">The <c>params</c> object (serialized snake_case), or null for <c>{}</c>.</param>
    /// <param name="destination">The agent id or <c>kah:</c> handle; null lets the hub's routing table choose by method prefix.</param>
    /// <param name="ttl">The time to live, end to end (sent as <c>headers.ttl</c> in milliseconds); null: the method's deadline from the hub's table.</param>
    /// <param name="traceId">The trace id (a UUID); null: a new one.</param>
    /// <param name="id">The request id; null: a new UUID.</param>
    /// <param name="sealWith">A key id of <see cref="PayloadKeys"/>: <c>params</c> is sent sealed with that key (a JWE, docs/protocol.md
    /// "Encrypted payloads"), so the hub routes it without reading it; the agent needs the same key. Null: sent as it is.</param>
    /// <param name="ct">Cancels the wait (the hub still finishes the call).</param>
    /// <returns>The response envelope, with <c>metrics{latency_ms, retries, backend}</c>; a sealed <c>result</c> is opened (see
    /// <see cref="CallAsync(RpcRequest, CancellationToken)"/>).</returns>
    /// <exception cref="HubApiException">The call was refused before it became an RPC: 401 (no valid token), 403 (no <c>rpc.call</c> permission), 413, 429.</exception>
    /// <exception cref="EncryptedPayloadException"><paramref name="sealWith"/> is not in <see cref="PayloadKeys"/> (or none is set), or the sealed result does not open.</exception>
    public async Task<RpcResponse> CallAsync(
        string method, object? parameters = null, string? destination = null, TimeSpan? ttl = null, string? traceId = null, string? id = null,
        string? sealWith = null, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(method);
        return await CallAsync(new RpcRequest(id ?? Guid.NewGuid().ToString(), null, destination, _time.GetUtcNow().ToUnixTimeSeconds(), method,
            SealIf(parameters ?? new { }, sealWith),
            new RpcHeaders(traceId ?? Guid.NewGuid().ToString(), Ttl: ttl is { } t ? (long)Math.Ceiling(t.TotalMilliseconds) : null)), ct);
    }

    /// <summary>Sends an AMRI request envelope as it is (seed 001 §4) and returns the response envelope, errors included.</summary>
    /// <param name="request">The envelope; a <c>timestamp</c> of 0 means "when the hub receives it" (the ttl then counts from there).</param>
    /// <param name="ct">Cancels the wait.</param>
    /// <returns>The response envelope. When <see cref="PayloadKeys"/> is set and the <c>result</c> is sealed
    /// (<see cref="EncryptedPayload.IsEncrypted"/>), <c>result</c> is the opened plaintext; errors are never sealed.</returns>
    /// <exception cref="HubApiException">The call was refused before it became an RPC (401, 403, 413, 429).</exception>
    /// <exception cref="EncryptedPayloadException">The result is sealed with a key <see cref="PayloadKeys"/> lacks, or does not authenticate.</exception>
    public async Task<RpcResponse> CallAsync(RpcRequest request, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        for (var attempt = 0; ; attempt++)
        {
            var token = await EnsureAccessTokenAsync(ct);
            using var response = await SendWithRetryAsync(() =>
            {
                var message = new HttpRequestMessage(HttpMethod.Post, new Uri(BaseAddress, "api/v1/rpc"))
                {
                    Content = JsonContent.Create(request, options: KaiJson.Options),
                };
                if (token is not null)
                {
                    message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                }
                return message;
            }, ct);
            if (response.StatusCode == HttpStatusCode.Unauthorized && attempt == 0 && (_refreshToken is not null || _clientCredentials is not null))
            {
                _accessExpires = DateTimeOffset.MinValue;
                continue;
            }
            // An RPC answer is an envelope whatever its status; anything else is the API error envelope.
            if (response.Content.Headers.ContentType?.MediaType == "application/json"
                && await response.Content.ReadFromJsonAsync<JsonElement>(KaiJson.Options, ct) is { ValueKind: JsonValueKind.Object } body
                && body.TryGetProperty("metrics", out _))
            {
                var answer = body.Deserialize<RpcResponse>(KaiJson.Options)!;
                return answer.Result is { } result && PayloadKeys is { } keys && EncryptedPayload.IsEncrypted(result)
                    ? answer with { Result = keys.Open(result) }
                    : answer;
            }
            return await ReadAsync<RpcResponse>(response, ct);
        }
    }
}
