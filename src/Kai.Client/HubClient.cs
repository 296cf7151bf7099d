using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Polly;
using Polly.Retry;

namespace Kai.Client;

/// <summary>
/// Typed client for the hub's REST API (<c>/api/v1</c>, seeds 000 and 004) and the factory of live links.
/// It keeps the tokens of the last login and refreshes them itself: shortly before the access token expires,
/// and once on a 401. Thread-safe.
/// </summary>
/// <remarks>Every call throws <see cref="HubApiException"/> when the hub answers with an error envelope, and
/// <see cref="HttpRequestException"/> when the hub cannot be reached. A 429 (<c>RATE_LIMIT_EXCEEDED</c>) is retried after the hub's
/// <c>Retry-After</c> (see <see cref="MaxRateLimitRetries"/> and <see cref="MaxRateLimitWait"/>).</remarks>
public sealed partial class HubClient : IDisposable
{
    private static readonly TimeSpan RefreshMargin = TimeSpan.FromSeconds(30);
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _refreshLock = new(1, 1);
    private string? _accessToken;
    private string? _refreshToken;
    private DateTimeOffset _accessExpires;
    private (string Id, string Secret)? _clientCredentials;
    private readonly ResiliencePipeline<HttpResponseMessage> _rateLimitRetry;
    private RateLimitInfo? _lastRateLimit;

