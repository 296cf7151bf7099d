using System.Text.Json;

namespace Kai.Protocol.Chat;

/// <summary>The two session types of seed 003 (AgentConnect) <c>CreateSessionRequest.session_type</c>.</summary>
public static class ChatSessionTypes
{
    /// <summary>A human talks with one agent, keyed <c>ai_agent</c> in <see cref="CreateChatSessionRequest.Agents"/>.</summary>
    public const string HumanAgent = "human_agent";

    /// <summary>Two agents, keyed <c>agent1</c> and <c>agent2</c>, talk with each other on a topic while the human watches.</summary>
    public const string AgentAgent = "agent_agent";
}

/// <summary>The provider name that makes a participant an agent of the caller's registry (<see cref="ChatParticipantRequest.Provider"/>).</summary>
public static class ChatProviderNames
{
    /// <summary><c>kai</c>: the participant is the registry agent named by <see cref="ChatParticipantRequest.AgentId"/> (or its <c>model</c>), reached through its own link.</summary>
    public const string Registry = "kai";
}

/// <summary>
/// The <c>type</c> of a message on the chat WebSocket <c>/api/chat/ws/{session_id}</c> (seed 003 "WebSocket Protocol", and what the
/// reference client's <c>hooks/useWebSocket.ts</c> reads).
/// </summary>
public static class ChatFrameTypes
{
    /// <summary>A message. From the client: the human's words (in an <c>agent_agent</c> session, the topic). From the hub: an agent's answer or turn.</summary>
    public const string Text = "text";

    /// <summary>Seed 003's other name for an agent's answer; the hub sends <see cref="Text"/>, and clients should accept both.</summary>
    public const string Response = "response";

    /// <summary>Keep-alive: the hub sends <c>{"type":"ping","timestamp"}</c> on accept and every 30 s; a client's ping is accepted silently.</summary>
    public const string Ping = "ping";

    /// <summary>A refused frame or a failed turn: <c>content</c> is the message, <c>metadata{code, details}</c> the error code (<see cref="ErrorCodes"/>).</summary>
    public const string Error = "error";

    /// <summary>
    /// Progress the reference client ignores: a streamed chunk of an answer (<c>metadata{stream: true, index, reply_to}</c>, the chunks of
    /// one answer add up to its <see cref="Text"/>), or a notice such as "The agents start talking." (<c>metadata{max_turns, goal_marker}</c>).
    /// </summary>
    public const string Info = "info";

    /// <summary>The session's state: "Connected to session." on accept; the end of a session or an exchange (<c>metadata{reason, turns?}</c>).</summary>
    public const string System = "system";

    /// <summary>From the client: stop the agents of an <c>agent_agent</c> session. From the hub: the exchange stopped.</summary>
    public const string Stop = "stop";

    /// <summary>The participant's LLM provider is rate limited: <c>metadata{cooldown_until, provider, model, code}</c>; the link stays open.</summary>
    public const string Cooldown = "cooldown";
}

/// <summary>
/// Body of <c>POST /api/chat/sessions/create</c> (seed 003 <c>CreateSessionRequest</c>).
/// Errors: 422 <c>VALIDATION_ERROR</c> for an unknown session type, provider or model, or the wrong number of agents for the type; 404
/// <c>AGENT_NOT_FOUND</c> for a registry agent (provider <c>kai</c>) the caller may not reach.
/// </summary>
/// <param name="SessionType"><see cref="ChatSessionTypes.HumanAgent"/> or <see cref="ChatSessionTypes.AgentAgent"/>.</param>
/// <param name="Agents">The participants by key: <c>ai_agent</c> for a human_agent session, <c>agent1</c> and <c>agent2</c> for agent_agent.</param>
/// <param name="InteractionModes">Optional seed 003 interaction modes, for example <c>human_to_agent</c>.</param>
/// <param name="Metadata">
/// Optional JSON object kept with the session. The hub reads <c>max_turns</c> (an agent_agent exchange's turn limit, at most the hub's
/// <c>Kai:Chat:MaxTurns</c>) and <c>topic</c> (an agent_agent session whose topic is set starts talking when its first link opens).
/// </param>
public sealed record CreateChatSessionRequest(
    string? SessionType, Dictionary<string, ChatParticipantRequest?>? Agents, IReadOnlyList<string>? InteractionModes = null, JsonElement? Metadata = null);

/// <summary>One participant of <see cref="CreateChatSessionRequest.Agents"/>: <c>{provider, model?, capabilities?, personality?, metadata?}</c> (seed 003).</summary>
/// <param name="Provider">A configured LLM provider (<c>GET /api/chat/providers</c>): the hub runs the participant itself. Or <c>kai</c>: an agent of the registry, named by <paramref name="AgentId"/> (or <paramref name="Model"/>).</param>
/// <param name="Model">The provider's model; its default model when null.</param>
/// <param name="Capabilities">Capabilities shown for the participant, for example <c>conversation</c>.</param>
/// <param name="Personality">A hosted participant's personality, sent to the model as its system prompt.</param>
/// <param name="Metadata">Optional JSON object kept with the participant.</param>
/// <param name="AgentId">For provider <c>kai</c>: the registry agent's id.</param>
public sealed record ChatParticipantRequest(
    string? Provider, string? Model = null, IReadOnlyList<string>? Capabilities = null, string? Personality = null, JsonElement? Metadata = null, string? AgentId = null);

