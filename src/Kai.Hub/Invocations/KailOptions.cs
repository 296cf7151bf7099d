using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Invocations;

/// <summary>
/// The <c>Kai:Kail</c> section (seed 002 §VII <c>kail_config.yaml</c>: <c>enabled, transport, default_agent_model, logging, trace_stack,
/// retries: 2, timeout: 10</c>, plus the hub's replay window, depth limit and fallback pools), validated at start
/// (<see cref="KailOptionsValidator"/>). The permission grants of the same section are <see cref="Auth.InvocationPolicyOptions"/>.
/// </summary>
internal sealed class KailOptions
{
    public const string Section = "Kai:Kail";

    /// <summary>The transports the seed names and what they are here.</summary>
    public static readonly IReadOnlyList<string> KnownTransports = ["local_ipc", "klp_transport", "http_bridge"];

    /// <summary>When false, <c>/api/v1/invocations</c> and <c>invocation</c> frames answer 404 / UNSUPPORTED_FRAME-like NOT_FOUND.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Seed <c>transport</c>: <c>http_bridge</c> (the REST routes), <c>local_ipc</c> (agent links on this node), <c>klp_transport</c>
    /// (other nodes through the backplane). Each must be one of <see cref="KnownTransports"/>; at least one.
    /// </summary>
    [ConfigurationKeyName("transport")]
    public List<string> Transport { get; set; } = ["local_ipc", "klp_transport", "http_bridge"];

    /// <summary>Seed <c>default_agent_model</c>: the model a hosted LLM agent is asked for when an invocation's <c>options.model</c> names none
    /// (null: the agent's own configured model).</summary>
    [ConfigurationKeyName("default_agent_model")]
    public string? DefaultAgentModel { get; set; }

    /// <summary>Seed <c>logging</c>: log each finished invocation at Information.</summary>
    public bool Logging { get; set; } = true;

    /// <summary>Seed <c>trace_stack</c>: return the InvocationStack with results (it is always audited).</summary>
    [ConfigurationKeyName("trace_stack")]
    public bool TraceStack { get; set; } = true;

    /// <summary>Seed <c>retries</c>: further tries of a step after a failure or timeout, each to the next backup agent when there is one (0 to 10).</summary>
    public int Retries { get; set; } = 2;

    /// <summary>Seed <c>timeout</c>: seconds each try may take before the next one (0.1 to 600); <c>context.timeout_ms</c> overrides it per invocation.</summary>
    public double Timeout { get; set; } = 10;

    /// <summary>Deepest nesting of invocations made while handling others (loop guard), 1 to 64.</summary>
    [ConfigurationKeyName("max_depth")]
    public int MaxDepth { get; set; } = 8;

    /// <summary>Seconds an invocation id is remembered as a nonce, and the oldest <c>context.timestamp</c> accepted (seed 002 §VIII TTL), 1 to 86400.</summary>
    [ConfigurationKeyName("replay_window")]
    public double ReplayWindow { get; set; } = 300;

    /// <summary>Seconds a <c>context.timestamp</c> may be ahead of the hub's clock (0 to 3600).</summary>
    [ConfigurationKeyName("clock_skew")]
    public double ClockSkew { get; set; } = 30;

    /// <summary>Seed 002 §IX backup pool, in policy order: intent → handles tried before the agents with a capability named like the intent.</summary>
    public Dictionary<string, List<string>> Fallbacks { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Stream chunks kept per running invocation for late SSE readers.</summary>
    [ConfigurationKeyName("max_buffered_chunks")]
    public int MaxBufferedChunks { get; set; } = 1024;

    /// <summary>Minutes a finished invocation stays in memory (after that, <c>GET</c> reads it from the log).</summary>
    [ConfigurationKeyName("keep_finished_minutes")]
    public double KeepFinishedMinutes { get; set; } = 10;

    /// <summary>
    /// Signed envelopes (seed 002 §VIII): <c>off</c> (signatures are ignored and results are not signed), <c>verify-if-present</c> (the default:
    /// a present signature must verify; unsigned envelopes pass) or <c>required</c> (unsigned envelopes are refused with SIGNATURE_REQUIRED).
    /// </summary>
    public string Signatures { get; set; } = SignatureModes.VerifyIfPresent;

    /// <summary>Intents that need a signature even under <c>verify-if-present</c> (ignored under <c>off</c>).</summary>
    [ConfigurationKeyName("signed_intents")]
    public List<string> SignedIntents { get; set; } = [];

    public TimeSpan TryTimeout => TimeSpan.FromSeconds(Timeout);
}

/// <summary>The values of <see cref="KailOptions.Signatures"/>.</summary>
internal static class SignatureModes
{
    public const string Off = "off";
    public const string VerifyIfPresent = "verify-if-present";
    public const string Required = "required";
    public static readonly IReadOnlyList<string> All = [Off, VerifyIfPresent, Required];
}

/// <summary>Refuses a <c>Kai:Kail</c> section the hub cannot run with, at start, naming each key.</summary>
internal sealed class KailOptionsValidator : IValidateOptions<KailOptions>
{
    public ValidateOptionsResult Validate(string? name, KailOptions o)
    {
        var errors = new List<string>();
        if (o.Transport.Count == 0)
        {
            errors.Add("Kai:Kail:transport must name at least one transport: " + string.Join(", ", KailOptions.KnownTransports));
        }
        foreach (var t in o.Transport.Where(t => !KailOptions.KnownTransports.Contains(t)))
        {
            errors.Add($"Kai:Kail:transport '{t}' is unknown; known: {string.Join(", ", KailOptions.KnownTransports)}");
        }
        if (o.Retries is < 0 or > 10)
        {
            errors.Add("Kai:Kail:retries must be 0 to 10");
        }
        if (o.Timeout is < 0.1 or > 600 || double.IsNaN(o.Timeout))
        {
            errors.Add("Kai:Kail:timeout must be 0.1 to 600 seconds");
        }
        if (o.MaxDepth is < 1 or > 64)
        {
            errors.Add("Kai:Kail:max_depth must be 1 to 64");
        }
        if (o.ReplayWindow is < 1 or > 86400 || double.IsNaN(o.ReplayWindow))
        {
            errors.Add("Kai:Kail:replay_window must be 1 to 86400 seconds");
        }
        if (o.ClockSkew is < 0 or > 3600 || double.IsNaN(o.ClockSkew))
        {
            errors.Add("Kai:Kail:clock_skew must be 0 to 3600 seconds");
        }
        if (o.MaxBufferedChunks is < 0 or > 100_000)
        {
            errors.Add("Kai:Kail:max_buffered_chunks must be 0 to 100000");
        }
        if (o.KeepFinishedMinutes is < 0 or > 1440 || double.IsNaN(o.KeepFinishedMinutes))
        {
            errors.Add("Kai:Kail:keep_finished_minutes must be 0 to 1440");
        }
        if (o.DefaultAgentModel is { Length: 0 or > 128 })
        {
            errors.Add("Kai:Kail:default_agent_model must be 1 to 128 characters");
        }
        if (!SignatureModes.All.Contains(o.Signatures))
        {
            errors.Add($"Kai:Kail:Signatures '{o.Signatures}' is unknown; known: {string.Join(", ", SignatureModes.All)}");
        }
        foreach (var (intent, handles) in o.Fallbacks)
        {
            foreach (var h in handles.Where(h => !h.StartsWith(Protocol.Kail.KailTypes.HandlePrefix, StringComparison.Ordinal)))
            {
                errors.Add($"Kai:Kail:Fallbacks:{intent}: '{h}' is not a Kind Agent Handle (kah:...)");
            }
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
