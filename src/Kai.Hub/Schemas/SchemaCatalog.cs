using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.RegularExpressions;
using Json.Schema;
using Kai.Hub.Storage;
using Kai.Protocol;
using Kai.Protocol.Rpc;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Schemas;

/// <summary>Limits on declarations that other capabilities set: RPC sets <see cref="MaxCacheTtlMs"/> from <c>Kai:Rpc:MaxCacheTtlMs</c>.</summary>
internal sealed class SchemaLimits
{
    /// <summary>The longest <c>cache_ttl_ms</c> a method declaration may ask for, milliseconds.</summary>
    public long MaxCacheTtlMs { get; set; } = 3_600_000;
}

/// <summary>The three kinds of things an agent declares schemas for.</summary>
internal enum SchemaKind
{
    /// <summary>An RPC method (AMRI, seed 001): <c>params</c> and <c>result</c>.</summary>
    Method,

    /// <summary>A command (seed 000): <c>parameters</c> and the command result.</summary>
    Command,

    /// <summary>A KAIL intent (seed 002): <c>payload.input</c> and <c>output</c>.</summary>
    Intent,
}

/// <summary>
/// What agents declared about the methods, commands and intents they serve (seed 000 "JSON schema validation for all commands"):
/// a JSON Schema for what the caller sends and for what the agent answers, and a cache TTL for methods.
/// </summary>
/// <remarks>
/// Declarations are stored with the agent (<see cref="IAgentStore.SetAgentSchemasAsync"/>), so they outlive restarts and every node
/// applies them. Each node keeps a compiled view per tenant and per agent for <see cref="CacheTtl"/> on the hub's clock: a change made
/// on this node is seen at once, one made on another node within that time. Methods and intents are looked up per tenant (the latest
/// declaration wins: calls are routed by name, not to one agent); commands per agent (a command names its agent). Schemas are
/// evaluated with JsonSchema.Net (draft 2020-12, formats asserted); each has its own empty registry, so a <c>$ref</c> can never make
/// the hub fetch a URL.
/// </remarks>
internal sealed partial class SchemaCatalog(IAgentStore store, TimeProvider time, IOptions<SchemaLimits> limits)
{
    /// <summary>Declarations of one kind an agent may make.</summary>
    public const int MaxDeclarations = 128;

    /// <summary>The largest schema accepted, characters of JSON.</summary>
    public const int MaxSchemaChars = 64 * 1024;

    /// <summary>How long a node uses what it read from the store before reading it again.</summary>
    public static readonly TimeSpan CacheTtl = TimeSpan.FromSeconds(2);

    // Views are dropped past this many tenants or agents (then rebuilt on use); bounds memory, not correctness.
    private const int MaxCachedViews = 10_000;

    private readonly ConcurrentDictionary<string, TenantView> _tenants = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, AgentView> _agents = new(StringComparer.Ordinal);

    // agent id → the JSON last compiled and its result: a view rebuilt every CacheTtl reuses it while the declarations are unchanged.
    private readonly ConcurrentDictionary<string, (string Json, Compiled Schemas)> _compiled = new(StringComparer.Ordinal);

    /// <summary>One declaration, compiled.</summary>
    public sealed record Declared(string AgentId, JsonSchema? Params, JsonSchema? Result, long? CacheTtlMs);

    /// <summary>One agent's declarations, compiled, by kind and name.</summary>
    public sealed record Compiled(
        IReadOnlyDictionary<string, Declared> Methods, IReadOnlyDictionary<string, Declared> Commands, IReadOnlyDictionary<string, Declared> Intents)
    {
        public static readonly Compiled Empty = new(new Dictionary<string, Declared>(), new Dictionary<string, Declared>(), new Dictionary<string, Declared>());

        public IReadOnlyDictionary<string, Declared> Of(SchemaKind kind) => kind switch
        {
            SchemaKind.Method => Methods, SchemaKind.Command => Commands, _ => Intents,
        };
    }

    private sealed record TenantView(DateTimeOffset ExpiresAt, Dictionary<string, Declared>[] ByKind);

    private sealed record AgentView(DateTimeOffset ExpiresAt, Compiled Schemas);

    [GeneratedRegex(@"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")]
    private static partial Regex MethodName();

    /// <summary>What is wrong with <paramref name="declarations"/> (each naming its field); empty when they may be set.</summary>
    public List<string> Problems(string agentId, AgentSchemaDeclarations? declarations) =>
        Compile(agentId, declarations, limits.Value.MaxCacheTtlMs).Problems;

    /// <summary>
    /// Compiles an agent's declarations. Returns the problems (each naming <c>methods.&lt;m&gt;.&lt;field&gt;</c>,
    /// <c>commands.…</c> or <c>intents.…</c>) and no result when there are any.
    /// </summary>
    public static (Compiled? Compiled, List<string> Problems) Compile(string agentId, AgentSchemaDeclarations? declarations, long maxCacheTtlMs)
    {
        var problems = new List<string>();
        var methods = CompileKind(agentId, "methods", declarations?.Methods, maxCacheTtlMs, problems,
            m => m.Length is > 0 and <= 128 && MethodName().IsMatch(m), "a method name (dot-separated names of letters, digits, '_' and '-')");
        var commands = CompileKind(agentId, "commands", declarations?.Commands, null, problems,
            c => c.Length is > 0 and <= 128, "a command name of 1 to 128 characters");
        var intents = CompileKind(agentId, "intents", declarations?.Intents, null, problems,
            i => i.Length is > 0 and <= 64, "an intent of 1 to 64 characters");
        return (problems.Count == 0 ? new Compiled(methods, commands, intents) : null, problems);
    }

