using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kai.Protocol;
using Kai.Protocol.Rest;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Kai.Cli.Cli;

/// <summary>
/// Reads a workflow definition (the seed 004 body of <c>POST /api/v1/workflows</c>) from a JSON or YAML file. YAML is read with
/// YamlDotNet and mapped to JSON with the YAML 1.2 core schema: plain scalars that look like integers, floats, booleans or null
/// become those; quoted scalars stay strings.
/// </summary>
internal static class WorkflowFile
{
    /// <summary>Parses the file: YAML for <c>.yaml</c>/<c>.yml</c>, JSON for anything else.</summary>
    /// <exception cref="CliException">The file is missing, not valid JSON/YAML, or not a workflow object.</exception>
    public static CreateWorkflowRequest Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new CliException($"no such file: {Path.GetFullPath(path)}", ExitCodes.Usage);
        }
        var text = File.ReadAllText(path);
        var yaml = path.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".yml", StringComparison.OrdinalIgnoreCase);
        JsonNode? node;
        try
        {
            node = yaml ? FromYaml(text) : JsonNode.Parse(text);
        }
        catch (JsonException ex)
        {
            throw new CliException($"{path} is not valid JSON: {ex.Message}", ExitCodes.Usage);
        }
        catch (YamlException ex)
        {
            throw new CliException($"{path} is not valid YAML: {ex.Message}", ExitCodes.Usage);
        }
        if (node is not JsonObject)
        {
            throw new CliException($"{path} must hold one object: {{name, stages: [{{name, agent_type, dependencies?, input_data?}}], configuration?}}.", ExitCodes.Usage);
        }
        CreateWorkflowRequest? request;
        try
        {
            request = node.Deserialize<CreateWorkflowRequest>(KaiJson.Options);
        }
        catch (JsonException ex)
        {
            throw new CliException($"{path} is not a workflow definition: {ex.Message}", ExitCodes.Usage);
        }
        if (request is null || string.IsNullOrWhiteSpace(request.Name) || request.Stages is not { Count: > 0 })
        {
            throw new CliException($"{path} needs a 'name' and at least one stage in 'stages'.", ExitCodes.Usage);
        }
        return request;
    }

    /// <summary>Converts the first YAML document to JSON.</summary>
    public static JsonNode? FromYaml(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        return stream.Documents.Count == 0 ? null : Convert(stream.Documents[0].RootNode);
    }

    private static JsonNode? Convert(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(kv => KeyValuePair.Create(
            ((YamlScalarNode)kv.Key).Value ?? "", Convert(kv.Value)))),
        YamlSequenceNode seq => new JsonArray([.. seq.Children.Select(Convert)]),
        YamlScalarNode scalar => Scalar(scalar),
        _ => throw new YamlException($"unsupported YAML node at {node.Start}"),
    };

    private static JsonNode? Scalar(YamlScalarNode scalar)
    {
        var value = scalar.Value ?? "";
        if (scalar.Style is not ScalarStyle.Plain)
        {
            return JsonValue.Create(value);
        }
        return value switch
        {
            "" or "~" or "null" or "Null" or "NULL" => null,
            "true" or "True" or "TRUE" => JsonValue.Create(true),
            "false" or "False" or "FALSE" => JsonValue.Create(false),
            _ when long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i) => JsonValue.Create(i),
            _ when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && value.Any(char.IsAsciiDigit) => JsonValue.Create(d),
            _ => JsonValue.Create(value),
        };
    }
}
