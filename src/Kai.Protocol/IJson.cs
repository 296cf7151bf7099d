using System.Text.Json;

namespace Kai.Protocol;

/// <summary>
/// The hub takes I-JSON (RFC 7493): JSON whose strings are valid Unicode. Plain JSON (RFC 8259 §8.2) lets a string hold an unpaired
/// surrogate escape such as <c>"\ud800"</c>; .NET parses it, keeps it raw, and throws <see cref="InvalidOperationException"/> only
/// when the string is read, far from the input that brought it. Everything the hub takes in (frame payloads, chat messages, RPC
/// messages, REST bodies) is checked with this, once, where it enters.
/// </summary>
public static class IJson
{
    /// <summary>
    /// Whether every string and property name in <paramref name="utf8Json"/> is valid UTF-16 once unescaped (RFC 7493 §2.1: no
    /// unpaired surrogates). Costs two vectorized scans of the text; only a text that holds an escaped surrogate (<c>\uD800</c> to
    /// <c>\uDFFF</c>) is read token by token.
    /// </summary>
    /// <param name="utf8Json">One well-formed JSON value, UTF-8.</param>
    /// <returns>True for valid text (and for an empty span); false when a string or name has a lone surrogate escape.</returns>
    /// <exception cref="JsonException">The text is not well-formed JSON (only when it has an escaped surrogate; otherwise it is not parsed).</exception>
    public static bool IsValidUnicode(ReadOnlySpan<byte> utf8Json)
    {
        // A false hit (an escaped backslash before "ud") only costs the reader pass.
        if (utf8Json.IndexOf("\\ud"u8) < 0 && utf8Json.IndexOf("\\uD"u8) < 0)
        {
            return true;
        }
        var reader = new Utf8JsonReader(utf8Json);
        while (reader.Read())
        {
            if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName && reader.ValueIsEscaped)
            {
                try
                {
                    _ = reader.GetString();
                }
                catch (InvalidOperationException)
                {
                    return false;
                }
            }
        }
        return true;
    }

    /// <summary>Whether every string and property name in <paramref name="value"/> is valid Unicode (see <see cref="IsValidUnicode(ReadOnlySpan{byte})"/>).</summary>
    /// <param name="value">Any element; an absent one (<c>default</c>, <see cref="JsonValueKind.Undefined"/>) has no text and is valid.</param>
    public static bool IsValidUnicode(JsonElement value) =>
        value.ValueKind == JsonValueKind.Undefined || IsValidUnicode(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(value));
}
