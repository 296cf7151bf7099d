using System.Text.Json;
using System.Text.Json.Nodes;
using Kai.Hub.Storage;

namespace Kai.Hub.A2a;

/// <summary>
/// A2A agent cards (a2aproject/A2A, docs/specification.md §4.4 and §8) built from the registry: the hub's card at
/// <c>/.well-known/agent-card.json</c>, and one per agent that opts in with <c>"a2a": true</c> (or an object) in its config, at
/// <c>/a2a/agents/{agent_id}/.well-known/agent-card.json</c>. Skills are the agent's capabilities and the intents its config names.
/// </summary>
/// <remarks>
/// One document serves both protocol versions: the A2A 1.0 fields (<c>supportedInterfaces</c>, <c>securityRequirements</c>, ProtoJSON
/// security schemes) and the 0.3 ones (<c>url</c>, <c>preferredTransport</c>, <c>protocolVersion</c>, <c>security</c>, an OpenAPI-style
/// scheme); each client reads its own and ignores the other's. Cards are public: they only list agents whose owner opted in.
/// </remarks>
internal sealed class AgentCards(IAgentStore agents)
{
    /// <summary>The JSON-RPC endpoint of the hub (capability routing).</summary>
    public const string HubPath = "/a2a";

    /// <summary>At most this many opted-in agents contribute skills to the hub's card.</summary>
    public const int MaxAgentsOnHubCard = 500;

    public static string AgentPath(string agentId) => $"/a2a/agents/{Uri.EscapeDataString(agentId)}";

    /// <summary>Whether the agent opted in: config <c>a2a</c> is <c>true</c>, or an object without <c>"enabled": false</c>.</summary>
    public static bool OptedIn(AgentRecord agent) => A2aConfig(agent) is { } c
        && (c.ValueKind == JsonValueKind.True
            || (c.ValueKind == JsonValueKind.Object && !(c.TryGetProperty("enabled", out var e) && e.ValueKind == JsonValueKind.False)));

    private static JsonElement? A2aConfig(AgentRecord agent)
    {
        try
        {
            using var doc = JsonDocument.Parse(agent.ConfigJson);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("a2a", out var a2a) ? a2a.Clone() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? ConfigString(AgentRecord agent, string name) =>
        A2aConfig(agent) is { ValueKind: JsonValueKind.Object } c && c.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>The agent's skills: its capabilities, then the intents of <c>config.a2a.intents</c> (strings), without repeats.</summary>
    public static IReadOnlyList<string> Skills(AgentRecord agent)
    {
        var intents = A2aConfig(agent) is { ValueKind: JsonValueKind.Object } c && c.TryGetProperty("intents", out var i) && i.ValueKind == JsonValueKind.Array
            ? i.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!)
            : [];
        return [.. agent.Capabilities.Concat(intents).Where(s => s.Length is >= 1 and <= 64).Distinct(StringComparer.Ordinal)];
    }

    /// <summary>The agent if it exists and opted in; else null (its card and endpoint answer 404).</summary>
    public async Task<AgentRecord?> GetOptedInAsync(string agentId, CancellationToken ct)
    {
        var agent = agentId.Length <= 64 ? await agents.GetAgentAsync(agentId, ct) : null;
        return agent is not null && OptedIn(agent) ? agent : null;
    }

    public async Task<JsonObject> HubCardAsync(string baseUrl, CancellationToken ct)
    {
        var (items, _) = await agents.ListAgentsAsync(new AgentQuery(null, null, null, null, MaxAgentsOnHubCard, 0), ct);
        var skills = items.Where(OptedIn).SelectMany(Skills).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)
            .Select(s => Skill(s, $"Routed to an agent of the caller's tenant that has the capability '{s}'."));
        return Card("Kai Hub", "A communication hub for multi-agent systems. A message names the skill (capability) in message.metadata.skill; "
            + "the hub routes it as a task to an agent of the caller's tenant with that capability.", baseUrl, HubPath, skills);
    }

    public static JsonObject AgentCard(AgentRecord agent, string baseUrl) =>
        Card(agent.Name, ConfigString(agent, "description") ?? $"{agent.Name} ({agent.Type}), an agent on Kai Hub.", baseUrl, AgentPath(agent.AgentId),
            Skills(agent).Select(s => Skill(s, $"{agent.Name}: {s}.")), agent.Version);

    private static JsonObject Skill(string id, string description) => new()
    {
        ["id"] = id,
        ["name"] = id,
        ["description"] = description,
        ["tags"] = new JsonArray(id.Split('.')[0]),
        ["examples"] = new JsonArray(),
        ["inputModes"] = Modes(),
        ["outputModes"] = Modes(),
    };

    private static JsonArray Modes() => new("text/plain", "application/json");

    private static JsonObject Card(string name, string description, string baseUrl, string path, IEnumerable<JsonObject> skills, string? version = null)
    {
        var url = baseUrl.TrimEnd('/') + path;
        return new JsonObject
        {
            ["name"] = name,
            ["description"] = description,
            ["version"] = version ?? "1.0.0",
            // A2A 1.0
            ["supportedInterfaces"] = new JsonArray(new JsonObject { ["url"] = url, ["protocolBinding"] = "JSONRPC", ["protocolVersion"] = "1.0" }),
            ["provider"] = new JsonObject { ["organization"] = "Kai Hub", ["url"] = baseUrl },
            ["documentationUrl"] = baseUrl.TrimEnd('/') + "/docs",
            ["capabilities"] = new JsonObject { ["streaming"] = true, ["pushNotifications"] = true, ["extendedAgentCard"] = false },
            ["securitySchemes"] = new JsonObject
            {
                ["bearer"] = new JsonObject
                {
                    // 1.0 (ProtoJSON oneof) ...
                    ["httpAuthSecurityScheme"] = new JsonObject
                    {
                        ["scheme"] = "bearer",
                        ["bearerFormat"] = "JWT",
                        ["description"] = "A Kai Hub access token (POST /api/v1/auth/login for users, /api/v1/auth/token for agents).",
                    },
                    // ... and 0.3 (OpenAPI style).
                    ["type"] = "http",
                    ["scheme"] = "bearer",
                    ["bearerFormat"] = "JWT",
                },
            },
            ["securityRequirements"] = new JsonArray(new JsonObject { ["schemes"] = new JsonObject { ["bearer"] = new JsonObject { ["list"] = new JsonArray() } } }),
            ["defaultInputModes"] = Modes(),
            ["defaultOutputModes"] = Modes(),
            ["skills"] = new JsonArray([.. skills]),
            // A2A 0.3
            ["protocolVersion"] = "0.3.0",
            ["url"] = url,
            ["preferredTransport"] = "JSONRPC",
            ["security"] = new JsonArray(new JsonObject { ["bearer"] = new JsonArray() }),
        };
    }
}
