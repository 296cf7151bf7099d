using System.Globalization;
using System.Reflection;
using System.Text.Json;

namespace Kai.Protocol.Frames;

/// <summary>
/// One received frame (<c>{"type", "id"?, "timestamp", "payload", "signature"?}</c>, seed 000 "Connection Management",
/// <c>messageFormat</c>), read in one pass without copying its payload: the envelope fields become values and the payload stays
/// the raw UTF-8 JSON it arrived as (<see cref="PayloadUtf8"/>), for a reader that binds it once (the hub's <c>agent_message</c>
/// path reads it with <see cref="AgentMessageCodec"/>) or for <see cref="PayloadAs{T}"/>. <see cref="Frame.Parse"/> gives the
/// same fields as a <see cref="Frame"/> with a copied payload document.
/// </summary>
/// <remarks>
/// <see cref="PayloadUtf8"/> is a slice of the buffer given to <see cref="Parse"/>: it is valid as long as that buffer is.
/// <see cref="Payload"/> and <see cref="PayloadAs{T}"/> copy what they return, so their results outlive the buffer.
/// The payload is I-JSON (RFC 7493 §2.1): the first of <see cref="PayloadUtf8"/>, <see cref="Payload"/> or <see cref="PayloadAs{T}"/>
/// to be read throws <see cref="JsonException"/> when one of its strings or property names has a lone surrogate escape
/// (<c>"\ud800"</c>). The serializer would keep such a string raw inside a <see cref="JsonElement"/>, and a handler or a hosted
/// agent reading it later would get an <see cref="InvalidOperationException"/>, far from the frame that brought it.
/// </remarks>
public sealed class InboundFrame
{
    private readonly JsonTokenType _payloadKind;
    private readonly ReadOnlyMemory<byte> _payloadUtf8;
    private JsonElement? _payload;
    private bool _payloadChecked;

    private InboundFrame(string type, string? id, DateTimeOffset timestamp, ReadOnlyMemory<byte> payloadUtf8, JsonTokenType payloadKind, string? signature)
    {
        Type = type;
        Id = id;
        Timestamp = timestamp;
        _payloadUtf8 = payloadUtf8;
        _payloadKind = payloadKind;
        Signature = signature;
    }

    /// <summary>The frame type, non-empty; one of the <see cref="FrameTypes"/> constants (the same string instance) when it is a known type.</summary>
    public string Type { get; }

    /// <summary>The client-chosen id, or <see langword="null"/>. Its length is not limited here (the hub allows 128 characters).</summary>
    public string? Id { get; }

    /// <summary>The sender's <c>timestamp</c> (any ISO 8601 form; without an offset it is UTC), or <see cref="DateTimeOffset.MinValue"/> when absent.</summary>
    public DateTimeOffset Timestamp { get; }

    /// <summary>The optional <c>signature</c> (seed 000), carried, not verified.</summary>
    public string? Signature { get; }

    /// <summary>The payload's raw UTF-8 JSON (any JSON value, as sent), or empty when the frame has no <c>payload</c>. Valid as long as the parsed buffer is.</summary>
    /// <exception cref="JsonException">A string in the payload has a lone surrogate escape (checked once, on first read).</exception>
    public ReadOnlyMemory<byte> PayloadUtf8
    {
        get
        {
            if (!_payloadChecked)
            {
                JsonStrings.RequireValidUtf16(_payloadUtf8.Span, "payload");
                _payloadChecked = true;
            }
            return _payloadUtf8;
        }
    }

    /// <summary>Whether the payload is absent or JSON <c>null</c>.</summary>
    public bool PayloadIsNull => _payloadKind is JsonTokenType.None or JsonTokenType.Null;

    /// <summary>Whether the payload is a JSON object.</summary>
    public bool PayloadIsObject => _payloadKind == JsonTokenType.StartObject;

    /// <summary>The payload as a document of its own (copied on first use), or <c>default</c> (<see cref="JsonValueKind.Undefined"/>) when absent.</summary>
    /// <exception cref="JsonException">A string in the payload has a lone surrogate escape.</exception>
    public JsonElement Payload => _payload ??= PayloadUtf8.IsEmpty ? default : JsonElement.Parse(PayloadUtf8.Span);

    /// <summary>Deserializes the payload into <typeparamref name="T"/> with the wire settings, straight from its UTF-8 bytes.</summary>
    /// <typeparam name="T">A payload record of this namespace.</typeparam>
    /// <returns>The payload, or <see langword="null"/> when it is JSON <c>null</c> or absent.</returns>
    /// <exception cref="JsonException">The payload does not have the shape of <typeparamref name="T"/>, or a string in it has a lone surrogate escape.</exception>
    public T? PayloadAs<T>() => PayloadIsNull ? default : JsonSerializer.Deserialize<T>(PayloadUtf8.Span, KaiJson.Options);

