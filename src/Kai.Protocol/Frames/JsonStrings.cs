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

    /// <summary>Throws when a string or property name in <paramref name="json"/> (well-formed JSON) is not valid UTF-16 (<see cref="IJson.IsValidUnicode(ReadOnlySpan{byte})"/>).</summary>
    /// <exception cref="JsonException">A lone surrogate escape such as <c>"\ud800"</c>, naming <paramref name="name"/>.</exception>
    public static void RequireValidUtf16(ReadOnlySpan<byte> json, string name)
    {
        if (!IJson.IsValidUnicode(json))
        {
            throw new JsonException($"'{name}' is not valid UTF-16: it has an unpaired surrogate escape.");
        }
    }
}
