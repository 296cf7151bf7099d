using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kai.Protocol.Frames;

namespace Kai.Protocol.Tests;

/// <summary>
/// The one-pass reader and the agent_message codec against the serializer path they replace: the same fields, the same delivered JSON,
/// and a JsonException (never another exception) for every malformed input.
/// </summary>
public sealed class InboundFrameTests
{
    public static TheoryData<string> Frames => new()
    {
        """{"type":"agent_message","timestamp":"2026-01-01T00:00:00.000Z","payload":{"to_agent":"b","message_type":"t","content":{"text":"hi","n":42}}}""",
        """{"type":"agent_message","id":"f-1","timestamp":"2026-01-01T10:00:00+02:00","payload":{"to_agent":"b","message_type":"t","content":[1,2,{"x":null}],"requires_response":true,"correlation_id":"c-9"}}""",
        """{"payload":{"message_type":"t","to_agent":"b","content":"caf\u00e9 \"quoted\" \ud83d\ude00"},"type":"agent_message"}""",
        """{"type":"agent_message","payload":{"to_agent":"b","message_type":"t"},"extra":{"nested":[1,2,3]},"signature":"sig"}""",
        """{"type":"agent_message","payload":{"to_agent":"b","message_type":"t","content":null,"unknown":{"a":[true,false]}}}""",
        """{"type":"agent_message","payload":{"to_agent":"first","to_agent":"last","message_type":"t","content":1.5e3}}""",
        """ { "type" : "agent_message" , "timestamp" : "2026-03-04 05:06:07" , "payload" : { "to_agent" : "b" , "message_type" : "t" , "content" : { "deep" : { "er" : [ 1 , 2 ] } } } } """,
        """{"type":"agent_\u006dessage","payload":{"to_agent":"b","message_type":"t","content":true}}""",
        """{"type":"heartbeat"}""",
        """{"type":"heartbeat","payload":null,"id":null}""",
        """{"type":"custom.thing","payload":[1,2,3],"timestamp":"2026-01-01T00:00:00Z"}""",
    };

    [Theory]
    [MemberData(nameof(Frames))]
    public void Reads_the_envelope_as_the_serializer_does(string json)
    {
        var utf8 = Encoding.UTF8.GetBytes(json);
        var expected = Frame.Parse(utf8);
        var frame = InboundFrame.Parse(utf8);

        Assert.Equal(expected.Type, frame.Type);
        Assert.Equal(expected.Id, frame.Id);
        Assert.Equal(expected.Timestamp, frame.Timestamp);
        Assert.Equal(expected.Signature, frame.Signature);
        Assert.Equal(expected.Payload.ValueKind, frame.Payload.ValueKind);
        Assert.Equal(expected.Payload.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null, frame.PayloadIsNull);
        if (expected.Payload.ValueKind != JsonValueKind.Undefined)
        {
            Assert.True(JsonElement.DeepEquals(expected.Payload, frame.Payload));
            Assert.True(JsonElement.DeepEquals(expected.Payload, JsonElement.Parse(frame.PayloadUtf8.Span)));
        }
    }

    [Fact]
    public void Known_types_are_the_protocol_constants_themselves()
    {
        var frame = InboundFrame.Parse("""{"type":"agent_message","payload":{}}"""u8.ToArray());
        Assert.Same(FrameTypes.AgentMessage, frame.Type);
        Assert.Same(FrameTypes.Subscribe, InboundFrame.Parse("""{"type":"subscribe"}"""u8.ToArray()).Type);
    }

