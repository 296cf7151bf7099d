using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kai.Protocol;

/// <summary>
/// The JSON settings of the wire: UTF-8, <c>snake_case</c> property names, nulls omitted, timestamps as
/// ISO 8601 UTC with a trailing <c>Z</c>.
/// </summary>
public static class KaiJson
{
    /// <summary>Options bound to the source-generated <see cref="KaiJsonContext"/>, with reflection as a fallback for free-form objects.</summary>
    public static JsonSerializerOptions Options { get; } = CreateOptions();

    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions(KaiJsonContext.Default.Options);
        options.TypeInfoResolverChain.Add(new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver());
        options.MakeReadOnly();
        return options;
    }

    /// <summary>Applies the wire settings (naming, null handling, UTC timestamps, resolvers) to existing options, such as ASP.NET Core's.</summary>
    /// <param name="options">Options that are not yet read-only.</param>
    public static void Configure(JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
        options.Converters.Add(new UtcDateTimeOffsetConverter());
        options.TypeInfoResolverChain.Insert(0, KaiJsonContext.Default);
    }
}

/// <summary>
/// Writes <see cref="DateTimeOffset"/> as ISO 8601 UTC (<c>2026-01-15T12:00:00.000Z</c>); reads any ISO 8601 offset.
/// </summary>
public sealed class UtcDateTimeOffsetConverter : JsonConverter<DateTimeOffset>
{
    /// <inheritdoc />
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var text = reader.GetString();
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var value)
            ? value
            : throw new JsonException($"'{text}' is not an ISO 8601 timestamp.");
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        // Formatted straight to UTF-8: every frame carries a timestamp, so no string per write.
        Span<byte> utf8 = stackalloc byte[32];
        if (!value.UtcDateTime.TryFormat(utf8, out var written, "yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture))
        {
            throw new JsonException("The timestamp could not be formatted.");
        }
        writer.WriteStringValue(utf8[..written]);
    }
}
