using System.Text.Json;
using System.Text.RegularExpressions;

namespace Kai.Hub.Errors;

/// <summary>
/// Turns parser and binder failures into messages for the client: what was wrong and where (the JSON path and line), never the
/// library's own wording (System.Text.Json's "Expected depth to be zero…", byte positions, .NET type names such as
/// <c>Nullable&lt;int&gt;</c> or <c>Kai.Protocol.Rest.LoginRequest</c>). Our own <see cref="JsonException"/>s (thrown by Kai code with a
/// message meant for clients) pass through unchanged.
/// </summary>
internal static partial class ClientErrors
{
    /// <summary>A client-facing description of a JSON failure, for example <c>a value has the wrong type at $.limit (line 1)</c>.</summary>
    public static string Describe(JsonException ex)
    {
        if (!IsLibraryMessage(ex))
        {
            return ex.Message;
        }
        var message = ex.Message;
        var what = message.StartsWith("The JSON value could not be converted", StringComparison.Ordinal) ? "a value has the wrong type"
            : message.Contains("missing required properties", StringComparison.Ordinal) ? "a required property is missing"
            : message.Contains("maximum configured depth", StringComparison.Ordinal) ? "it is nested too deeply"
            : message.Contains("invalid UTF-16", StringComparison.OrdinalIgnoreCase) || message.Contains("invalid UTF-8", StringComparison.OrdinalIgnoreCase)
                ? "it contains text that is not valid Unicode (for example a lone surrogate escape)"
            : "it is not well-formed JSON";
        var where = ex.Path is { Length: > 0 } path && path != "$" ? $" at {Clip(path)}" : "";
        return ex.LineNumber is { } line ? $"{what}{where} (line {line + 1})" : what + where;
    }

    /// <summary>A client-facing message for a request-binding failure of ASP.NET Core (query, route or body parameters).</summary>
    public static string Describe(BadHttpRequestException ex)
    {
        if (ex.InnerException is JsonException json)
        {
            return $"The body is not valid JSON for this route: {Describe(json)}.";
        }
        if (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return "The request body is too large.";
        }
        if (ex.StatusCode == StatusCodes.Status415UnsupportedMediaType)
        {
            return "The content type is not supported here; send application/json.";
        }
        // ASP.NET Core names the parameter as "<.NET type> <name>": keep the name only.
        var name = ParameterName().Match(ex.Message) is { Success: true } m ? m.Groups["name"].Value : null;
        if (ex.Message.StartsWith("Failed to bind parameter", StringComparison.Ordinal) && name is not null)
        {
            return $"The value of '{name}' is not valid for this route.";
        }
        if (ex.Message.StartsWith("Required parameter", StringComparison.Ordinal) && name is not null)
        {
            return $"'{name}' is required.";
        }
        if (ex.Message.Contains("request body", StringComparison.OrdinalIgnoreCase) || ex.Message.Contains("Implicit body", StringComparison.Ordinal))
        {
            return "The request body is missing or not valid JSON for this route.";
        }
        return "The request is malformed.";
    }

    private static bool IsLibraryMessage(JsonException ex) =>
        ex.Source is "System.Text.Json" || ex.Message.Contains("LineNumber:", StringComparison.Ordinal) || ex.Message.Contains("BytePositionInLine", StringComparison.Ordinal);

    private static string Clip(string path) => path.Length <= 100 ? path : path[..100] + "…";

    [GeneratedRegex("parameter \"(?:[^\"]*\\s)?(?<name>[A-Za-z_][A-Za-z0-9_]*)\"")]
    private static partial Regex ParameterName();
}
