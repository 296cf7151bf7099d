using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Rpc;

/// <summary>How a method's retries wait (seed 001 §7).</summary>
internal enum RpcBackoff
{
    /// <summary>Retry at once.</summary>
    None,
    /// <summary><c>DelayMs × attempt</c> (1 s, 2 s, 3 s for the seed's <c>agent.*</c>).</summary>
    Linear,
    /// <summary><c>DelayMs × 2^(attempt−1)</c>.</summary>
    Exponential,
}

/// <summary>The deadline and retry policy of one method pattern (seed 001 §7).</summary>
internal sealed class RpcMethodPolicy
{
    /// <summary>The deadline of one attempt, milliseconds.</summary>
    public int TimeoutMs { get; set; } = 10_000;

    /// <summary>Retries after the first attempt (to another instance of the capability when there is one).</summary>
    public int Retries { get; set; }

    /// <summary>How retries wait.</summary>
    public RpcBackoff Backoff { get; set; } = RpcBackoff.None;

    /// <summary>The base backoff delay, milliseconds (ignored for <see cref="RpcBackoff.None"/>).</summary>
    public int DelayMs { get; set; } = 1000;

    /// <summary>
    /// Cache successful results of matching methods for this many milliseconds (0: no caching), keyed by tenant, target, method and
    /// the RFC 8785 canonical form of <c>params</c>; a hit answers without calling an agent, with <c>metrics.cache: "hit"</c>.
    /// An agent's <c>agent.register</c> <c>methods.&lt;m&gt;.cache_ttl_ms</c> overrides it for that method.
    /// </summary>
    public long CacheTtlMs { get; set; }
}

/// <summary>
/// AMRI settings, section <c>Kai:Rpc</c> (docs/operations.md): the per-method deadline and retry table (the seed 001 §7 table is the
/// default; a key overrides or adds a pattern), the routing table entries from configuration (seed 001 §9), and the transport limits.
/// Validated at start: a bad value stops the hub with one line naming the key.
/// </summary>
internal sealed class RpcOptions
{
    public const string Section = "Kai:Rpc";

    /// <summary>Method pattern → policy. A pattern is a method (<c>memory.query</c>), a prefix with <c>.*</c> (<c>memory.*</c>), or <c>*</c>; the longest match wins.</summary>
    public Dictionary<string, RpcMethodPolicy> Methods { get; set; } = new(StringComparer.Ordinal)
    {
        ["agent.*"] = new() { TimeoutMs = 5000, Retries = 3, Backoff = RpcBackoff.Linear, DelayMs = 1000 },
        ["memory.*"] = new() { TimeoutMs = 2500, Retries = 2, Backoff = RpcBackoff.Exponential, DelayMs = 200 },
        ["llm_chat.*"] = new() { TimeoutMs = 10_000, Retries = 1, Backoff = RpcBackoff.None },
        ["media_gen.*"] = new() { TimeoutMs = 15_000, Retries = 0, Backoff = RpcBackoff.None },
        ["*"] = new() { TimeoutMs = 10_000, Retries = 0, Backoff = RpcBackoff.None },
    };

    /// <summary>Method prefix → target, <c>agent:&lt;id&gt;</c> or <c>capability:&lt;name&gt;</c> (a bare name is a capability). Seed 001 §9: <c>"llm.chat": "capability:llm_chat"</c>.</summary>
    public Dictionary<string, string> Routes { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Requests one <c>/ws/rpc</c> link may have in flight; more are answered with <c>RATE_LIMIT_EXCEEDED</c>.</summary>
    public int MaxInFlightPerLink { get; set; } = 256;

    /// <summary>Requests in one JSON-RPC batch.</summary>
    public int MaxBatch { get; set; } = 100;

    /// <summary>The largest <c>ttl</c> accepted, milliseconds.</summary>
    public long MaxTtlMs { get; set; } = 600_000;

    /// <summary>Cached results kept at most (all tenants); past it, new results are not cached until entries expire.</summary>
    public int MaxCacheEntries { get; set; } = 10_000;

    /// <summary>The longest cache TTL a policy or an agent may set, milliseconds.</summary>
    public long MaxCacheTtlMs { get; set; } = 3_600_000;

    /// <summary>How long a request with a <c>callback</c> waits for its (late) response when it carries no <c>ttl</c>, milliseconds.</summary>
    public long CallbackWindowMs { get; set; } = 3_600_000;

    /// <summary>Agents a scatter-gather request goes to at most.</summary>
    public int MaxScatter { get; set; } = 64;
}

/// <summary>Checks <see cref="RpcOptions"/> at start (ValidateOnStart), naming each bad key.</summary>
internal sealed partial class RpcOptionsValidator : IValidateOptions<RpcOptions>
{
    [GeneratedRegex(@"^(\*|[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*(\.\*)?)$")]
    internal static partial Regex Pattern();

