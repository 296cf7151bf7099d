using Kai.Protocol.Chat;

namespace Kai.Client;

public sealed partial class HubClient
{
    /// <summary>The configured LLM providers and their models, by name: <c>GET /api/chat/providers</c> (seed 003).</summary>
    /// <param name="ct">Cancellation.</param>
    /// <returns>A map from provider name to its models; empty when the hub has no provider configured (<c>Kai:Providers</c>).</returns>
    /// <exception cref="HubApiException">401 without a valid token; 403 without <c>agent.create</c>.</exception>
    public Task<Dictionary<string, ChatProviderView>> ListChatProvidersAsync(CancellationToken ct = default) =>
        SendAsync<Dictionary<string, ChatProviderView>>(HttpMethod.Get, "api/chat/providers", null, ct);

    /// <summary>Creates a chat session: <c>POST /api/chat/sessions/create</c> (seed 003 <c>CreateSessionRequest</c>).</summary>
    /// <param name="request">The session type and its participants (<c>ai_agent</c>, or <c>agent1</c> and <c>agent2</c>).</param>
    /// <param name="ct">Cancellation.</param>
    /// <returns>The session, <c>status</c> <c>active</c>; open its link with <see cref="ConnectChatAsync"/>.</returns>
    /// <exception cref="HubApiException">
    /// 422 <c>VALIDATION_ERROR</c> (unknown provider or model, wrong number of agents for the type, bad metadata); 404 <c>AGENT_NOT_FOUND</c>
    /// for a registry participant the caller may not reach; 429 once the session-creation rate limit is spent.
    /// </exception>
    public Task<ChatSessionResponse> CreateChatSessionAsync(CreateChatSessionRequest request, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return SendAsync<ChatSessionResponse>(HttpMethod.Post, "api/chat/sessions/create", request, ct);
    }

    /// <summary>A chat session: <c>GET /api/chat/sessions/{session_id}</c>, with its first 1,000 messages when <paramref name="includeMessages"/>.</summary>
    /// <param name="sessionId">The session id.</param>
    /// <param name="includeMessages">Whether to include the history (oldest first).</param>
    /// <param name="ct">Cancellation.</param>
    /// <returns>The session.</returns>
    /// <exception cref="HubApiException">404 <c>NOT_FOUND</c> for an unknown session or another user's.</exception>
    public Task<ChatSessionResponse> GetChatSessionAsync(string sessionId, bool includeMessages = false, CancellationToken ct = default) =>
        SendAsync<ChatSessionResponse>(HttpMethod.Get,
            $"api/chat/sessions/{Uri.EscapeDataString(sessionId)}" + (includeMessages ? "?include_messages=true" : ""), null, ct);

    /// <summary>Ends a chat session: <c>DELETE /api/chat/sessions/{session_id}</c>. Its links get a <c>system</c> message and close; its history stays readable.</summary>
    /// <param name="sessionId">The session id.</param>
    /// <param name="ct">Cancellation.</param>
    /// <returns><c>{status: "success", message: "Session ended"}</c>.</returns>
    /// <exception cref="HubApiException">404 <c>NOT_FOUND</c> for an unknown session or another user's.</exception>
    public Task<ChatStatusResponse> EndChatSessionAsync(string sessionId, CancellationToken ct = default) =>
        SendAsync<ChatStatusResponse>(HttpMethod.Delete, $"api/chat/sessions/{Uri.EscapeDataString(sessionId)}", null, ct);

    /// <summary>
    /// Opens the chat WebSocket <c>/api/chat/ws/{session_id}</c> with the current access token (refreshed first if needed). The hub's first
    /// message is <c>system</c> "Connected to session."; an agent_agent session whose metadata has a <c>topic</c> starts talking then.
    /// </summary>
    /// <param name="sessionId">The session id.</param>
    /// <param name="heartbeat">How often the link sends its own <c>ping</c>; 20 s when null.</param>
    /// <param name="ct">Cancellation.</param>
    /// <returns>The open link. A refused link is closed at once: read <see cref="ChatLink.CloseCode"/> after <see cref="ChatLink.ReadAllAsync"/> ends.</returns>
    /// <exception cref="InvalidOperationException">Not logged in.</exception>
    /// <exception cref="System.Net.WebSockets.WebSocketException">The hub could not be reached or refused the upgrade.</exception>
    public async Task<ChatLink> ConnectChatAsync(string sessionId, TimeSpan? heartbeat = null, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(sessionId);
        var token = await EnsureAccessTokenAsync(ct) ?? throw new InvalidOperationException("Log in first.");
        var uri = new UriBuilder(new Uri(BaseAddress, $"api/chat/ws/{Uri.EscapeDataString(sessionId)}"));
        uri.Scheme = uri.Scheme == "https" ? "wss" : "ws";
        return await ChatLink.ConnectAsync(uri.Uri, token, sessionId, heartbeat, ct);
    }
}
