using System.Text.Json;
using System.Text.Json.Serialization;
using Kai.Protocol.Events;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;

namespace Kai.Protocol;

/// <summary>Source-generated JSON metadata for every wire type, with the settings of <see cref="KaiJson"/>.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    Converters = [typeof(UtcDateTimeOffsetConverter)])]
[JsonSerializable(typeof(Frame))]
[JsonSerializable(typeof(ErrorPayload))]
[JsonSerializable(typeof(WelcomePayload))]
[JsonSerializable(typeof(HeartbeatPayload))]
[JsonSerializable(typeof(AgentMessageSend))]
[JsonSerializable(typeof(AgentMessageDelivery))]
[JsonSerializable(typeof(CommandPayload))]
[JsonSerializable(typeof(CommandRequest))]
[JsonSerializable(typeof(CommandResultPayload))]
[JsonSerializable(typeof(LogPayload))]
[JsonSerializable(typeof(StatusReport))]
[JsonSerializable(typeof(StatusUpdatePayload))]
[JsonSerializable(typeof(ErrorEnvelope))]
[JsonSerializable(typeof(RegisterRequest))]
[JsonSerializable(typeof(RegisterResponse))]
[JsonSerializable(typeof(LoginRequest))]
[JsonSerializable(typeof(RefreshRequest))]
[JsonSerializable(typeof(TokenResponse))]
[JsonSerializable(typeof(ClientTokenResponse))]
[JsonSerializable(typeof(LogoutResponse))]
[JsonSerializable(typeof(SessionInfo))]
[JsonSerializable(typeof(RegisterAgentRequest))]
[JsonSerializable(typeof(CreateAgentRequest))]
[JsonSerializable(typeof(AgentCreatedResponse))]
[JsonSerializable(typeof(AgentView))]
[JsonSerializable(typeof(AgentListResponse))]
[JsonSerializable(typeof(UpdateAgentRequest))]
[JsonSerializable(typeof(UpdateAgentResponse))]
[JsonSerializable(typeof(DeleteAgentResponse))]
[JsonSerializable(typeof(AgentStatusResponse))]
[JsonSerializable(typeof(HeartbeatRequest))]
[JsonSerializable(typeof(HeartbeatResponse))]
[JsonSerializable(typeof(RestartRequest))]
[JsonSerializable(typeof(RestartResponse))]
[JsonSerializable(typeof(SendCommandRequest))]
[JsonSerializable(typeof(CommandResponse))]
[JsonSerializable(typeof(TaskStatusResponse))]
// Events, prompt streams and logs (issue 4).
[JsonSerializable(typeof(EventPosition))]
[JsonSerializable(typeof(SubscribePayload))]
[JsonSerializable(typeof(SubscribeAck))]
[JsonSerializable(typeof(UnsubscribePayload))]
[JsonSerializable(typeof(PublishPayload))]
[JsonSerializable(typeof(PublishAck))]
[JsonSerializable(typeof(EventMessage))]
[JsonSerializable(typeof(GapPayload))]
[JsonSerializable(typeof(EventLinkWelcome))]
[JsonSerializable(typeof(EventPollResponse))]
[JsonSerializable(typeof(StreamPromptRequest))]
[JsonSerializable(typeof(StreamPromptResponse))]
[JsonSerializable(typeof(StreamPromptPayload))]
[JsonSerializable(typeof(StreamChunkPayload))]
[JsonSerializable(typeof(StreamControlPayload))]
[JsonSerializable(typeof(StreamResumePayload))]
[JsonSerializable(typeof(StreamResumeAck))]
[JsonSerializable(typeof(LogEntry))]
[JsonSerializable(typeof(LogsResponse))]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(Dictionary<string, string[]>))]
public sealed partial class KaiJsonContext : JsonSerializerContext;
