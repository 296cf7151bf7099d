using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Kai.Protocol.Kail;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Rpc;

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
