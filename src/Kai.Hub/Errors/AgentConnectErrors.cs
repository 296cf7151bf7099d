using System.Text.Json;
using Kai.Protocol;

namespace Kai.Hub.Errors;

/// <summary>
/// The error shape of the AgentConnect routes (seed 003, "Error Handling"): everything under <c>/api/</c> that is not
/// <c>/api/v1</c> answers <c>{"detail": string, "code": string, "timestamp": ISO 8601, "errors"?: {field: [problem]}}</c>, and a
/// validation failure is 422 (FastAPI's convention, which the reference client was written against). <c>/api/v1</c> keeps the
/// seed 004 envelope.
/// </summary>
internal static class AgentConnectErrors
{
    /// <summary>Whether <paramref name="path"/> is an AgentConnect route.</summary>
    public static bool Applies(PathString path) =>
        path.StartsWithSegments("/api", StringComparison.Ordinal) && !path.StartsWithSegments("/api/v1", StringComparison.Ordinal);

    /// <summary>The status on an AgentConnect route: 422 for validation, else the envelope's.</summary>
    public static int Status(int status, string code) => code == ErrorCodes.ValidationError && status == 400 ? 422 : status;

    /// <summary>The body: <c>{detail, code, timestamp, errors?}</c>.</summary>
    public static Dictionary<string, object?> Body(string code, string message, object? details, DateTimeOffset now)
    {
        var body = new Dictionary<string, object?> { ["detail"] = message, ["code"] = code, ["timestamp"] = now };
        var d = ApiException.ToDetails(details);
        if (d.ValueKind == JsonValueKind.Object && d.EnumerateObject().Any())
        {
            body["errors"] = d;
        }
        return body;
    }
}
