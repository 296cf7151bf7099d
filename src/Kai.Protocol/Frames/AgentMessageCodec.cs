using System.Text.Json;

namespace Kai.Protocol.Frames;

/// <summary>
/// The fields of an <c>agent_message</c> payload sent by an agent (<see cref="AgentMessageSend"/>, seed 000 <c>agentMessage</c>), read
/// by <see cref="AgentMessageCodec.Read"/>. <c>content</c> is not bound: it is the range of the payload's bytes that holds it.
/// </summary>
/// <param name="ToAgent">The <c>to_agent</c> string, or <see langword="null"/> when absent or JSON <c>null</c>.</param>
/// <param name="MessageType">The <c>message_type</c> string, or <see langword="null"/>.</param>
/// <param name="RequiresResponse">The <c>requires_response</c> flag; false when absent.</param>
/// <param name="CorrelationId">The <c>correlation_id</c> string, or <see langword="null"/>.</param>
/// <param name="ContentStart">Where the <c>content</c> value starts in the payload bytes; -1 when there is none.</param>
/// <param name="ContentLength">The length of the <c>content</c> value in bytes (0 when there is none).</param>
public readonly record struct AgentMessageFields(
    string? ToAgent, string? MessageType, bool RequiresResponse, string? CorrelationId, int ContentStart, int ContentLength);

/// <summary>
/// The one-pass codec of the hub's busiest path, agent-to-agent <c>agent_message</c> (seed 000): one reader pass over the sent payload,
/// and one writer pass that makes the delivery frame with <c>content</c> copied byte for byte. It gives the same JSON as binding
/// <see cref="AgentMessageSend"/> and encoding <see cref="AgentMessageDelivery"/> with <see cref="Frame.Encode{T}"/>, without the
/// intermediate documents (measured in docs/benchmarks.md, "Hot path").
/// </summary>
public static class AgentMessageCodec
{
    /// <summary>Reads the payload of a sent <c>agent_message</c>. Unknown properties are ignored; of a repeated one the last wins.</summary>
    /// <param name="payload">The payload's UTF-8 JSON (<see cref="InboundFrame.PayloadUtf8"/>), a JSON object.</param>
    /// <returns>The fields; lengths and presence are the caller's to validate.</returns>
    /// <exception cref="JsonException">The payload is not an object, or <c>to_agent</c>, <c>message_type</c> or <c>correlation_id</c> is not a
    /// string, or <c>requires_response</c> is not a boolean.</exception>
    public static AgentMessageFields Read(ReadOnlySpan<byte> payload)
    {
        var reader = new Utf8JsonReader(payload);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("The payload must be a JSON object.");
        }
        string? to = null, messageType = null, correlationId = null;
        var requiresResponse = false;
        int contentStart = -1, contentLength = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("to_agent"u8))
            {
                to = String(ref reader, "to_agent");
            }
            else if (reader.ValueTextEquals("message_type"u8))
            {
                messageType = String(ref reader, "message_type");
            }
            else if (reader.ValueTextEquals("correlation_id"u8))
            {
                correlationId = String(ref reader, "correlation_id");
            }
            else if (reader.ValueTextEquals("requires_response"u8))
            {
                reader.Read();
                requiresResponse = reader.TokenType switch
                {
                    JsonTokenType.True => true,
                    JsonTokenType.False => false,
                    _ => throw new JsonException("'requires_response' must be true or false."),
                };
            }
            else if (reader.ValueTextEquals("content"u8))
            {
                reader.Read();
                contentStart = (int)reader.TokenStartIndex;
                reader.Skip();
                contentLength = (int)reader.BytesConsumed - contentStart;
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        return new AgentMessageFields(to, messageType, requiresResponse, correlationId, contentStart, contentLength);
    }

    /// <summary>
    /// Writes the <c>agent_message</c> frame delivered to the target: <c>{"type":"agent_message","timestamp","payload":{"from_agent",
    /// "message_type","content","requires_response","correlation_id"?}}</c> (<see cref="AgentMessageDelivery"/>); <c>content</c> is
    /// JSON <c>null</c> when the sender gave none.
    /// </summary>
    /// <param name="fromAgent">The sender, as the hub authenticated it.</param>
    /// <param name="message">The fields <see cref="Read"/> returned for <paramref name="payload"/>.</param>
    /// <param name="payload">The same payload bytes, for <c>content</c>.</param>
    /// <param name="timestamp">The frame's timestamp (written as ISO 8601 UTC).</param>
    /// <returns>The UTF-8 bytes of the frame.</returns>
    public static byte[] WriteDelivery(string fromAgent, in AgentMessageFields message, ReadOnlySpan<byte> payload, DateTimeOffset timestamp)
    {
        var writer = Frame.BeginEncode(FrameTypes.AgentMessage, null, timestamp);
        writer.WriteStartObject();
        writer.WriteString("from_agent"u8, fromAgent);
        if (message.MessageType is not null)
        {
            writer.WriteString("message_type"u8, message.MessageType);
        }
        writer.WritePropertyName("content"u8);
        if (message.ContentStart < 0)
        {
            writer.WriteNullValue();
        }
        else
        {
            // Read already validated these bytes as one JSON value.
            writer.WriteRawValue(payload.Slice(message.ContentStart, message.ContentLength), skipInputValidation: true);
        }
        writer.WriteBoolean("requires_response"u8, message.RequiresResponse);
        if (message.CorrelationId is not null)
        {
            writer.WriteString("correlation_id"u8, message.CorrelationId);
        }
        writer.WriteEndObject();
        return Frame.EndEncode(writer);
    }

    private static string? String(ref Utf8JsonReader reader, string name)
    {
        reader.Read();
        return reader.TokenType switch
        {
            JsonTokenType.String => JsonStrings.Get(ref reader, name),
            JsonTokenType.Null => null,
            _ => throw new JsonException($"'{name}' must be a string."),
        };
    }
}
