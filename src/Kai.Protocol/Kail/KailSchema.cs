using System.Text.Json;
using Json.Schema;

namespace Kai.Protocol.Kail;

/// <summary>
/// The JSON Schema of <see cref="AgentInvocation"/>, <c>kail_schema.json</c> (seed 002 §III <c>protocols/kail_schema.json</c>, §VI
/// "validates message via kail_schema.json"), shipped as an embedded resource of this assembly and evaluated with JsonSchema.Net
/// (draft 2020-12, formats asserted).
/// </summary>
public static class KailSchema
{
    private const string ResourceName = "Kai.Protocol.Kail.kail_schema.json";

    private static readonly Lazy<string> LazyText = new(() =>
    {
        using var stream = typeof(KailSchema).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The embedded resource {ResourceName} is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    private static readonly Lazy<JsonSchema> LazySchema = new(() => JsonSchema.FromText(Text, new BuildOptions { SchemaRegistry = new SchemaRegistry() }));

    /// <summary>The schema document as shipped.</summary>
    public static string Text => LazyText.Value;

    /// <summary>
    /// Validates one envelope. Returns the problems, each keyed by the JSON Pointer of the failing location in the instance
    /// (<c>/payload/input</c>, or an empty string for the root) with the schema's message; an empty list when it is valid.
    /// </summary>
    /// <param name="envelope">The envelope as received.</param>
    /// <returns>Failing instance location → messages (empty when valid).</returns>
    public static IReadOnlyDictionary<string, string[]> Validate(JsonElement envelope)
    {
        var results = LazySchema.Value.Evaluate(envelope, new EvaluationOptions { OutputFormat = OutputFormat.List, RequireFormatValidation = true });
        var problems = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        if (results.IsValid)
        {
            return new Dictionary<string, string[]>();
        }
        foreach (var detail in (IEnumerable<EvaluationResults>?)results.Details ?? [results])
        {
            if (detail.Errors is not { Count: > 0 } errors)
            {
                continue;
            }
            var path = detail.InstanceLocation.ToString();
            if (!problems.TryGetValue(path, out var list))
            {
                problems[path] = list = [];
            }
            foreach (var (keyword, message) in errors)
            {
                list.Add($"{keyword}: {message}");
            }
        }
        if (problems.Count == 0)
        {
            problems[""] = ["does not match kail_schema.json"];
        }
        // The root is reported as "/", which is also the pointer of a property named "" (bench/fuzz.sh sent {"":...} and this threw
        // on the duplicate key): the two are merged under "/".
        return problems.GroupBy(p => p.Key.Length == 0 ? "/" : p.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.SelectMany(p => p.Value).ToArray(), StringComparer.Ordinal);
    }
}