    [Theory]
    [MemberData(nameof(Frames))]
    public void Delivers_the_same_agent_message_as_binding_and_encoding_the_records(string json)
    {
        var utf8 = Encoding.UTF8.GetBytes(json);
        var frame = InboundFrame.Parse(utf8);
        if (frame.Type != FrameTypes.AgentMessage)
        {
            return;
        }
        var now = new DateTimeOffset(2026, 12, 2, 20, 0, 0, 123, TimeSpan.Zero);
        var sent = frame.PayloadAs<AgentMessageSend>()!;
        var content = sent.Content.ValueKind == JsonValueKind.Undefined ? JsonElement.Parse("null") : sent.Content;
        var expected = Frame.Encode(FrameTypes.AgentMessage,
            new AgentMessageDelivery("sender", sent.MessageType, content, sent.RequiresResponse, sent.CorrelationId), timestamp: now);

        var fields = AgentMessageCodec.Read(frame.PayloadUtf8.Span);
        var actual = AgentMessageCodec.WriteDelivery("sender", fields, frame.PayloadUtf8.Span, now);

        Assert.Equal(sent.ToAgent, fields.ToAgent);
        Assert.Equal(sent.CorrelationId, fields.CorrelationId);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), JsonNode.Parse(actual)),
            $"expected {Encoding.UTF8.GetString(expected)}\nactual   {Encoding.UTF8.GetString(actual)}");
        // The delivered frame reads back as a delivery record, content included.
        var back = Frame.Parse(actual).PayloadAs<AgentMessageDelivery>()!;
        Assert.Equal("sender", back.FromAgent);
        Assert.True(JsonElement.DeepEquals(content, back.Content));
    }

    [Theory]
    [InlineData("", "")]
    [InlineData("not json", "")]
    [InlineData("null", "A frame must be a JSON object.")]
    [InlineData("[1,2]", "A frame must be a JSON object.")]
    [InlineData("\"agent_message\"", "A frame must be a JSON object.")]
    [InlineData("{}", "A frame needs a non-empty string 'type'.")]
    [InlineData("""{"type":""}""", "A frame needs a non-empty string 'type'.")]
    [InlineData("""{"type":null}""", "A frame needs a non-empty string 'type'.")]
    [InlineData("""{"type":5}""", "A frame needs a non-empty string 'type'.")]
    [InlineData("""{"type":["heartbeat"]}""", "A frame needs a non-empty string 'type'.")]
    [InlineData("""{"type":"heartbeat","id":7}""", "A frame's 'id' must be a string.")]
    [InlineData("""{"type":"heartbeat","signature":{}}""", "A frame's 'signature' must be a string.")]
    [InlineData("""{"type":"heartbeat","timestamp":1735689600}""", "A frame's 'timestamp' must be an ISO 8601 string.")]
    [InlineData("""{"type":"heartbeat","timestamp":"yesterday"}""", "A frame's 'timestamp' must be an ISO 8601 string.")]
    [InlineData("""{"type":"heartbeat","timestamp":"2026-13-45T99:00:00Z"}""", "A frame's 'timestamp' must be an ISO 8601 string.")]
    [InlineData("""{"type":"heartbeat"} {"type":"heartbeat"}""", "")]
    [InlineData("""{"type":"heartbeat"}x""", "")]
    [InlineData("""{"type":"heartbeat","payload":{"a":1}""", "")]
    [InlineData("""{"type":"heartbeat","payload":{"a":}}""", "")]
    [InlineData("""{"type":"heartbeat",}""", "")]
    [InlineData("""{"type":"heartbeat" /* c */}""", "")]
    [InlineData("""{"type":"\udc00"}""", "'type' is not valid UTF-16: it has an unpaired surrogate escape.")]
    [InlineData("""{"type":"heartbeat","id":"a\ud800"}""", "'id' is not valid UTF-16: it has an unpaired surrogate escape.")]
    [InlineData("""{"type":"heartbeat","timestamp":"\ud800 2026-01-01T00:00:00"}""", "'timestamp' is not valid UTF-16: it has an unpaired surrogate escape.")]
    public void Malformed_frames_fail_with_a_json_error(string json, string message)
    {
        var ex = Assert.ThrowsAny<JsonException>(() => InboundFrame.Parse(Encoding.UTF8.GetBytes(json)));
        if (message.Length > 0)
        {
            Assert.Equal(message, ex.Message);
        }
        // The serializer path refuses the same inputs (with its own wording).
        Assert.ThrowsAny<JsonException>(() => Frame.Parse(Encoding.UTF8.GetBytes(json)));
    }

    [Theory]
    [InlineData("""{"type":"agent_message","payload":{"to_agent":"b","content":{"text":"hi \ud800"}}}""")]
    [InlineData("""{"type":"agent_message","payload":{"to_agent":"b","content":["\udfff"]}}""")]
    [InlineData("""{"type":"command","payload":{"\ud800key":1}}""")]
    [InlineData("""{"type":"command","payload":"\ud83d"}""")]
    public void A_lone_surrogate_anywhere_in_the_payload_is_refused_before_a_handler_keeps_it(string json)
    {
        // The serializer keeps a JsonElement payload raw (and would throw InvalidOperationException only when a handler reads
        // the string); the hub takes I-JSON, so the payload is refused when it is first read.
        // Parse keeps the envelope (so the error can carry the frame's id); every way of reading the payload refuses it.
        var frame = InboundFrame.Parse(Encoding.UTF8.GetBytes(json));
        foreach (var read in new Action[] { () => _ = frame.PayloadUtf8, () => _ = frame.Payload, () => frame.PayloadAs<JsonElement>(), () => frame.ToFrame() })
        {
            var ex = Assert.Throws<JsonException>(read);
            Assert.Equal("'payload' is not valid UTF-16: it has an unpaired surrogate escape.", ex.Message);
        }
    }

    [Theory]
    [InlineData("""{"type":"command","payload":{"emoji":"\ud83d\ude00","path":"C:\\udir","e\u00e9":"caf\u00e9"}}""")]
    [InlineData("""{"type":"command","payload":"\\ud800 is how you write a surrogate"}""")]
    public void Surrogate_pairs_other_escapes_and_escaped_backslashes_are_kept(string json)
    {
        var frame = InboundFrame.Parse(Encoding.UTF8.GetBytes(json));
        Assert.Equal(Frame.Parse(Encoding.UTF8.GetBytes(json)).Payload.GetRawText(), frame.Payload.GetRawText());
    }

    [Fact]
    public void Frames_nested_past_the_reader_depth_fail_with_a_json_error()
    {
        var deep = """{"type":"heartbeat","payload":""" + new string('[', 70) + new string(']', 70) + "}";
        Assert.ThrowsAny<JsonException>(() => InboundFrame.Parse(Encoding.UTF8.GetBytes(deep)));
    }

    [Theory]
    [InlineData("[]", "The payload must be a JSON object.")]
    [InlineData("\"b\"", "The payload must be a JSON object.")]
    [InlineData("""{"to_agent":5,"message_type":"t"}""", "'to_agent' must be a string.")]
    [InlineData("""{"to_agent":"b","message_type":{"a":1}}""", "'message_type' must be a string.")]
    [InlineData("""{"to_agent":"b","message_type":"t","correlation_id":[]}""", "'correlation_id' must be a string.")]
    [InlineData("""{"to_agent":"b","message_type":"t","requires_response":"yes"}""", "'requires_response' must be true or false.")]
    [InlineData("""{"to_agent":"b","message_type":"t","requires_response":null}""", "'requires_response' must be true or false.")]
    [InlineData("""{"to_agent":"\udc00b","message_type":"t"}""", "'to_agent' is not valid UTF-16: it has an unpaired surrogate escape.")]
    [InlineData("""{"to_agent":"b","message_type":"t\ud800"}""", "'message_type' is not valid UTF-16: it has an unpaired surrogate escape.")]
    public void Agent_message_payloads_of_the_wrong_shape_fail_with_a_json_error(string payload, string message)
    {
        var ex = Assert.ThrowsAny<JsonException>(() => AgentMessageCodec.Read(Encoding.UTF8.GetBytes(payload)));
        Assert.Equal(message, ex.Message);
        // Binding the record refuses them too.
        Assert.ThrowsAny<JsonException>(() => JsonSerializer.Deserialize<AgentMessageSend>(payload, KaiJson.Options));
    }

    [Fact]
    public void Missing_fields_are_null_for_the_caller_to_validate()
    {
        var fields = AgentMessageCodec.Read("""{"content":{"a":1}}"""u8);
        Assert.Null(fields.ToAgent);
        Assert.Null(fields.MessageType);
        Assert.False(fields.RequiresResponse);
        Assert.Equal(11, fields.ContentStart);
        Assert.Equal(7, fields.ContentLength);
    }
}
