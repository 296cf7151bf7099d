using System.Text.Json;
using System.Text.Json.Serialization;
using Kai.Protocol;

namespace Kai.Hub.Hosting.Adapters;

/// <summary>
/// One call of an external (webhook, custom-API or shell) agent: what the hub delivered to it, in one shape whatever the frame.
/// </summary>
/// <param name="Kind"><c>command</c>, <c>task</c>, <c>message</c>, <c>rpc</c> or <c>invocation</c>.</param>
/// <param name="Id">The delivery's id (command, task, correlation, RPC or invocation hop id): the <c>webhook-id</c>, stable across retries.</param>
/// <param name="AgentId">The agent called.</param>
/// <param name="Intent">The command name, task type, message type, RPC method or KAIL intent.</param>
/// <param name="Input">The command parameters, task input, message content, RPC params or invocation input.</param>
/// <param name="Options">A KAIL invocation's <c>payload.options</c>.</param>
/// <param name="ThreadId">A KAIL invocation's <c>context.thread_id</c>.</param>
/// <param name="Sender">Who asked: the invocation's sender or the message's sending agent, when known.</param>
internal sealed record ExternalCall(
    string Kind, string Id, string AgentId, string Intent, JsonElement Input, JsonElement? Options = null, string? ThreadId = null, string? Sender = null)
{
    /// <summary>
    /// The default request body (webhook POST, shell stdin), shaped as seed 002 §IV's <c>AgentInvocation</c>:
    /// <c>{type: "AgentInvocation", version: "1.0", id, kind, target, intent, payload{input, options?}, context{thread_id?, timestamp}, sender?}</c>.
    /// </summary>
    public string Body(DateTimeOffset now) => JsonSerializer.Serialize(new Wire(
        "AgentInvocation", "1.0", Id, Kind, "kah:agent.local." + AgentId, Intent, Sender,
        new WirePayload(Input.ValueKind == JsonValueKind.Undefined ? default : Input, Options),
        new WireContext(ThreadId, now)), KaiJson.Options);

    private sealed record Wire(
        string Type, string Version, string Id, string Kind, string Target, string Intent,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Sender, WirePayload Payload, WireContext Context);

    private sealed record WirePayload(JsonElement Input, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] JsonElement? Options);

    private sealed record WireContext([property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ThreadId, DateTimeOffset Timestamp);

    /// <summary>The text of a placeholder: <c>id</c>, <c>kind</c>, <c>agent_id</c>, <c>intent</c>, <c>thread_id</c>, <c>input</c> or <c>input.&lt;field&gt;</c>; null when unknown or absent.</summary>
    public JsonElement? Value(string name)
    {
        static JsonElement S(string? s) => JsonSerializer.SerializeToElement(s);
        return name switch
        {
            "id" => S(Id),
            "kind" => S(Kind),
            "agent_id" => S(AgentId),
            "intent" => S(Intent),
            "thread_id" => ThreadId is null ? null : S(ThreadId),
            "input" => Input.ValueKind == JsonValueKind.Undefined ? null : Input,
            _ when name.StartsWith("input.", StringComparison.Ordinal) && Input.ValueKind == JsonValueKind.Object
                && Input.TryGetProperty(name["input.".Length..], out var field) => field,
            _ => null,
        };
    }

    /// <summary>A placeholder as text: strings as they are, other JSON as its compact text, absent as empty.</summary>
    public string Text(string name) => Value(name) switch
    {
        { ValueKind: JsonValueKind.String } s => s.GetString()!,
        { ValueKind: JsonValueKind.Null } or null => "",
        { } v => v.GetRawText(),
    };
}

/// <summary>An external agent's answer: the output (the response body or stdout, as JSON when it parses, else a string) and the retries made.</summary>
internal sealed record ExternalResult(JsonElement Output, int Retries)
{
    public IReadOnlyList<TimeSpan> RetryDelays { get; init; } = [];

    /// <summary>JSON when the text parses as JSON, else the text as a JSON string.</summary>
    public static JsonElement Parse(string text)
    {
        var trimmed = text.Trim();
        if (trimmed.Length > 0 && trimmed[0] is '{' or '[' or '"' || trimmed is "true" or "false" or "null" || (trimmed.Length > 0 && (char.IsDigit(trimmed[0]) || trimmed[0] == '-')))
        {
            try
            {
                using var doc = JsonDocument.Parse(trimmed);
                return doc.RootElement.Clone();
            }
            catch (JsonException)
            {
            }
        }
        return JsonSerializer.SerializeToElement(text.TrimEnd('\n', '\r'));
    }
}

/// <summary>Seed 002 §V <c>AgentInterfaceAdapter</c> for non-LLM agents: one call in, one answer out.</summary>
internal interface IExternalAdapter
{
    /// <summary>What the agent is (for logs): <c>webhook https://…</c>, <c>shell cat</c>.</summary>
    string Describe { get; }

    /// <exception cref="AdapterException">Refused, timed out, rate limited, unavailable, a bad answer, or a failed process.</exception>
    Task<ExternalResult> InvokeAsync(ExternalCall call, CancellationToken ct);
}
