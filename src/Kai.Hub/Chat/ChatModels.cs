using System.Text.Json;
using Kai.Protocol.Chat;

namespace Kai.Hub.Chat;

/// <summary>What the hub reads of a participant.</summary>
internal static class ChatSessionAgents
{
    /// <summary>Whether the hub runs this participant itself (a configured LLM provider) rather than a registry agent.</summary>
    public static bool IsHosted(this ChatSessionAgent agent) => agent.Provider != ChatProviderNames.Registry;
}

/// <summary>A stored session.</summary>
internal sealed record ChatSessionRow(
    string SessionId, string OwnerId, string SessionType, string Status, IReadOnlyDictionary<string, ChatSessionAgent> Agents, string? MetadataJson,
    DateTimeOffset CreatedAt, DateTimeOffset? EndedAt, string? EndReason)
{
    public const string Active = "active";
    public const string Ended = "ended";

    public string HumanId => "human_" + SessionId;

    public bool IsActive => Status == Active;
}

/// <summary>A hosted participant of a session, with what it said: the agent routes show it as seed 003 <c>AgentStatus</c>.</summary>
internal sealed record ChatParticipant(ChatSessionRow Session, ChatSessionAgent Agent, int MessageCount, DateTimeOffset LastActive);

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

/// <summary>Seed 003 <c>Token</c>.</summary>
internal sealed record AgentConnectToken(string AccessToken, string TokenType, long ExpiresIn);

/// <summary>Seed 003 <c>TokenVerification</c>.</summary>
internal sealed record TokenVerification(bool Valid, string User, string Type, long Exp, long Iat, DateTimeOffset Timestamp);

