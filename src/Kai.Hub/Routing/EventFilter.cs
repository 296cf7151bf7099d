using System.Text.Json;
using Kai.Hub.Errors;
using Kai.Protocol;

namespace Kai.Hub.Routing;

/// <summary>
/// Seed 004 subscription filters: every key must match a field of the event payload, by equality with a scalar or by
/// membership in an array of scalars. A dotted key walks into objects (<c>details.status</c>).
/// </summary>
internal sealed class EventFilter
{
    public const int MaxKeys = 16;
    public const int MaxValues = 64;

    private readonly (string[] Path, JsonElement[] Allowed)[] _rules;

    private EventFilter((string[], JsonElement[])[] rules) => _rules = rules;

    /// <summary>Parses a filters object; null or an empty object means "no filter". Throws <c>VALIDATION_ERROR</c> with the field name.</summary>
    public static EventFilter? Parse(JsonElement? filters, string field = "filters")
    {
        if (filters is null || filters.Value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            return null;
        }
        var v = new Validation().Unicode(filters, field);
        v.ThrowIfInvalid();
        if (filters.Value.ValueKind != JsonValueKind.Object)
        {
            v.Check(false, field, "must be an object of field: value or field: [values]").ThrowIfInvalid();
        }
        var rules = new List<(string[], JsonElement[])>();
        foreach (var prop in filters.Value.EnumerateObject())
        {
            v.Check(prop.Name.Length is > 0 and <= 128 && !prop.Name.Split('.').Any(string.IsNullOrEmpty), field, $"key '{prop.Name}' must be 1 to 128 characters of dot-separated names");
            JsonElement[] allowed = prop.Value.ValueKind == JsonValueKind.Array ? [.. prop.Value.EnumerateArray()] : [prop.Value];
            v.Check(allowed.Length is > 0 and <= MaxValues, field, $"'{prop.Name}' must list 1 to {MaxValues} values");
            v.Check(allowed.All(a => a.ValueKind is JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null),
                field, $"'{prop.Name}' values must be strings, numbers, booleans or null");
            rules.Add((prop.Name.Split('.'), allowed.Select(a => a.Clone()).ToArray()));
        }
        v.Check(rules.Count <= MaxKeys, field, $"must have at most {MaxKeys} keys").ThrowIfInvalid();
        return rules.Count == 0 ? null : new EventFilter([.. rules]);
    }

    /// <summary>Parses the <c>filters</c> query parameter (a JSON object).</summary>
    public static EventFilter? ParseQuery(string? json)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            return null;
        }
        try
        {
            using var doc = JsonDocument.Parse(json);
            return Parse(doc.RootElement.Clone());
        }
        catch (JsonException)
        {
            throw new ApiException(ErrorCodes.ValidationError, "The request is invalid: filters.",
                new Dictionary<string, string[]> { ["filters"] = ["must be a JSON object, e.g. {\"priority\":[\"high\",\"critical\"]}"] });
        }
    }

    public bool Matches(JsonElement payload)
    {
        foreach (var (path, allowed) in _rules)
        {
            var node = payload;
            foreach (var name in path)
            {
                if (node.ValueKind != JsonValueKind.Object || !node.TryGetProperty(name, out node))
                {
                    return false;
                }
            }
            var any = false;
            foreach (var value in allowed)
            {
                if (JsonElement.DeepEquals(node, value))
                {
                    any = true;
                    break;
                }
            }
            if (!any)
            {
                return false;
            }
        }
        return true;
    }
}
