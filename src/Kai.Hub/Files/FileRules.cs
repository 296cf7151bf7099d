using System.Text;
using System.Text.Json;
using Kai.Hub.Errors;
using Kai.Protocol;
using Microsoft.Net.Http.Headers;

namespace Kai.Hub.Files;

/// <summary>What a file may be called and typed: filename and media-type validation, content sniffing, active-content detection.</summary>
internal static class FileRules
{
    public const string DefaultMimeType = "application/octet-stream";

    /// <summary>
    /// The filename as stored, or VALIDATION_ERROR: no directory separators, no <c>.</c>/<c>..</c>, no control or bidi-override
    /// characters, 1 to 255 UTF-8 bytes. Names are refused rather than silently rewritten, so the client learns what was wrong.
    /// </summary>
    public static string Filename(string? raw)
    {
        var name = raw?.Trim() ?? "";
        string? problem = name switch
        {
            "" => "is required",
            "." or ".." => "must not be . or ..",
            _ when name.Contains('/') || name.Contains('\\') => "must be a bare name without / or \\ (no paths)",
            _ when name.Any(c => char.IsControl(c) || c is '\u202A' or '\u202B' or '\u202C' or '\u202D' or '\u202E' or '\u2066' or '\u2067' or '\u2068' or '\u2069') =>
                "must not contain control or bidirectional-override characters",
            _ when Encoding.UTF8.GetByteCount(name) > 255 => "must be at most 255 UTF-8 bytes",
            _ when name.Any(char.IsSurrogate) && !IsWellFormed(name) => "must be valid Unicode",
            _ => null,
        };
        if (problem is not null)
        {
            throw new ApiException(ErrorCodes.ValidationError, $"The filename {problem}.", new Dictionary<string, string[]> { ["filename"] = [problem] });
        }
        return name;
    }

    private static bool IsWellFormed(string s)
    {
        for (var i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(s[i]))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>The media type as stored (<c>type/subtype</c>, lowercase, parameters dropped), or VALIDATION_ERROR.</summary>
    public static string MimeType(string? raw)
    {
        if (string.IsNullOrWhiteSpace(raw))
        {
            return DefaultMimeType;
        }
        if (raw.Length > 255 || !MediaTypeHeaderValue.TryParse(raw, out var parsed) || parsed.MediaType.Value is not { } mt
            || parsed.Type.Value is null or "*" || parsed.SubType.Value is null or "*")
        {
            throw new ApiException(ErrorCodes.ValidationError, "The mime_type must be a media type such as application/pdf.",
                new Dictionary<string, string[]> { ["mime_type"] = ["must be type/subtype"] });
        }
        return mt.ToLowerInvariant();
    }

    private static readonly (string Mime, byte[] Magic)[] Signatures =
    [
        ("image/png", [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]),
        ("image/jpeg", [0xFF, 0xD8, 0xFF]),
        ("image/gif", "GIF8"u8.ToArray()),
        ("application/pdf", "%PDF-"u8.ToArray()),
        ("application/zip", [0x50, 0x4B, 0x03, 0x04]),
        ("application/gzip", [0x1F, 0x8B]),
    ];

    /// <summary>
    /// For media types with a well-known signature (PNG, JPEG, GIF, PDF, ZIP, gzip), VALIDATION_ERROR when the content does not start
    /// with it: a file declared <c>image/png</c> is one. Other types are taken as declared (they are served with <c>nosniff</c>).
    /// </summary>
    public static void CheckContentMatches(string mimeType, ReadOnlySpan<byte> head)
    {
        foreach (var (mime, magic) in Signatures)
        {
            if (mime == mimeType && !head.StartsWith(magic))
            {
                throw new ApiException(ErrorCodes.ValidationError, $"The content is not {mimeType} (its first bytes do not match).",
                    new Dictionary<string, string[]> { ["mime_type"] = [$"does not match the content"] });
            }
        }
    }

    /// <summary>Types a browser would run or render as a document (scripts, HTML, SVG, XML): always sent as attachments.</summary>
    public static bool IsActive(string mimeType) =>
        mimeType is "text/html" or "application/xhtml+xml" or "image/svg+xml" or "text/xml" or "application/xml" or "text/javascript"
            or "application/javascript" or "application/ecmascript" or "text/ecmascript" or "application/x-javascript" or "text/xsl"
            or "multipart/x-mixed-replace"
        || mimeType.EndsWith("+xml", StringComparison.Ordinal)
        || mimeType.StartsWith("application/x-shockwave", StringComparison.Ordinal);

    public static string NewFileId() => "file_" + Guid.NewGuid().ToString("N");

    public static bool IsFileId(string id) => id.Length == 37 && id.StartsWith("file_", StringComparison.Ordinal) && id[5..].All(char.IsAsciiHexDigitLower);
    /// <summary>
    /// The files a JSON object references (issue 13 item 7): the string value of every property <c>file_id</c>, and the strings of
    /// every array property <c>file_ids</c>, at any depth, distinct, in order of appearance. Empty for null or JSON without them.
    /// </summary>
    /// <exception cref="ApiException">VALIDATION_ERROR when a <c>file_id</c> is not a string, a <c>file_ids</c> is not an array of
    /// strings, or there are more than <paramref name="max"/>.</exception>
    public static IReadOnlyList<string> References(string? json, string field, int max)
    {
        // Cheap test first: most work references no file, and this runs on every task and command created.
        if (json is null || !json.Contains("\"file_id", StringComparison.Ordinal))
        {
            return [];
        }
        var found = new List<string>();
        using var doc = JsonDocument.Parse(json);
        Walk(doc.RootElement, found, field, max);
        return found;
    }

    private static void Walk(JsonElement e, List<string> found, string field, int max)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var p in e.EnumerateObject())
                {
                    if (p.NameEquals("file_id"))
                    {
                        Add(p.Value, found, field, max);
                    }
                    else if (p.NameEquals("file_ids"))
                    {
                        if (p.Value.ValueKind != JsonValueKind.Array)
                        {
                            throw BadReference(field, "file_ids must be an array of file ids");
                        }
                        foreach (var item in p.Value.EnumerateArray())
                        {
                            Add(item, found, field, max);
                        }
                    }
                    else
                    {
                        Walk(p.Value, found, field, max);
                    }
                }
                break;
            case JsonValueKind.Array:
                foreach (var item in e.EnumerateArray())
                {
                    Walk(item, found, field, max);
                }
                break;
        }
    }

    private static void Add(JsonElement value, List<string> found, string field, int max)
    {
        if (value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: > 0 } id)
        {
            throw BadReference(field, "a file_id must be a string (the id of a file)");
        }
        if (!found.Contains(id, StringComparer.Ordinal))
        {
            if (found.Count == max)
            {
                throw BadReference(field, $"at most {max} distinct files may be referenced");
            }
            found.Add(id);
        }
    }

    private static ApiException BadReference(string field, string problem) =>
        new(ErrorCodes.ValidationError, $"{field}: {problem}.", new Dictionary<string, string[]> { [field] = [problem] });
}
