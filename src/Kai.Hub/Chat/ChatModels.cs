using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kai.Hub.Chat;

/// <summary>Seed 003 session types.</summary>
internal static class SessionTypes
{
    public const string HumanAgent = "human_agent";
    public const string AgentAgent = "agent_agent";
}

/// <summary>The provider name that makes a participant an agent of the registry (its id in <c>agent_id</c> or <c>model</c>).</summary>
internal static class ChatProviders
{
    public const string Registry = "kai";
}

/// <summary><c>POST /api/chat/sessions/create</c> body (seed 003 <c>CreateSessionRequest</c>).</summary>
internal sealed record CreateSessionRequest(
    string? SessionType, Dictionary<string, ParticipantRequest?>? Agents, IReadOnlyList<string>? InteractionModes, JsonElement? Metadata);

/// <summary>One participant: <c>{provider, model?, capabilities?, personality?, metadata?}</c>; for provider <c>kai</c>, <c>agent_id</c> (or <c>model</c>) names the registry agent.</summary>
internal sealed record ParticipantRequest(
    string? Provider, string? Model, IReadOnlyList<string>? Capabilities, string? Personality, JsonElement? Metadata, string? AgentId);

/// <summary>A participant as answered (seed 003 <c>SessionResponse.agents[key]</c>).</summary>
internal sealed record SessionAgent(string AgentId, string Provider, string Model, IReadOnlyList<string> Capabilities, string? Personality, string Status)
{
    /// <summary>Whether the hub runs this participant itself (a configured LLM provider) rather than a registry agent.</summary>
    [JsonIgnore]
    public bool IsHosted => Provider != ChatProviders.Registry;
}

/// <summary>Seed 003 <c>SessionResponse</c>, with the history when asked for (<c>?include_messages=true</c>).</summary>
internal sealed record SessionResponse(
    string SessionId, string Type, DateTimeOffset CreatedAt, string Status, string SessionType, IReadOnlyDictionary<string, SessionAgent> Agents,
    JsonElement? Metadata, IReadOnlyList<ChatMessageView>? Messages = null, DateTimeOffset? EndedAt = null);

/// <summary>One message of a session's history: the chat frame as it was broadcast.</summary>
internal sealed record ChatMessageView(
    string MessageId, string Type, string Content, string Sender, string Receiver, DateTimeOffset Timestamp, JsonElement? Metadata);

/// <summary><c>GET /api/v1/chat/sessions/{id}/messages</c>: a page of the history, oldest first.</summary>
internal sealed record ChatMessagePage(IReadOnlyList<ChatMessageView> Messages, long? NextCursor, bool HasMore);

/// <summary>A stored session.</summary>
internal sealed record ChatSessionRow(
    string SessionId, string OwnerId, string SessionType, string Status, IReadOnlyDictionary<string, SessionAgent> Agents, string? MetadataJson,
    DateTimeOffset CreatedAt, DateTimeOffset? EndedAt, string? EndReason)
{
    public const string Active = "active";
    public const string Ended = "ended";

    public string HumanId => "human_" + SessionId;

    public bool IsActive => Status == Active;
}

/// <summary>A hosted participant of a session, with what it said: the agent routes show it as seed 003 <c>AgentStatus</c>.</summary>
internal sealed record ChatParticipant(ChatSessionRow Session, SessionAgent Agent, int MessageCount, DateTimeOffset LastActive);

/// <summary>A stored message.</summary>
internal sealed record ChatMessageRow(
    long Seq, string MessageId, string SessionId, string Type, string Sender, string Receiver, string Content, string? MetadataJson, DateTimeOffset CreatedAt);

/// <summary><c>POST /api/agents/{agent_id}/message</c> body (seed 003 <c>AgentMessageRequest</c>).</summary>
internal sealed record AgentMessageRequest(string? ReceiverId, string? Content, string? MessageType, JsonElement? StructuredData, JsonElement? Metadata);

/// <summary>Seed 003 <c>AgentMessageResponse</c>.</summary>
internal sealed record AgentMessageResponse(string Status, string MessageId, string Sender, string Receiver, DateTimeOffset Timestamp);

/// <summary>Seed 003 <c>AgentStatus</c>.</summary>
internal sealed record AgentConnectStatus(
    string AgentId, string AgentType, string? Name, string Status, DateTimeOffset LastActive, IReadOnlyList<string> Capabilities,
    IReadOnlyList<string> InteractionModes, string OwnerId, bool IsRunning, int MessageCount, IReadOnlyDictionary<string, object?> Metadata);

/// <summary>Seed 003 <c>AgentListResponse</c>.</summary>
internal sealed record AgentConnectList(IReadOnlyList<AgentConnectStatus> Agents, DateTimeOffset Timestamp, int TotalCount, int UserOwnedCount);

/// <summary>The reference client's <c>getAgentCapabilities</c> answer.</summary>
internal sealed record AgentCapabilities(
    string AgentId, string AgentType, IReadOnlyList<string> Capabilities, IReadOnlyList<string> InteractionModes, string? Personality, string OwnerId, DateTimeOffset Timestamp);

/// <summary>One provider of <c>GET /api/chat/providers</c> (the reference client's <c>Provider</c>): a map of these by name.</summary>
internal sealed record ChatProviderView(string Name, IReadOnlyList<string> Models, string? DefaultModel);

/// <summary>Seed 003 <c>Token</c>.</summary>
internal sealed record AgentConnectToken(string AccessToken, string TokenType, long ExpiresIn);

/// <summary>Seed 003 <c>TokenVerification</c>.</summary>
internal sealed record TokenVerification(bool Valid, string User, string Type, long Exp, long Iat, DateTimeOffset Timestamp);

/// <summary>Seed 003 <c>DeleteSessionResponse</c> (always with a JSON body: the reference client parses every answer).</summary>
internal sealed record StatusResponse(string Status, string? Message = null);