/// <summary>A participant as the hub answers it (seed 003 <c>SessionResponse.agents[key]</c>).</summary>
/// <param name="AgentId">Who the participant is on the chat link: <c>ai1_{session}</c> (and <c>ai2_{session}</c> for agent2) for hosted ones, the registry id otherwise; the <c>sender</c> of its messages.</param>
/// <param name="Provider">The provider, or <c>kai</c> for a registry agent.</param>
/// <param name="Model">The model in use (the provider's default when none was asked for).</param>
/// <param name="Capabilities">The participant's capabilities.</param>
/// <param name="Personality">The personality, if any.</param>
/// <param name="Status"><c>active</c> while the session runs.</param>
public sealed record ChatSessionAgent(string AgentId, string Provider, string Model, IReadOnlyList<string> Capabilities, string? Personality, string Status);

/// <summary>
/// Answer of <c>POST /api/chat/sessions/create</c> and <c>GET /api/chat/sessions/{session_id}[?include_messages=true]</c> (seed 003 <c>SessionResponse</c>).
/// A session of another user is 404 <c>NOT_FOUND</c>, as one that does not exist.
/// </summary>
/// <param name="SessionId">The id, <c>session_{yyyyMMddHHmmss}_{8 hex digits}</c>.</param>
/// <param name="Type">The same as <paramref name="SessionType"/> (the reference client reads either).</param>
/// <param name="CreatedAt">When the session was created (ISO 8601 UTC).</param>
/// <param name="Status"><c>active</c> or <c>ended</c>.</param>
/// <param name="SessionType"><see cref="ChatSessionTypes.HumanAgent"/> or <see cref="ChatSessionTypes.AgentAgent"/>.</param>
/// <param name="Agents">The participants by the keys of the request.</param>
/// <param name="Metadata">The request's metadata.</param>
/// <param name="Messages">The history, oldest first, with <c>?include_messages=true</c> (the first 1,000; page the rest with <c>GET /api/v1/chat/sessions/{id}/messages</c>).</param>
/// <param name="EndedAt">When the session ended, if it has.</param>
public sealed record ChatSessionResponse(
    string SessionId, string Type, DateTimeOffset CreatedAt, string Status, string SessionType, IReadOnlyDictionary<string, ChatSessionAgent> Agents,
    JsonElement? Metadata, IReadOnlyList<ChatMessageView>? Messages = null, DateTimeOffset? EndedAt = null);

/// <summary>One message of a session's history: the chat frame as it was broadcast (or, for the human's words, as it was received).</summary>
/// <param name="MessageId">The message id.</param>
/// <param name="Type">A <see cref="ChatFrameTypes"/> value, <c>text</c> for words.</param>
/// <param name="Content">The text.</param>
/// <param name="Sender">Who said it: <c>human_{session}</c> or a participant's <see cref="ChatSessionAgent.AgentId"/>.</param>
/// <param name="Receiver">Who it was for.</param>
/// <param name="Timestamp">When it was stored (ISO 8601 UTC).</param>
/// <param name="Metadata">For example <c>{role, provider, model}</c>.</param>
public sealed record ChatMessageView(
    string MessageId, string Type, string Content, string Sender, string Receiver, DateTimeOffset Timestamp, JsonElement? Metadata);

/// <summary>Answer of <c>GET /api/v1/chat/sessions/{session_id}/messages?after=&amp;limit=</c>: a page of the history, oldest first.</summary>
/// <param name="Messages">The page.</param>
/// <param name="NextCursor">Pass as <c>after</c> for the next page; null on the last page.</param>
/// <param name="HasMore">Whether there is a next page.</param>
public sealed record ChatMessagePage(IReadOnlyList<ChatMessageView> Messages, long? NextCursor, bool HasMore);

/// <summary>One provider of <c>GET /api/chat/providers</c>, whose answer is a JSON object of these by provider name (the reference client's <c>Provider</c>).</summary>
/// <param name="Name">The provider's name, as in <see cref="ChatParticipantRequest.Provider"/>.</param>
/// <param name="Models">The models a participant may ask for.</param>
/// <param name="DefaultModel">The model used when none is asked for.</param>
public sealed record ChatProviderView(string Name, IReadOnlyList<string> Models, string? DefaultModel);

/// <summary>Answer of <c>DELETE /api/chat/sessions/{session_id}</c> (seed 003 <c>DeleteSessionResponse</c>): always a JSON body, never 204.</summary>
/// <param name="Status"><c>success</c>.</param>
/// <param name="Message">For example <c>Session ended</c>.</param>
public sealed record ChatStatusResponse(string Status, string? Message = null);

/// <summary>
/// One message the hub sends on the chat WebSocket <c>/api/chat/ws/{session_id}</c>, as a client reads it (seed 003 "WebSocket Protocol"):
/// <c>{type, content, sender?, receiver?, timestamp, metadata?}</c>.
/// </summary>
/// <param name="Type">A <see cref="ChatFrameTypes"/> value.</param>
/// <param name="Content">The text (for an error, its message).</param>
/// <param name="Sender">A participant's <see cref="ChatSessionAgent.AgentId"/>, or absent for the hub's own notices.</param>
/// <param name="Receiver">Who it is for (<c>human_{session}</c>, or the other agent of an agent_agent session).</param>
/// <param name="Timestamp">When the hub sent it (ISO 8601 UTC).</param>
/// <param name="Metadata">Type-specific fields; see each <see cref="ChatFrameTypes"/> value.</param>
public sealed record ChatSocketMessage(string Type, string? Content, string? Sender, string? Receiver, DateTimeOffset? Timestamp, JsonElement? Metadata);
