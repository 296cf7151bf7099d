using System.Buffers;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Kai.Protocol.Frames;

// The per-message JSON work of agent_message routing (src/Kai.Hub/Messaging/AgentLinkEndpoint.cs, LinkSession
// .AgentFrameAsync): parse the client frame, bind its payload, build the delivery frame and serialize it. "Current"
// calls the same Kai.Protocol methods the hub calls today; "OnePass" is the suggested replacement: one Utf8JsonReader
// pass that keeps `content` as raw bytes, and one Utf8JsonWriter pass into a pooled buffer.
BenchmarkSwitcher.FromAssembly(typeof(AgentMessagePath).Assembly).Run(args);

[MemoryDiagnoser]
public class AgentMessagePath
{
    private static readonly byte[] Inbound = Encoding.UTF8.GetBytes(
        """{"type":"agent_message","timestamp":"2026-01-01T00:00:00.000Z","payload":{"message_type":"bench","to_agent":"bench-000001","content":{"text":"hello from a","n":42}}}""");

    private readonly ArrayBufferWriter<byte> _buffer = new(512);

    [Benchmark(Baseline = true)]
    public int Current()
    {
        var frame = Frame.Parse(Inbound);
        var msg = frame.PayloadAs<AgentMessageSend>()!;
        var delivery = Frame.Create(FrameTypes.AgentMessage,
            new AgentMessageDelivery("bench-000000", msg.MessageType, msg.Content, msg.RequiresResponse, msg.CorrelationId), timestamp: DateTimeOffset.UtcNow);
        return delivery.ToUtf8().Length;
    }

    [Benchmark]
    public int OnePass()
    {
        // Read: type, then the payload fields; `content` is kept as a slice of the inbound bytes.
        var reader = new Utf8JsonReader(Inbound);
        string? toAgent = null, messageType = null;
        ReadOnlySpan<byte> content = default;
        var depth = 0;
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.StartObject)
            {
                depth++;
                continue;
            }
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                depth--;
                continue;
            }
            if (reader.TokenType != JsonTokenType.PropertyName || depth != 2)
            {
                continue;
            }
            if (reader.ValueTextEquals("to_agent"u8))
            {
                reader.Read();
                toAgent = reader.GetString();
            }
            else if (reader.ValueTextEquals("message_type"u8))
            {
                reader.Read();
                messageType = reader.GetString();
            }
            else if (reader.ValueTextEquals("content"u8))
            {
                reader.Read();
                var start = (int)reader.TokenStartIndex;
                reader.Skip();
                content = Inbound.AsSpan(start, (int)reader.BytesConsumed - start);
            }
        }
        // Write the delivery straight to UTF-8.
        _buffer.ResetWrittenCount();
        using var w = new Utf8JsonWriter(_buffer);
        w.WriteStartObject();
        w.WriteString("type"u8, "agent_message"u8);
        w.WriteString("timestamp"u8, DateTimeOffset.UtcNow.UtcDateTime);
        w.WriteStartObject("payload"u8);
        w.WriteString("from_agent"u8, "bench-000000");
        w.WriteString("message_type"u8, messageType);
        w.WritePropertyName("content"u8);
        w.WriteRawValue(content, skipInputValidation: true);
        w.WriteBoolean("requires_response"u8, false);
        w.WriteEndObject();
        w.WriteEndObject();
        w.Flush();
        return _buffer.WrittenCount + (toAgent?.Length ?? 0);
    }
}
