using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Json.Schema;
using Kai.Protocol.Kail;
using Kai.Protocol.Rpc;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Rpc;

/// <summary>
/// What agents declared about the methods they serve (<c>agent.register</c> <c>methods</c>, seed 000 "JSON schema validation for all
/// commands"): a JSON Schema for the <c>params</c> and for the <c>result</c>, and a cache TTL. Kept per tenant and method (the latest
/// registration wins; an agent's next registration replaces what it declared), in memory like the routing table's registrations.
/// Schemas are evaluated with JsonSchema.Net (draft 2020-12, formats asserted, no remote <c>$ref</c>: each schema has its own empty registry).
/// </summary>
internal sealed class RpcMethodCatalog
{
    /// <summary>Declarations an agent may make in one registration.</summary>
    public const int MaxMethods = 128;

    /// <summary>The largest schema accepted, characters of JSON.</summary>
    public const int MaxSchemaChars = 64 * 1024;

    // tenant → method → declaration
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, Declared>> _declared = new(StringComparer.Ordinal);

    /// <summary>One method's compiled declaration.</summary>
    public sealed record Declared(string AgentId, JsonSchema? Params, JsonSchema? Result, long? CacheTtlMs);

    /// <summary>
    /// Compiles an agent's declarations; returns the problems (naming <c>methods.&lt;m&gt;.&lt;field&gt;</c>) and changes nothing when there are any.
    /// </summary>
    public static (Dictionary<string, Declared>? Compiled, List<string> Problems) Compile(
        string agentId, IReadOnlyDictionary<string, RpcMethodDeclaration>? methods, long maxCacheTtlMs)
    {
        var problems = new List<string>();
        var compiled = new Dictionary<string, Declared>(StringComparer.Ordinal);
        if (methods is null)
        {
            return (compiled, problems);
        }
        if (methods.Count > MaxMethods)
        {
            problems.Add($"methods may declare at most {MaxMethods} methods");
            return (null, problems);
        }
        foreach (var (method, d) in methods)
        {
            if (method.Length is 0 or > 128 || !RpcOptionsValidator.Prefix().IsMatch(method))
            {
                problems.Add($"methods: '{method}' is not a method name (dot-separated names of letters, digits, '_' and '-')");
                continue;
            }
            if (d is null)
            {
                problems.Add($"methods.{method} must be an object {{params_schema?, result_schema?, cache_ttl_ms?}}");
                continue;
            }
            var p = Schema(d.ParamsSchema, $"methods.{method}.params_schema", problems);
            var r = Schema(d.ResultSchema, $"methods.{method}.result_schema", problems);
            if (d.CacheTtlMs is { } ttl && (ttl < 0 || ttl > maxCacheTtlMs))
            {
                problems.Add($"methods.{method}.cache_ttl_ms must be from 0 to {maxCacheTtlMs}");
            }
            compiled[method] = new Declared(agentId, p, r, d.CacheTtlMs is > 0 ? d.CacheTtlMs : null);
        }
        return (problems.Count == 0 ? compiled : null, problems);
    }