    /// <summary>Creates a client for the hub at <paramref name="baseAddress"/>, for example <c>http://127.0.0.1:8000</c>.</summary>
    /// <param name="baseAddress">The hub's base URL.</param>
    /// <param name="http">Optional HttpClient to use; its BaseAddress is ignored.</param>
    /// <param name="time">Optional clock, for tests.</param>
    public HubClient(Uri baseAddress, HttpClient? http = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(baseAddress);
        BaseAddress = new Uri(baseAddress.ToString().TrimEnd('/') + "/");
        _ownsHttp = http is null;
        _http = http ?? new HttpClient();
        _time = time ?? TimeProvider.System;
        _rateLimitRetry = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = _time }
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                // The real bound is MaxRateLimitRetries, read per attempt so callers may change it after construction.
                MaxRetryAttempts = int.MaxValue,
                ShouldHandle = args => ValueTask.FromResult(
                    args.AttemptNumber < MaxRateLimitRetries
                    && args.Outcome.Result is { StatusCode: HttpStatusCode.TooManyRequests } r
                    && RetryAfterOf(r) <= MaxRateLimitWait),
                DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(args.Outcome.Result is { } r ? RetryAfterOf(r) : TimeSpan.FromSeconds(1)),
                OnRetry = args =>
                {
                    RateLimited?.Invoke(args.RetryDelay);
                    return default;
                },
            })
            .Build();
    }

    /// <summary>How many times one call is retried after a 429 before <see cref="HubApiException"/> <c>RATE_LIMIT_EXCEEDED</c> is thrown.
    /// 0 turns retrying off. Default: 3.</summary>
    public int MaxRateLimitRetries { get; set; } = 3;

    /// <summary>The longest <c>Retry-After</c> the client waits for; a 429 asking for longer is thrown at once
    /// (<c>RATE_LIMIT_EXCEEDED</c>, with <c>details.retry_after</c> in seconds). Default: 30 seconds.</summary>
    public TimeSpan MaxRateLimitWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The <c>X-RateLimit-*</c> headers of the last answer that carried them (every hub answer does), or null before the first call.</summary>
    public RateLimitInfo? LastRateLimit => Volatile.Read(ref _lastRateLimit);

    /// <summary>Raised when a call got 429 and the client is about to wait, with the wait (the hub's <c>Retry-After</c>).</summary>
    public event Action<TimeSpan>? RateLimited;

    /// <summary>
    /// The keys of encrypted payloads (docs/protocol.md, "Encrypted payloads"): with it, <c>sealWith</c> on <see cref="CallAsync(string, object?, string?, TimeSpan?, string?, string?, string?, CancellationToken)"/>,
    /// <see cref="InvokeAsync(string, string, object?, object?, string?, IReadOnlyList{string}?, string?, CancellationToken)"/> and
    /// <see cref="NewInvocation"/> seals <c>params</c> / <c>payload.input</c>, and sealed RPC results and invocation outputs are opened.
    /// Null (the default): nothing is sealed or opened.
    /// </summary>
    public PayloadKeyRing? PayloadKeys { get; set; }

    private JsonElement SealIf(object? value, string? keyId) => keyId is null
        ? JsonSerializer.SerializeToElement(value, KaiJson.Options)
        : (PayloadKeys ?? throw new EncryptedPayloadException(EncryptedPayloadError.UnknownKey,
            $"Cannot seal with key '{keyId}': this client has no PayloadKeys.", keyId)).Seal(value, keyId);

    /// <summary>The hub's base URL, ending in <c>/</c>.</summary>
    public Uri BaseAddress { get; }

    /// <summary>The current access token, or null before a login.</summary>
    public string? AccessToken => _accessToken;

    /// <summary>The current refresh token (users only), or null.</summary>
    public string? RefreshToken => _refreshToken;

    /// <summary>Raised after a login or refresh with the new (access, refresh) tokens, so callers can persist them.</summary>
    public event Action<TokenResponse>? TokensChanged;

    /// <summary>Uses tokens saved from an earlier login (for example by the CLI). The access token's expiry is read from its <c>exp</c> claim.</summary>
    /// <param name="accessToken">The access token.</param>
    /// <param name="refreshToken">The refresh token, if any.</param>
    public void UseTokens(string accessToken, string? refreshToken)
    {
        _accessToken = accessToken;
        _refreshToken = refreshToken;
        _lastTokens = null;
        _accessExpires = ExpiryOf(accessToken) ?? _time.GetUtcNow().AddMinutes(1);
    }

    /// <summary><c>POST /api/v1/auth/register</c>. Throws with <c>CONFLICT</c> (409) for a taken email, <c>VALIDATION_ERROR</c> (400) for bad fields.</summary>
    public Task<RegisterResponse> RegisterAsync(string email, string password, string displayName, CancellationToken ct = default) =>
        SendAsync<RegisterResponse>(HttpMethod.Post, "api/v1/auth/register", new RegisterRequest(email, password, displayName, true), ct, authenticate: false);

    /// <summary><c>POST /api/v1/auth/login</c>; keeps the tokens for later calls. Throws with <c>AUTHENTICATION_FAILED</c> (401) for a wrong email or password.</summary>
    public async Task<TokenResponse> LoginAsync(string email, string password, CancellationToken ct = default)
    {
        var tokens = await SendAsync<TokenResponse>(HttpMethod.Post, "api/v1/auth/login", new LoginRequest(email, password), ct, authenticate: false);
        Accept(tokens);
        return tokens;
    }

    /// <summary>
    /// <c>POST /api/v1/auth/token</c> with the OAuth 2.0 <c>client_credentials</c> grant (RFC 6749 §4.4): signs in as an agent.
    /// The credentials are kept, so an expired agent token is fetched again automatically.
    /// </summary>
    public async Task<ClientTokenResponse> LoginAgentAsync(string clientId, string clientSecret, CancellationToken ct = default)
    {
        _clientCredentials = (clientId, clientSecret);
        return await FetchClientTokenAsync(ct);
    }

    private async Task<ClientTokenResponse> FetchClientTokenAsync(CancellationToken ct)
    {
        var (id, secret) = _clientCredentials ?? throw new InvalidOperationException("No client credentials.");
        using var response = await SendWithRetryAsync(() => new HttpRequestMessage(HttpMethod.Post, new Uri(BaseAddress, "api/v1/auth/token"))
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials", ["client_id"] = id, ["client_secret"] = secret,
            }),
        }, ct);
        var token = await ReadAsync<ClientTokenResponse>(response, ct);
        _accessToken = token.AccessToken;
        _accessExpires = _time.GetUtcNow().AddSeconds(token.ExpiresIn);
        return token;
    }

    /// <summary>
    /// <c>POST /api/v1/auth/refresh</c>: rotates the refresh token. Throws with <c>AUTHENTICATION_FAILED</c> when it is invalid, expired or
    /// reused. When the hub answers that the token was already rotated (401, <c>details.reason = "refresh_token_rotated"</c>, within its
    /// grace window) and this client meanwhile holds newer tokens, those are kept and returned instead; otherwise the 401 is thrown with a
    /// message saying that another client of the same session refreshed first (log in again, or reload the tokens it saved).
    /// </summary>
    public async Task<TokenResponse> RefreshAsync(CancellationToken ct = default)
    {
        await _refreshLock.WaitAsync(ct);
        try
        {
            // Null: newer tokens arrived through UseTokens while this refresh was on the wire; they carry no profile to return.
            return await RefreshCoreAsync(ct) ?? throw new InvalidOperationException(
                "The refresh token was rotated by tokens passed to UseTokens meanwhile; those are in use now.");
        }
        finally
        {
            _refreshLock.Release();
        }
    }

    /// <summary>
    /// The refresh itself; the caller holds <see cref="_refreshLock"/>, so two refreshes of this client never race each other.
    /// Returns null when the hub said "already rotated" and this client meanwhile got newer tokens through <see cref="UseTokens"/>.
    /// </summary>
    private async Task<TokenResponse?> RefreshCoreAsync(CancellationToken ct)
    {
        var refresh = _refreshToken ?? throw new InvalidOperationException("No refresh token; log in first.");
        try
        {
            var tokens = await SendAsync<TokenResponse>(HttpMethod.Post, "api/v1/auth/refresh", new RefreshRequest(refresh), ct, authenticate: false);
            Accept(tokens);
            return tokens;
        }
        catch (HubApiException ex) when (ex.Status == 401 && IsRotated(ex))
        {
            // Someone refreshed with the same token first. If it was this client (UseTokens or a LoginAsync while we were on the wire),
            // the newer pair is already here: use it. Otherwise it was another process sharing the saved tokens.
            if (_refreshToken is { } newer && newer != refresh)
            {
                return _lastTokens is { } last && last.RefreshToken == newer ? last : null;
            }
            throw new HubApiException(ex.Code,
                "The refresh token was already used by another client of this session (for example a second process with the same saved tokens). "
                + "Reload the tokens it saved or log in again.", ex.Status, ex.Details, ex.CorrelationId);
        }
    }

    private static bool IsRotated(HubApiException ex) =>
        ex.Details is { ValueKind: JsonValueKind.Object } d && d.TryGetProperty("reason", out var reason)
        && reason.ValueKind == JsonValueKind.String && reason.GetString() == "refresh_token_rotated";

    /// <summary><c>POST /api/v1/auth/logout</c>: revokes the session (access and refresh tokens) and forgets the tokens.</summary>
    public async Task LogoutAsync(CancellationToken ct = default)
    {
        await SendAsync<LogoutResponse>(HttpMethod.Post, "api/v1/auth/logout", null, ct);
        _accessToken = _refreshToken = null;
    }

    /// <summary><c>GET /api/v1/auth/session</c>.</summary>
    public Task<SessionInfo> GetSessionAsync(CancellationToken ct = default) => SendAsync<SessionInfo>(HttpMethod.Get, "api/v1/auth/session", null, ct);

    /// <summary><c>POST /api/v1/agents/register</c> (seed 004 body). The returned secret is shown only once: store it.</summary>
    public Task<AgentCreatedResponse> RegisterAgentAsync(RegisterAgentRequest request, CancellationToken ct = default) =>
        SendAsync<AgentCreatedResponse>(HttpMethod.Post, "api/v1/agents/register", request, ct);

    /// <summary><c>POST /api/v1/agents</c> (seed 000 body). The returned secret is shown only once: store it.</summary>
    public Task<AgentCreatedResponse> CreateAgentAsync(CreateAgentRequest request, CancellationToken ct = default) =>
        SendAsync<AgentCreatedResponse>(HttpMethod.Post, "api/v1/agents", request, ct);

    /// <summary><c>GET /api/v1/agents</c> with optional filters; <paramref name="limit"/> is 1 to 100 (default 20).</summary>
    public Task<AgentListResponse> ListAgentsAsync(string? status = null, string? capability = null, string? type = null, int? limit = null, int? offset = null, CancellationToken ct = default) =>
        SendAsync<AgentListResponse>(HttpMethod.Get, "api/v1/agents" + Query(("status", status), ("capability", capability), ("type", type), ("limit", Str(limit)), ("offset", Str(offset))), null, ct);

    private static string? Str(int? value) => value?.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A query string (with its <c>?</c>) of the parameters that have values, or an empty string.</summary>
    private static string Query(params (string Name, string? Value)[] parameters)
    {
        var query = string.Join('&', parameters.Where(p => p.Value is not null).Select(p => $"{p.Name}={Uri.EscapeDataString(p.Value!)}"));
        return query.Length > 0 ? "?" + query : "";
    }

    /// <summary><c>GET /api/v1/agents/{id}</c>. Throws with <c>AGENT_NOT_FOUND</c> (404) for an unknown agent or another user's.</summary>
    public Task<AgentView> GetAgentAsync(string agentId, CancellationToken ct = default) =>
        SendAsync<AgentView>(HttpMethod.Get, $"api/v1/agents/{Uri.EscapeDataString(agentId)}", null, ct);

    /// <summary><c>PUT /api/v1/agents/{id}</c>.</summary>
    public Task<UpdateAgentResponse> UpdateAgentAsync(string agentId, UpdateAgentRequest request, CancellationToken ct = default) =>
        SendAsync<UpdateAgentResponse>(HttpMethod.Put, $"api/v1/agents/{Uri.EscapeDataString(agentId)}", request, ct);

    /// <summary>
    /// <c>GET /api/v1/agents/{id}/schemas</c>: the JSON Schemas the agent declared for its methods, commands and intents
    /// (docs/protocol.md "Schemas for methods, commands and intents"; seed 000 "JSON schema validation for all commands").
    /// </summary>
    /// <exception cref="HubApiException">404 <c>AGENT_NOT_FOUND</c> for an agent the caller may not see.</exception>
    public Task<Kai.Protocol.Rpc.AgentSchemaDeclarations> GetAgentSchemasAsync(string agentId, CancellationToken ct = default) =>
        SendAsync<Kai.Protocol.Rpc.AgentSchemaDeclarations>(HttpMethod.Get, $"api/v1/agents/{Uri.EscapeDataString(agentId)}/schemas", null, ct);

    /// <summary>
    /// <c>PUT /api/v1/agents/{id}/schemas</c>: replaces the agent's declarations, durably (every map empty removes them). From then on
    /// the hub refuses calls, commands and invocations whose input breaks a <c>params_schema</c> with <c>VALIDATION_ERROR</c>, before
    /// anything is stored or routed, and fails answers that break a <c>result_schema</c> with <c>RESULT_SCHEMA_MISMATCH</c>.
    /// </summary>
    /// <returns>The declarations as stored.</returns>
    /// <exception cref="HubApiException">400 <c>VALIDATION_ERROR</c> naming the field of a declaration that is not a JSON Schema (nothing changes);
    /// 404 <c>AGENT_NOT_FOUND</c>.</exception>
    public Task<Kai.Protocol.Rpc.AgentSchemaDeclarations> SetAgentSchemasAsync(string agentId, Kai.Protocol.Rpc.AgentSchemaDeclarations schemas, CancellationToken ct = default) =>
        SendAsync<Kai.Protocol.Rpc.AgentSchemaDeclarations>(HttpMethod.Put, $"api/v1/agents/{Uri.EscapeDataString(agentId)}/schemas", schemas, ct);

    /// <summary><c>DELETE /api/v1/agents/{id}</c>: revokes its credentials, closes its links and fails its open commands.</summary>
    public Task<DeleteAgentResponse> DeleteAgentAsync(string agentId, CancellationToken ct = default) =>
        SendAsync<DeleteAgentResponse>(HttpMethod.Delete, $"api/v1/agents/{Uri.EscapeDataString(agentId)}", null, ct);

    /// <summary><c>GET /api/v1/agents/{id}/status</c> (seed 000 fields).</summary>
    public Task<AgentStatusResponse> GetAgentStatusAsync(string agentId, CancellationToken ct = default) =>
        SendAsync<AgentStatusResponse>(HttpMethod.Get, $"api/v1/agents/{Uri.EscapeDataString(agentId)}/status", null, ct);

    /// <summary><c>POST /api/v1/agents/{id}/heartbeat</c> (seed 004 body), for agents that do not hold a live link.</summary>
    public Task<HeartbeatResponse> HeartbeatAsync(string agentId, HeartbeatRequest request, CancellationToken ct = default) =>
        SendAsync<HeartbeatResponse>(HttpMethod.Post, $"api/v1/agents/{Uri.EscapeDataString(agentId)}/heartbeat", request, ct);

    /// <summary><c>POST /api/v1/agents/{id}/restart</c>: sends a <c>restart</c> command. Throws with <c>AGENT_UNAVAILABLE</c> (503) if the agent has no live link.</summary>
    public Task<RestartResponse> RestartAgentAsync(string agentId, bool force = false, CancellationToken ct = default) =>
        SendAsync<RestartResponse>(HttpMethod.Post, $"api/v1/agents/{Uri.EscapeDataString(agentId)}/restart", new RestartRequest(force), ct);

    /// <summary>
    /// <c>POST /api/v1/agents/{id}/command</c> (seed 000): the hub stores the command, delivers it at least once, and waits up to
    /// <see cref="SendCommandRequest.Timeout"/> seconds for the result. A <c>queued</c> or <c>executing</c> answer means it is still
    /// tracked: poll <see cref="GetTaskStatusAsync"/>.
    /// </summary>
    public Task<CommandResponse> SendCommandAsync(string agentId, SendCommandRequest request, CancellationToken ct = default) =>
        SendAsync<CommandResponse>(HttpMethod.Post, $"api/v1/agents/{Uri.EscapeDataString(agentId)}/command", request, ct);

    /// <summary><c>GET /api/v1/tasks/{id}/status</c> (seed 000 fields); commands are tracked as tasks.</summary>
    public Task<TaskStatusResponse> GetTaskStatusAsync(string taskId, CancellationToken ct = default) =>
        SendAsync<TaskStatusResponse>(HttpMethod.Get, $"api/v1/tasks/{Uri.EscapeDataString(taskId)}/status", null, ct);

    /// <summary>
    /// Opens the live link <c>/ws/agents/{id}</c>: the agent's own link when signed in as that agent, the observer link
    /// when signed in as its owner or an admin. The first frame is <c>welcome</c>.
    /// </summary>
    /// <exception cref="HubLinkClosedException">The hub refused the link (4003 bad token, 4001 not permitted or unknown agent).</exception>
    public Task<HubLink> ConnectAsync(string agentId, CancellationToken ct = default) =>
        ConnectLinkAsync($"ws/agents/{Uri.EscapeDataString(agentId)}", ct);

    /// <summary>
    /// Opens a WebSocket link at <paramref name="path"/> (relative to the base address, query allowed) with the current access token,
    /// refreshed first if needed, and waits for its <c>welcome</c> frame. Shared by the agent links and the event link.
    /// </summary>
    private async Task<HubLink> ConnectLinkAsync(string path, CancellationToken ct)
    {
        var token = await EnsureAccessTokenAsync(ct) ?? throw new InvalidOperationException("Log in first.");
        var uri = new UriBuilder(new Uri(BaseAddress, path));
        uri.Scheme = uri.Scheme == "https" ? "wss" : "ws";
        return await HubLink.ConnectAsync(uri.Uri, token, ct);
    }

    /// <summary>Sends a JSON request to a path under the base address and reads the typed answer. For routes this class has no method for yet.</summary>
    /// <typeparam name="T">The response type.</typeparam>
    /// <param name="method">The HTTP method.</param>
    /// <param name="path">The path, relative, for example <c>api/v1/agents</c>.</param>
    /// <param name="body">The JSON body, or null.</param>
    /// <param name="ct">Cancellation.</param>
    /// <param name="authenticate">Whether to send the access token (refreshing it first if needed).</param>
    /// <returns>The response.</returns>
    public Task<T> SendAsync<T>(HttpMethod method, string path, object? body, CancellationToken ct = default, bool authenticate = true) =>
        SendAsync<T>(method, path, body, null, ct, authenticate);

    private async Task<T> SendAsync<T>(
        HttpMethod method, string path, object? body, IReadOnlyDictionary<string, string>? headers, CancellationToken ct, bool authenticate = true)
    {
        for (var attempt = 0; ; attempt++)
        {
            var token = authenticate ? await EnsureAccessTokenAsync(ct) : null;
            using var response = await SendWithRetryAsync(() =>
            {
                var request = new HttpRequestMessage(method, new Uri(BaseAddress, path));
                foreach (var (name, value) in headers ?? new Dictionary<string, string>())
                {
                    request.Headers.TryAddWithoutValidation(name, value);
                }
                if (body is not null)
                {
                    request.Content = JsonContent.Create(body, body.GetType(), options: KaiJson.Options);
                }
                if (token is not null)
                {
                    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                }
                return request;
            }, ct);
            if (response.StatusCode == HttpStatusCode.Unauthorized && authenticate && attempt == 0 && (_refreshToken is not null || _clientCredentials is not null))
            {
                _accessExpires = DateTimeOffset.MinValue;
                continue;
            }
            return await ReadAsync<T>(response, ct);
        }
    }

    /// <summary>
    /// Sends a fresh request from <paramref name="create"/> (a request message cannot be sent twice), retrying 429s after their
    /// <c>Retry-After</c>, and records the <c>X-RateLimit-*</c> headers. The last answer is returned, a 429 included.
    /// </summary>
    private async Task<HttpResponseMessage> SendWithRetryAsync(Func<HttpRequestMessage> create, CancellationToken ct) =>
        await _rateLimitRetry.ExecuteAsync(async (state, token) =>
        {
            using var request = state.create();
            var response = await state.self._http.SendAsync(request, token);
            if (RateLimitInfo.From(response) is { } info)
            {
                Volatile.Write(ref state.self._lastRateLimit, info);
            }
            return response;
        }, (create, self: this), ct);

    /// <summary>The wait a 429 asks for: <c>Retry-After</c> as seconds or a date; 1 second when absent.</summary>
    private TimeSpan RetryAfterOf(HttpResponseMessage response) =>
        response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta < TimeSpan.Zero ? TimeSpan.Zero : delta,
            { Date: { } date } => date - _time.GetUtcNow() is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero,
            _ => TimeSpan.FromSeconds(1),
        };

    /// <summary>
    /// Forgets the access token's expiry so the next call or connect fetches a new one. Used after a link closed with 4002 (token expired or
    /// session revoked): the token may look valid by its <c>exp</c> and still be refused.
    /// </summary>
    internal void ExpireAccessToken()
    {
        if (_refreshToken is not null || _clientCredentials is not null)
        {
            _accessExpires = DateTimeOffset.MinValue;
        }
    }

    private async Task<string?> EnsureAccessTokenAsync(CancellationToken ct)
    {
        if (_accessToken is not null && _time.GetUtcNow() + RefreshMargin < _accessExpires)
        {
            return _accessToken;
        }
        if (_refreshToken is null && _clientCredentials is null)
        {
            return _accessToken;
        }
        await _refreshLock.WaitAsync(ct);
        try
        {
            if (_accessToken is not null && _time.GetUtcNow() + RefreshMargin < _accessExpires)
            {
                return _accessToken;
            }
            if (_clientCredentials is not null)
            {
                await FetchClientTokenAsync(ct);
            }
            else
            {
                await RefreshCoreAsync(ct);
            }
            return _accessToken;
        }
        finally
        {
            _refreshLock.Release();
        }
    }

    private TokenResponse? _lastTokens;

    private void Accept(TokenResponse tokens)
    {
        _lastTokens = tokens;
        _accessToken = tokens.AccessToken;
        _refreshToken = tokens.RefreshToken;
        _accessExpires = _time.GetUtcNow().AddSeconds(tokens.ExpiresIn);
        TokensChanged?.Invoke(tokens);
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken ct)
    {
        if (response.IsSuccessStatusCode)
        {
            return await response.Content.ReadFromJsonAsync<T>(KaiJson.Options, ct)
                ?? throw new HubApiException("EMPTY_RESPONSE", "The hub answered with an empty body.", (int)response.StatusCode);
        }
        JsonElement body = default;
        try
        {
            body = await response.Content.ReadFromJsonAsync<JsonElement>(KaiJson.Options, ct);
        }
        catch (JsonException)
        {
            // Not JSON (a proxy's page, say): fall through to a generic error.
        }
        if (body.ValueKind == JsonValueKind.Object)
        {
            if (body.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object
                && error.Deserialize<ErrorBody>(KaiJson.Options) is { Code: not null } e)
            {
                throw new HubApiException(e.Code, e.Message, (int)response.StatusCode, e.Details, e.CorrelationId);
            }
            // The AgentConnect routes under /api (seed 003) answer {detail, code, timestamp, errors?}.
            if (body.TryGetProperty("code", out var code) && code.ValueKind == JsonValueKind.String
                && body.TryGetProperty("detail", out var detail) && detail.ValueKind == JsonValueKind.String)
            {
                throw new HubApiException(code.GetString()!, detail.GetString()!, (int)response.StatusCode,
                    body.TryGetProperty("errors", out var errors) ? errors.Clone() : null);
            }
        }
        throw new HubApiException("HTTP_" + (int)response.StatusCode, response.ReasonPhrase ?? "request failed", (int)response.StatusCode);
    }

    private static DateTimeOffset? ExpiryOf(string jwt)
    {
        var parts = jwt.Split('.');
        if (parts.Length != 3)
        {
            return null;
        }
        try
        {
            var payload = parts[1].Replace('-', '+').Replace('_', '/');
            payload = payload.PadRight(payload.Length + ((4 - (payload.Length % 4)) % 4), '=');
            using var doc = JsonDocument.Parse(Convert.FromBase64String(payload));
            return doc.RootElement.TryGetProperty("exp", out var exp) ? DateTimeOffset.FromUnixTimeSeconds(exp.GetInt64()) : null;
        }
        catch (Exception ex) when (ex is FormatException or JsonException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
        _refreshLock.Dispose();
    }
}
