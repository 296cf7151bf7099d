using System.Text.Json;
using Kai.Protocol;

namespace Kai.Hub.Errors;

/// <summary>
/// An error with a stable wire code. Thrown by services and validation, turned into the seed 004 envelope on
/// REST (<see cref="ErrorHandlingMiddleware"/>) and into an <c>error</c> frame on WebSocket links.
/// </summary>
public sealed class ApiException(string code, string message, object? details = null) : Exception(message)
{
    public string Code { get; } = code;

    public object? Details { get; } = details;

    public int Status => ErrorCodes.HttpStatus(Code);

    public JsonElement DetailsElement() => ToDetails(Details);

    public static JsonElement ToDetails(object? details) => details switch
    {
        null => EmptyObject,
        JsonElement e => e,
        _ => JsonSerializer.SerializeToElement(details, KaiJson.Options),
    };

    private static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement.Clone();

    public static ApiException NotFound(string what) => new(ErrorCodes.NotFound, $"{what} was not found.");

    public static ApiException AgentNotFound(string agentId) =>
        new(ErrorCodes.AgentNotFound, $"Agent '{agentId}' was not found.", new Dictionary<string, string> { ["agent_id"] = agentId });
}

/// <summary>Collects field problems and throws one <c>VALIDATION_ERROR</c> listing them all.</summary>
internal sealed class Validation
{
    // Made on the first problem: most validations find none, and the hot frame paths validate every message.
    private Dictionary<string, List<string>>? _errors;

    public Validation Check(bool ok, string field, string problem)
    {
        if (!ok)
        {
            _errors ??= new(StringComparer.Ordinal);
            if (!_errors.TryGetValue(field, out var list))
            {
                _errors[field] = list = [];
            }
            list.Add(problem);
        }
        return this;
    }

    public Validation Length(string? value, string field, int min, int max, bool required = true)
    {
        if (value is null)
        {
            return Check(!required, field, "is required");
        }
        // The message is formatted only for a value that fails.
        return value.Length >= min && value.Length <= max
            ? this
            : Check(false, field, min == max ? $"must be {min} characters" : $"must be {min} to {max} characters");
    }

    /// <summary>
    /// The string property <paramref name="name"/> of <paramref name="config"/> (its problems filed under <c>config.{name}</c>): null when
    /// absent or null, else a string of 1 to <paramref name="max"/> characters (anything else is a problem and null).
    /// </summary>
    public string? OptionalString(JsonElement config, string name, int max)
    {
        if (!config.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        var s = e.ValueKind == JsonValueKind.String ? e.GetString() : null;
        var ok = s is { Length: > 0 } && s.Length <= max;
        Check(ok, "config." + name, $"must be a string of 1 to {max} characters");
        return ok ? s : null;
    }

    public Validation Object(JsonElement? value, string field) =>
        Check(value is null || value.Value.ValueKind is JsonValueKind.Object or JsonValueKind.Null, field, "must be a JSON object");

    /// <summary>Every string and property name in <paramref name="value"/> is valid Unicode. JSON lets a client send a lone surrogate as
    /// an escape (<c>"\ud800"</c>); <see cref="JsonElement"/> keeps it raw and throws <see cref="InvalidOperationException"/> later, when
    /// the text is read or compared (filter matching), far from the request that brought it.</summary>
    public Validation Unicode(JsonElement? value, string field) =>
        Check(value is not { } v || IJson.IsValidUnicode(v), field, "must be valid Unicode text (a lone surrogate such as \\ud800 is not)");

    public Validation Names(IReadOnlyList<string>? values, string field, int maxCount, int maxLength)
    {
        if (values is null)
        {
            return this;
        }
        Check(values.Count <= maxCount, field, $"must have at most {maxCount} items");
        return Check(values.All(v => !string.IsNullOrWhiteSpace(v) && v.Length <= maxLength), field, $"items must be non-empty and at most {maxLength} characters");
    }

    public void ThrowIfInvalid()
    {
        if (_errors is { Count: > 0 })
        {
            var fields = string.Join(", ", _errors.Keys);
            throw new ApiException(ErrorCodes.ValidationError, $"The request is invalid: {fields}.",
                _errors.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray(), StringComparer.Ordinal));
        }
    }
}
