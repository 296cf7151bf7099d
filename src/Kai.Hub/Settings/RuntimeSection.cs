using System.ComponentModel.DataAnnotations;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kai.Protocol;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Settings;

/// <summary>
/// One group of settings that may change while the hub runs (seed 000's config router): its name on the wire, its
/// configuration section, and the properties of its options class that may change. Everything else in the class (paths,
/// cluster names) is fixed at start and refused here.
/// </summary>
internal interface IRuntimeSection
{
    /// <summary>The name in <c>/api/v1/config/{section}</c>, for example <c>rate_limits</c>.</summary>
    string Name { get; }

    /// <summary>The configuration section, for example <c>Kai:Security:RateLimits</c>.</summary>
    string Path { get; }

    /// <summary>Turns a JSON object of snake_case (or PascalCase) property names into configuration keys and values; null removes an override.</summary>
    Dictionary<string, string?> Flatten(JsonElement body, List<string> errors);

    /// <summary>Binds the section from <paramref name="candidate"/> and runs the validators the options are validated with at start.</summary>
    void Validate(IConfiguration candidate, IServiceProvider services, List<string> errors);

    /// <summary>The section's current values (the changeable properties only), as the wire shows them.</summary>
    JsonElement Describe(IConfiguration configuration);
}

/// <inheritdoc />
internal sealed class RuntimeSection<TOptions>(string name, string path, params string[] properties) : IRuntimeSection
    where TOptions : class, new()
{
    private readonly PropertyInfo[] _properties = properties.Select(p =>
        typeof(TOptions).GetProperty(p) ?? throw new ArgumentException($"{typeof(TOptions).Name} has no property {p}.")).ToArray();

    public string Name => name;

    public string Path => path;

    public Dictionary<string, string?> Flatten(JsonElement body, List<string> errors)
    {
        var result = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        if (body.ValueKind != JsonValueKind.Object)
        {
            errors.Add($"{name}: the body must be a JSON object of settings, for example {{\"{WireName(_properties[0])}\": …}}.");
            return result;
        }
        foreach (var item in body.EnumerateObject())
        {
            var property = Find(_properties, item.Name);
            if (property is null)
            {
                errors.Add($"{name}.{item.Name}: not a setting that can change at run time (these can: {string.Join(", ", _properties.Select(WireName))}).");
                continue;
            }
            FlattenValue(path + ":" + property.Name, name + "." + WireName(property), property.PropertyType, item.Value, result, errors);
        }
        return result;
    }

    public void Validate(IConfiguration candidate, IServiceProvider services, List<string> errors)
    {
        var options = new TOptions();
        try
        {
            candidate.GetSection(path).Bind(options);
        }
        catch (InvalidOperationException e)
        {
            // The binder names the key and the type: "Failed to convert configuration value at 'Kai:Logs:MaxAge' to type 'System.TimeSpan'."
            errors.Add(e.Message);
            return;
        }
        foreach (var validator in services.GetServices<IValidateOptions<TOptions>>())
        {
            var result = validator.Validate(Options.DefaultName, options);
            if (result.Failed)
            {
                errors.AddRange(result.Failures);
            }
        }
        // Nested objects (a task type's retry defaults) are validated too, which start-up's DataAnnotations does not do.
        foreach (var property in _properties)
        {
            ValidateNested(name + "." + WireName(property), property.GetValue(options), errors);
        }
    }

    public JsonElement Describe(IConfiguration configuration)
    {
        var options = configuration.GetSection(path).Get<TOptions>() ?? new TOptions();
        var all = JsonSerializer.SerializeToNode(options, KaiJson.Options)!.AsObject();
        var shown = new JsonObject();
        foreach (var property in _properties)
        {
            var wire = WireName(property);
            shown[wire] = all[wire]?.DeepClone();
        }
        return JsonSerializer.SerializeToElement(shown, KaiJson.Options);
    }

    private static void FlattenValue(string key, string label, Type type, JsonElement value, Dictionary<string, string?> result, List<string> errors)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            result[key] = null;
            return;
        }
        if (DictionaryValueType(type) is { } valueType)
        {
            if (value.ValueKind != JsonValueKind.Object)
            {
                errors.Add($"{label}: expected an object keyed by name.");
                return;
            }
            foreach (var entry in value.EnumerateObject())
            {
                FlattenValue(key + ":" + entry.Name, label + "." + entry.Name, valueType, entry.Value, result, errors);
            }
            return;
        }
        if (IsComplex(type))
        {
            if (value.ValueKind != JsonValueKind.Object)
            {
                errors.Add($"{label}: expected an object.");
                return;
            }
            var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).ToArray();
            foreach (var entry in value.EnumerateObject())
            {
                if (Find(properties, entry.Name) is { } p)
                {
                    FlattenValue(key + ":" + p.Name, label + "." + WireName(p), p.PropertyType, entry.Value, result, errors);
                }
                else
                {
                    errors.Add($"{label}.{entry.Name}: unknown setting.");
                }
            }
            return;
        }
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                result[key] = value.GetString();
                break;
            case JsonValueKind.Number:
                result[key] = value.GetRawText();
                break;
            case JsonValueKind.True or JsonValueKind.False:
                result[key] = value.GetBoolean() ? "true" : "false";
                break;
            default:
                errors.Add($"{label}: expected a string, a number or a boolean (durations are strings such as \"00:00:30\").");
                break;
        }
    }

    private static void ValidateNested(string label, object? value, List<string> errors)
    {
        if (value is null || !IsComplex(value.GetType()) && DictionaryValueType(value.GetType()) is null)
        {
            return;
        }
        if (value is System.Collections.IDictionary dictionary)
        {
            foreach (System.Collections.DictionaryEntry entry in dictionary)
            {
                ValidateNested(label + "." + entry.Key, entry.Value, errors);
            }
            return;
        }
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(value, new ValidationContext(value), results, validateAllProperties: true))
        {
            errors.AddRange(results.Select(r => $"{label}: {r.ErrorMessage}"));
        }
    }

    private static Type? DictionaryValueType(Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>) && type.GetGenericArguments()[0] == typeof(string)
            ? type.GetGenericArguments()[1]
            : null;

    private static bool IsComplex(Type type) =>
        type.IsClass && type != typeof(string) && DictionaryValueType(type) is null;

    private static PropertyInfo? Find(IEnumerable<PropertyInfo> properties, string name) =>
        properties.FirstOrDefault(p => WireName(p) == name || string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));

    private static string WireName(PropertyInfo p) => JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name);
}