    [GeneratedRegex(@"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")]
    internal static partial Regex Prefix();

    public ValidateOptionsResult Validate(string? name, RpcOptions options)
    {
        var errors = new List<string>();
        foreach (var (pattern, p) in options.Methods)
        {
            var key = $"{RpcOptions.Section}:Methods:{pattern}";
            if (!Pattern().IsMatch(pattern))
            {
                errors.Add($"{key}: '{pattern}' is not a method pattern (a method, 'prefix.*' or '*')");
            }
            if (p.TimeoutMs is < 1 or > 600_000)
            {
                errors.Add($"{key}:TimeoutMs must be from 1 to 600000 (was {p.TimeoutMs})");
            }
            if (p.Retries is < 0 or > 10)
            {
                errors.Add($"{key}:Retries must be from 0 to 10 (was {p.Retries})");
            }
            if (p.DelayMs is < 0 or > 60_000)
            {
                errors.Add($"{key}:DelayMs must be from 0 to 60000 (was {p.DelayMs})");
            }
            if (p.CacheTtlMs < 0 || p.CacheTtlMs > options.MaxCacheTtlMs)
            {
                errors.Add($"{key}:CacheTtlMs must be from 0 to MaxCacheTtlMs ({options.MaxCacheTtlMs}) (was {p.CacheTtlMs})");
            }
            if (!Enum.IsDefined(p.Backoff))
            {
                errors.Add($"{key}:Backoff must be none, linear or exponential");
            }
        }
        foreach (var (prefix, target) in options.Routes)
        {
            var key = $"{RpcOptions.Section}:Routes:{prefix}";
            if (!Prefix().IsMatch(prefix))
            {
                errors.Add($"{key}: '{prefix}' is not a method prefix (dot-separated names)");
            }
            if (RpcTarget.Parse(target) is null)
            {
                errors.Add($"{key}: '{target}' is not a target ('agent:<id>' or 'capability:<name>')");
            }
        }
        foreach (var (setting, value, min, max) in new (string, long, long, long)[]
        {
            ("MaxInFlightPerLink", options.MaxInFlightPerLink, 1, 100_000),
            ("MaxBatch", options.MaxBatch, 1, 10_000),
            ("MaxTtlMs", options.MaxTtlMs, 1, 86_400_000),
            ("MaxCacheEntries", options.MaxCacheEntries, 0, 10_000_000),
            ("MaxCacheTtlMs", options.MaxCacheTtlMs, 0, 86_400_000),
            ("CallbackWindowMs", options.CallbackWindowMs, 1, 86_400_000),
            ("MaxScatter", options.MaxScatter, 1, 1000),
        })
        {
            if (value < min || value > max)
            {
                errors.Add(string.Create(CultureInfo.InvariantCulture, $"{RpcOptions.Section}:{setting} must be from {min} to {max}"));
            }
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>A routing table target: an agent or a capability.</summary>
internal sealed record RpcTarget(bool IsCapability, string Name)
{
    public override string ToString() => (IsCapability ? "capability:" : "agent:") + Name;

    /// <summary>Reads <c>agent:&lt;id&gt;</c>, <c>capability:&lt;name&gt;</c> or a bare capability name; null when malformed.</summary>
    public static RpcTarget? Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }
        var (cap, name) = text.StartsWith("agent:", StringComparison.Ordinal) ? (false, text[6..])
            : text.StartsWith("capability:", StringComparison.Ordinal) ? (true, text[11..]) : (true, text);
        return name.Length is > 0 and <= 64 && !name.Any(char.IsWhiteSpace) ? new RpcTarget(cap, name) : null;
    }
}