    private static JsonSchema? Schema(JsonElement? element, string field, List<string> problems)
    {
        if (element is not { } e || e.ValueKind == JsonValueKind.Null)
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

    /// <summary>Replaces what <paramref name="agentId"/> declared for <paramref name="tenant"/> with <paramref name="compiled"/>.</summary>
    public void Register(string tenant, string agentId, IReadOnlyDictionary<string, Declared> compiled)
    {
        var table = _declared.GetOrAdd(tenant, _ => new ConcurrentDictionary<string, Declared>(StringComparer.Ordinal));
        foreach (var (method, d) in table)
        {
            if (d.AgentId == agentId && !compiled.ContainsKey(method))
            {
                table.TryRemove(new KeyValuePair<string, Declared>(method, d));
            }
        }
        foreach (var (method, d) in compiled)
        {
            table[method] = d;
        }
    }

    /// <summary>The declaration of <paramref name="method"/> in <paramref name="tenant"/>, or null.</summary>
    public Declared? Find(string tenant, string method) =>
        _declared.TryGetValue(tenant, out var table) && table.TryGetValue(method, out var d) ? d : null;

    /// <summary>
    /// Validates <paramref name="value"/> against <paramref name="schema"/>: null when valid, else one line naming each failing JSON Pointer
    /// (<c>/q: type: …</c>, <c>/</c> for the root) of <paramref name="what"/>.
    /// </summary>
    public static string? Check(JsonSchema schema, JsonElement value, string what)
    {
        var results = schema.Evaluate(value, new EvaluationOptions { OutputFormat = OutputFormat.List, RequireFormatValidation = true });
        if (results.IsValid)
        {
            return null;
        }
        var lines = new List<string>();
        foreach (var detail in (IEnumerable<EvaluationResults>?)results.Details ?? [results])
        {
            if (detail.Errors is { Count: > 0 } errors)
            {
                var path = detail.InstanceLocation.ToString();
                lines.AddRange(errors.Select(kv => $"{what}{(path.Length == 0 ? "/" : path)}: {kv.Key}: {kv.Value}"));
            }
        }
        return lines.Count == 0 ? $"{what} does not match the declared schema" : string.Join("; ", lines.Distinct(StringComparer.Ordinal).Take(20));
    }
}

/// <summary>
/// The RPC result cache (seed 000 "intelligent response caching for repeated queries"): successful results of methods with a cache TTL,
/// keyed by tenant, target, method and the RFC 8785 canonical JSON of <c>params</c> (so <c>{"a":1,"b":2}</c> and <c>{"b":2,"a":1}</c> are one
/// entry). Expiry is on the hub's clock; at most <see cref="RpcOptions.MaxCacheEntries"/> entries (past it, expired ones are dropped and a
/// new result is not cached while the cache is still full). Tenants never share entries.
/// </summary>
internal sealed class RpcResultCache(IOptions<RpcOptions> options, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly int _max = options.Value.MaxCacheEntries;

    /// <summary>A cached reply: who answered, the result, when it was stored and until when it counts.</summary>
    public sealed record Entry(string AgentId, JsonElement Result, DateTimeOffset StoredAt, DateTimeOffset ExpiresAt);

    /// <summary>The cache key; null when the params have no canonical form (not I-JSON), which is then never cached.</summary>
    public static string? Key(string tenant, string target, string method, JsonElement? @params)
    {
        string canonical;
        try
        {
            canonical = @params is { ValueKind: not JsonValueKind.Undefined and not JsonValueKind.Null } p
                ? Encoding.UTF8.GetString(JsonCanonicalizer.Canonicalize(p)) : "{}";
        }
        catch (JsonCanonicalizationException)
        {
            return null;
        }
        return string.Join('\n', tenant, target, method, canonical);
    }

    /// <summary>The live entry for <paramref name="key"/>, or null (an expired one is dropped).</summary>
    public Entry? Get(string key)
    {
        if (!_entries.TryGetValue(key, out var e))
        {
            return null;
        }
        if (e.ExpiresAt > time.GetUtcNow())
        {
            return e;
        }
        _entries.TryRemove(new KeyValuePair<string, Entry>(key, e));
        return null;
    }

    /// <summary>Stores a successful result for <paramref name="ttlMs"/> milliseconds.</summary>
    public void Put(string key, string agentId, JsonElement result, long ttlMs)
    {
        var now = time.GetUtcNow();
        if (_entries.Count >= _max && !_entries.ContainsKey(key))
        {
            foreach (var (k, e) in _entries)
            {
                if (e.ExpiresAt <= now)
                {
                    _entries.TryRemove(new KeyValuePair<string, Entry>(k, e));
                }
            }
            if (_entries.Count >= _max)
            {
                return;
            }
        }
        _entries[key] = new Entry(agentId, result.Clone(), now, now.AddMilliseconds(ttlMs));
    }

    /// <summary>Entries held now (expired ones included until they are next looked at).</summary>
    public int Count => _entries.Count;
}