    private static Dictionary<string, Declared> CompileKind(
        string agentId, string kind, IReadOnlyDictionary<string, RpcMethodDeclaration>? declarations, long? maxCacheTtlMs, List<string> problems,
        Func<string, bool> isName, string nameRule)
    {
        var compiled = new Dictionary<string, Declared>(StringComparer.Ordinal);
        if (declarations is null)
        {
            return compiled;
        }
        if (declarations.Count > MaxDeclarations)
        {
            problems.Add($"{kind} may declare at most {MaxDeclarations} entries");
            return compiled;
        }
        foreach (var (name, d) in declarations)
        {
            if (!isName(name))
            {
                problems.Add($"{kind}: '{name}' is not {nameRule}");
                continue;
            }
            if (d is null)
            {
                problems.Add($"{kind}.{name} must be an object {{params_schema?, result_schema?{(maxCacheTtlMs is null ? "" : ", cache_ttl_ms?")}}}");
                continue;
            }
            var p = Schema(d.ParamsSchema, $"{kind}.{name}.params_schema", problems);
            var r = Schema(d.ResultSchema, $"{kind}.{name}.result_schema", problems);
            if (d.CacheTtlMs is { } ttl)
            {
                if (maxCacheTtlMs is not { } max)
                {
                    problems.Add($"{kind}.{name}.cache_ttl_ms: only methods are cached");
                }
                else if (ttl < 0 || ttl > max)
                {
                    problems.Add($"{kind}.{name}.cache_ttl_ms must be from 0 to {max}");
                }
            }
            compiled[name] = new Declared(agentId, p, r, d.CacheTtlMs is > 0 ? d.CacheTtlMs : null);
        }
        return compiled;
    }

    private static JsonSchema? Schema(JsonElement? element, string field, List<string> problems)
    {
        if (element is not { } e || e.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            return null;
        }
        if (e.ValueKind is not (JsonValueKind.Object or JsonValueKind.True or JsonValueKind.False))
        {
            problems.Add($"{field} must be a JSON Schema (an object or a boolean)");
            return null;
        }
        var text = e.GetRawText();
        if (text.Length > MaxSchemaChars)
        {
            problems.Add($"{field} must be at most {MaxSchemaChars} characters of JSON");
            return null;
        }
        try
        {
            return JsonSchema.FromText(text, new BuildOptions { SchemaRegistry = new SchemaRegistry() });
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            problems.Add($"{field} is not a valid JSON Schema: {ex.Message}");
            return null;
        }
    }

    /// <summary>
    /// Replaces what <paramref name="agentId"/> declared with <paramref name="declarations"/> (already compiled without problems), durably;
    /// an empty set removes them. False when the agent is unknown.
    /// </summary>
    public async Task<bool> SetAsync(string tenant, string agentId, AgentSchemaDeclarations declarations, CancellationToken ct)
    {
        var empty = declarations.Methods is not { Count: > 0 } && declarations.Commands is not { Count: > 0 } && declarations.Intents is not { Count: > 0 };
        var stored = await store.SetAgentSchemasAsync(agentId, empty ? null : JsonSerializer.Serialize(declarations, KaiJson.Options), time.GetUtcNow(), ct);
        // Seen at once on this node; other nodes read the store again within CacheTtl.
        _tenants.TryRemove(tenant, out _);
        _agents.TryRemove(agentId, out _);
        return stored;
    }

    /// <summary>What <paramref name="agentId"/> declared, as stored (empty maps when nothing).</summary>
    public async Task<AgentSchemaDeclarations> GetAsync(string agentId, CancellationToken ct) =>
        await store.GetAgentSchemasAsync(agentId, ct) is { } row ? Parse(row.SchemasJson) : new AgentSchemaDeclarations();

    /// <summary>The declaration of method or intent <paramref name="name"/> in <paramref name="tenant"/> (the latest one), or null.</summary>
    public async ValueTask<Declared?> FindAsync(string tenant, SchemaKind kind, string name, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        if (!_tenants.TryGetValue(tenant, out var view) || view.ExpiresAt <= now)
        {
            view = await LoadTenantAsync(tenant, now, ct);
        }
        return view.ByKind[(int)kind].TryGetValue(name, out var d) ? d : null;
    }

    /// <summary>The declaration of command <paramref name="name"/> by agent <paramref name="agentId"/>, or null.</summary>
    public async ValueTask<Declared?> FindForAgentAsync(string agentId, SchemaKind kind, string name, CancellationToken ct) =>
        (await AgentAsync(agentId, ct)).Of(kind).TryGetValue(name, out var d) ? d : null;

