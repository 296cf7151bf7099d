using System.Text.Json;

namespace Kai.Protocol.Frames;

/// <summary>Reads string tokens straight from a <see cref="Utf8JsonReader"/> with the serializer's error contract.</summary>
/// <remarks>
/// <see cref="Utf8JsonReader.GetString"/> throws <see cref="InvalidOperationException"/> for an escape that is not valid UTF-16
/// (a lone surrogate such as <c>"\udc00"</c>); the serializer turns that into a <see cref="JsonException"/>, the raw reader does
/// not. Every hand-written reader of client input goes through here, so such a string is a malformed frame, never an unhandled
/// exception that drops the link.
/// </remarks>
internal static class JsonStrings
{
    public static string Get(ref Utf8JsonReader reader, string name)
    {
        try
        {
            return reader.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw new JsonException($"'{name}' is not valid UTF-16: it has an unpaired surrogate escape.");
        }
    }

    /// <summary>
    /// Throws when any string or property name in <paramref name="json"/> (well-formed JSON) has an escape that is not valid UTF-16.
    /// The hub takes I-JSON (RFC 7493 §2.1: no unpaired surrogates), so a payload it keeps as raw bytes or as a
    /// <see cref="JsonElement"/> cannot make a later <c>GetString</c>, deep in a handler or a hosted agent, throw.
    /// </summary>
    /// <exception cref="JsonException">A lone surrogate escape such as <c>"\ud800"</c>.</exception>
    public static void RequireValidUtf16(ReadOnlySpan<byte> json, string name)
    {
        // Only an escaped surrogate (\uD800-\uDFFF) can be invalid. Most payloads have none, and these scans are vectorized; a
        // false hit (an escaped backslash before "ud") only costs the reader pass below.
        if (json.IndexOf("\\ud"u8) < 0 && json.IndexOf("\\uD"u8) < 0)
        {
            return;
        }
        var reader = new Utf8JsonReader(json);
        while (reader.Read())
        {
            if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName && reader.ValueIsEscaped)
            {
                Get(ref reader, name);
            }
        }
    }
}