    /// <summary>This frame as a <see cref="Frame"/> (the payload copied).</summary>
    /// <returns>The frame.</returns>
    /// <exception cref="JsonException">A string in the payload has a lone surrogate escape.</exception>
    public Frame ToFrame() => new(Type, Id, Timestamp, Payload, Signature);

    /// <summary>
    /// Reads one WebSocket text message in one pass. Unknown envelope properties are ignored; of a repeated property the last wins
    /// (as the serializer does).
    /// </summary>
    /// <param name="utf8">The message bytes; <see cref="PayloadUtf8"/> is a slice of them.</param>
    /// <returns>The frame.</returns>
    /// <exception cref="JsonException">
    /// The text is not well-formed JSON, not a JSON object, has no non-empty string <c>type</c>, or has an <c>id</c> or
    /// <c>signature</c> that is not a string or a <c>timestamp</c> that is not an ISO 8601 string, or has an envelope string with an
    /// escape that is not valid UTF-16. (The payload's strings are checked when it is first read, so the error can name the frame's id.)
    /// </exception>
    public static InboundFrame Parse(ReadOnlyMemory<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8.Span);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            // Read validates the first token; a well-formed non-object still needs its own message.
            throw new JsonException("A frame must be a JSON object.");
        }
        string? type = null, id = null, signature = null;
        var timestamp = default(DateTimeOffset);
        var payload = ReadOnlyMemory<byte>.Empty;
        var payloadKind = JsonTokenType.None;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("type"u8))
            {
                reader.Read();
                type = reader.TokenType == JsonTokenType.String ? KnownType(ref reader) : null;
                if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.Null))
                {
                    throw new JsonException("A frame needs a non-empty string 'type'.");
                }
            }
            else if (reader.ValueTextEquals("id"u8))
            {
                id = OptionalString(ref reader, "id");
            }
            else if (reader.ValueTextEquals("signature"u8))
            {
                signature = OptionalString(ref reader, "signature");
            }
            else if (reader.ValueTextEquals("timestamp"u8))
            {
                reader.Read();
                timestamp = ReadTimestamp(ref reader);
            }
            else if (reader.ValueTextEquals("payload"u8))
            {
                reader.Read();
                payloadKind = reader.TokenType;
                var start = (int)reader.TokenStartIndex;
                reader.Skip();
                payload = utf8[start..(int)reader.BytesConsumed];
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        // The end of the object; one more Read fails on anything but whitespace after it.
        if (reader.Read())
        {
            throw new JsonException("A frame must be one JSON object.");
        }
        if (string.IsNullOrEmpty(type))
        {
            throw new JsonException("A frame needs a non-empty string 'type'.");
        }
        return new InboundFrame(type, id, timestamp, payload, payloadKind, signature);
    }

    private static string? OptionalString(ref Utf8JsonReader reader, string name)
    {
        reader.Read();
        return reader.TokenType switch
        {
            JsonTokenType.String => JsonStrings.Get(ref reader, name),
            JsonTokenType.Null => null,
            _ => throw new JsonException($"A frame's '{name}' must be a string."),
        };
    }

    private static DateTimeOffset ReadTimestamp(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            throw new JsonException("A frame's 'timestamp' must be an ISO 8601 string.");
        }
        // The common form (…Z or …±hh:mm) parses without a string; anything else goes the converter's way, which reads a
        // timestamp without an offset as UTC.
        var raw = reader.ValueSpan;
        var hasOffset = !reader.ValueIsEscaped && raw.Length > 6
            && (raw[^1] is (byte)'Z' or (byte)'z' || raw[^6] is (byte)'+' or (byte)'-');
        if (hasOffset && reader.TryGetDateTimeOffset(out var value))
        {
            return value;
        }
        var text = JsonStrings.Get(ref reader, "timestamp");
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out value)
            ? value
            : throw new JsonException("A frame's 'timestamp' must be an ISO 8601 string.");
    }

    /// <summary>The <see cref="FrameTypes"/> constant the current string token spells, without allocating; otherwise a new string.</summary>
    private static string KnownType(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped)
        {
            var raw = reader.ValueSpan;
            foreach (var (utf8, name) in KnownTypes)
            {
                if (raw.SequenceEqual(utf8))
                {
                    return name;
                }
            }
        }
        return JsonStrings.Get(ref reader, "type");
    }

    // The hot types first; a miss costs one length comparison per entry.
    private static readonly (byte[] Utf8, string Name)[] KnownTypes = new[] { FrameTypes.AgentMessage, FrameTypes.Heartbeat }
        .Concat(typeof(FrameTypes).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(string))
            // Interned, so each is the same instance as the constant in code (reflection returns a copy).
            .Select(f => string.Intern((string)f.GetRawConstantValue()!)))
        .Distinct()
        .Select(name => (System.Text.Encoding.UTF8.GetBytes(name), name))
        .ToArray();
}