    /// <summary>Whether <paramref name="agentId"/> declared a result schema for any entry of <paramref name="kind"/> (a cached read).</summary>
    public async ValueTask<bool> DeclaresResultsAsync(string agentId, SchemaKind kind, CancellationToken ct) =>
        (await AgentAsync(agentId, ct)).Of(kind).Values.Any(d => d.Result is not null);

    private async ValueTask<Compiled> AgentAsync(string agentId, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        if (!_agents.TryGetValue(agentId, out var view) || view.ExpiresAt <= now)
        {
            var row = await store.GetAgentSchemasAsync(agentId, ct);
            view = new AgentView(now + CacheTtl, row is null ? Compiled.Empty : CompiledOf(row));
            Remember(_agents, agentId, view);
        }
        return view.Schemas;
    }

    private async Task<TenantView> LoadTenantAsync(string tenant, DateTimeOffset now, CancellationToken ct)
    {
        var byKind = new[]
        {
            new Dictionary<string, Declared>(StringComparer.Ordinal), new Dictionary<string, Declared>(StringComparer.Ordinal),
            new Dictionary<string, Declared>(StringComparer.Ordinal),
        };
        // Oldest change first: a later declaration of the same name replaces an earlier one.
        foreach (var row in await store.ListAgentSchemasAsync(tenant, ct))
        {
            var compiled = CompiledOf(row);
            foreach (var kind in (SchemaKind[])[SchemaKind.Method, SchemaKind.Command, SchemaKind.Intent])
            {
                foreach (var (name, d) in compiled.Of(kind))
                {
                    byKind[(int)kind][name] = d;
                }
            }
        }
        var view = new TenantView(now + CacheTtl, byKind);
        Remember(_tenants, tenant, view);
        return view;
    }

    private Compiled CompiledOf(AgentSchemasRecord row)
    {
        if (_compiled.TryGetValue(row.AgentId, out var last) && last.Json == row.SchemasJson)
        {
            return last.Schemas;
        }
        // Stored declarations passed Compile when they were set; a row that no longer compiles (a schema library upgrade) is
        // left out rather than failing every call.
        var compiled = Compile(row.AgentId, Parse(row.SchemasJson), long.MaxValue).Compiled ?? Compiled.Empty;
        Remember(_compiled, row.AgentId, (row.SchemasJson, compiled));
        return compiled;
    }

    private static AgentSchemaDeclarations Parse(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<AgentSchemaDeclarations>(json, KaiJson.Options) ?? new AgentSchemaDeclarations();
        }
        catch (JsonException)
        {
            return new AgentSchemaDeclarations();
        }
    }

    private static void Remember<T>(ConcurrentDictionary<string, T> cache, string key, T value)
    {
        if (cache.Count >= MaxCachedViews)
        {
            cache.Clear();
        }
        cache[key] = value;
    }

    /// <summary>
    /// Validates <paramref name="value"/> against <paramref name="schema"/>: empty when valid, else each failing JSON Pointer of
    /// <paramref name="what"/> (<c>params/q</c>, <c>params/</c> for the root) with its messages. A value sealed as a JWE
    /// (<see cref="IsSealed"/>) is not read by the hub, so it is not checked: the receiving agent checks what it decrypts.
    /// </summary>
    public static IReadOnlyDictionary<string, string[]> Check(JsonSchema schema, JsonElement value, string what)
    {
        if (IsSealed(value))
        {
            return Valid;
        }
        var results = schema.Evaluate(value, new EvaluationOptions { OutputFormat = OutputFormat.List, RequireFormatValidation = true });
        if (results.IsValid)
        {
            return Valid;
        }
        var failures = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var detail in (IEnumerable<EvaluationResults>?)results.Details ?? [results])
        {
            if (detail.Errors is { Count: > 0 } errors)
            {
                var path = detail.InstanceLocation.ToString();
                var key = what + (path.Length == 0 ? "/" : path);
                if (!failures.TryGetValue(key, out var list))
                {
                    failures[key] = list = [];
                }
                list.AddRange(errors.Select(kv => $"{kv.Key}: {kv.Value}").Where(m => !list.Contains(m)));
            }
        }
        if (failures.Count == 0)
        {
            failures[what + "/"] = ["does not match the declared schema"];
        }
        return failures.Take(20).ToDictionary(kv => kv.Key, kv => kv.Value.ToArray(), StringComparer.Ordinal);
    }

    /// <summary>The failures of <see cref="Check"/> on one line: <c>params/a: type: …; params/b: …</c>.</summary>
    public static string Describe(IReadOnlyDictionary<string, string[]> failures) =>
        string.Join("; ", failures.SelectMany(kv => kv.Value.Select(m => $"{kv.Key}: {m}")));

    private static readonly IReadOnlyDictionary<string, string[]> Valid = new Dictionary<string, string[]>();

    /// <summary>Whether <paramref name="value"/> is an encrypted payload (a JWE, <see cref="EncryptedPayload.IsEncrypted"/>), which the hub routes without reading.</summary>
    public static bool IsSealed(JsonElement value) => EncryptedPayload.IsEncrypted(value);
}
