using System.Reflection;
using Kai.Hub.Edges;
using Kai.Protocol.Frames;
using Kai.Testing;
using YamlDotNet.RepresentationModel;

namespace Kai.Hub.Tests.ApiDocs;

/// <summary><c>docs/asyncapi.yaml</c>, the AsyncAPI 3 description of the WebSocket protocol: in step with the hub's frame table, and valid.</summary>
public sealed class AsyncApiDocumentTests
{
    private static string DocumentPath => Path.Combine(NodeTools.RepositoryRoot, "docs", "asyncapi.yaml");

    private static YamlMappingNode Load()
    {
        var yaml = new YamlStream();
        using var reader = new StreamReader(DocumentPath);
        yaml.Load(reader);
        return (YamlMappingNode)yaml.Documents[0].RootNode;
    }

    private static YamlMappingNode Map(YamlNode node, params string[] keys)
    {
        foreach (var key in keys)
        {
            node = ((YamlMappingNode)node).Children[new YamlScalarNode(key)];
        }
        return (YamlMappingNode)node;
    }

    private static string Scalar(YamlNode node, params string[] keys)
    {
        foreach (var key in keys)
        {
            node = ((YamlMappingNode)node).Children[new YamlScalarNode(key)];
        }
        return ((YamlScalarNode)node).Value!;
    }

    /// <summary>The frame type (the <c>const</c> of <c>payload.properties.type</c>) of each component message.</summary>
    private static Dictionary<string, string> MessageTypes(YamlMappingNode doc) =>
        Map(doc, "components", "messages").Children.ToDictionary(
            m => ((YamlScalarNode)m.Key).Value!,
            m => Scalar(m.Value, "payload", "properties", "type", "const"));

    /// <summary>The frame types of an operation's messages (each a <c>#/channels/{c}/messages/{key}</c> reference).</summary>
    private static HashSet<string> OperationTypes(YamlMappingNode doc, YamlMappingNode operation)
    {
        var types = MessageTypes(doc);
        var channel = Scalar(operation, "channel", "$ref").Split('/')[^1];
        var channelMessages = Map(doc, "channels", channel, "messages");
        return ((YamlSequenceNode)operation.Children[new YamlScalarNode("messages")]).Children
            .Select(r => Scalar(r, "$ref").Split('/')[^1])
            .Select(key => Scalar(channelMessages.Children[new YamlScalarNode(key)], "$ref").Split('/')[^1])
            .Select(component => types[component])
            .ToHashSet(StringComparer.Ordinal);
    }

    [Fact]
    public void Every_frame_type_a_link_accepts_is_a_message_of_that_links_receive_operation()
    {
        var doc = Load();
        var operations = Map(doc, "operations").Children
            .Where(o => ((YamlMappingNode)o.Value).Children.ContainsKey(new YamlScalarNode("x-edge")))
            .ToDictionary(o => Scalar(o.Value, "x-edge"), o => (YamlMappingNode)o.Value);
        foreach (var edge in FramePermissions.Table.Keys.Select(k => k.Edge).Distinct())
        {
            Assert.True(operations.ContainsKey(edge), $"docs/asyncapi.yaml has no receive operation with x-edge: {edge}");
            Assert.Equal("receive", Scalar(operations[edge], "action"));
            var documented = OperationTypes(doc, operations[edge]);
            var accepted = FramePermissions.Table.Keys.Where(k => k.Edge == edge).Select(k => k.Type).ToHashSet(StringComparer.Ordinal);
            Assert.True(accepted.SetEquals(documented),
                $"{edge}: the hub accepts [{string.Join(", ", accepted.Order())}], docs/asyncapi.yaml says [{string.Join(", ", documented.Order())}]");
        }
    }

    [Fact]
    public void Every_frame_type_constant_is_a_message_and_every_channel_lists_the_close_codes()
    {
        var doc = Load();
        var documented = MessageTypes(doc).Values.ToHashSet(StringComparer.Ordinal);
        var constants = typeof(FrameTypes).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!).ToList();
        Assert.True(constants.Count >= 20, $"only {constants.Count} frame type constants found");
        Assert.All(constants, c => Assert.True(documented.Contains(c), $"frame type '{c}' (Kai.Protocol.Frames.FrameTypes) is not in docs/asyncapi.yaml"));

        var closeCodes = typeof(Kai.Protocol.CloseCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral).Select(f => Convert.ToInt32(f.GetRawConstantValue(), System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.NotEmpty(closeCodes);
        foreach (var channel in new[] { "agentLink", "eventLink" })
        {
            var listed = ((YamlSequenceNode)Map(doc, "channels", channel).Children[new YamlScalarNode("x-close-codes")]).Children
                .Select(c => int.Parse(Scalar(c, "code"), System.Globalization.CultureInfo.InvariantCulture)).ToHashSet();
            Assert.All(closeCodes, code => Assert.True(listed.Contains(code), $"close code {code} (Kai.Protocol.CloseCodes) is not listed on {channel}"));
        }
        Assert.Equal("/ws/agents/{agent_id}", Scalar(doc, "channels", "agentLink", "address"));
        Assert.Equal("/ws", Scalar(doc, "channels", "eventLink", "address"));
    }

    [SkippableFact]
    public async Task The_asyncapi_parser_finds_no_errors()
    {
        ExternalServers.Require(NodeTools.Node is not null && Directory.Exists(Path.Combine(NodeTools.NodeModules, "@asyncapi", "parser")),
            "@asyncapi/parser (npm install --prefix $KAI_NPM_TOOLS @asyncapi/parser@3.6.3)");
        var script = Path.Combine(NodeTools.RepositoryRoot, "tests", "Kai.Hub.Tests", "ApiDocs", "validate-asyncapi.cjs");
        var (exit, output) = await NodeTools.RunAsync(NodeTools.Node!, [script, DocumentPath], NodeTools.RepositoryRoot);
        Assert.True(exit == 0, $"docs/asyncapi.yaml is not valid AsyncAPI ({exit}):\n{output}");
        Assert.Contains("0 errors", output, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task The_asyncapi_check_rejects_a_broken_reference()
    {
        // The linter is only a judge if it can say no: the same document with one dangling message reference fails.
        ExternalServers.Require(NodeTools.Node is not null && Directory.Exists(Path.Combine(NodeTools.NodeModules, "@asyncapi", "parser")),
            "@asyncapi/parser (npm install --prefix $KAI_NPM_TOOLS @asyncapi/parser@3.6.3)");
        var broken = Path.Combine(Directory.CreateTempSubdirectory("kai-asyncapi-").FullName, "asyncapi.yaml");
        var text = await File.ReadAllTextAsync(DocumentPath);
        await File.WriteAllTextAsync(broken, text.Replace("#/channels/agentLink/messages/taskUpdate", "#/channels/agentLink/messages/no_such_message", StringComparison.Ordinal));
        var script = Path.Combine(NodeTools.RepositoryRoot, "tests", "Kai.Hub.Tests", "ApiDocs", "validate-asyncapi.cjs");
        var (exit, output) = await NodeTools.RunAsync(NodeTools.Node!, [script, broken], NodeTools.RepositoryRoot);
        Directory.Delete(Path.GetDirectoryName(broken)!, recursive: true);
        Assert.NotEqual(0, exit);
        Assert.Contains("no_such_message", output, StringComparison.Ordinal);
    }
}
