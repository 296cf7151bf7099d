using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Hosting;

/// <summary>
/// One LLM provider of the <c>Kai:Providers</c> section (issue 11 item 14): an OpenAI-compatible endpoint such as
/// OpenAI, Ollama (<c>http://127.0.0.1:11434/v1</c>), vLLM (<c>http://host:8000/v1</c>), llama.cpp's server or Groq.
/// </summary>
internal sealed class ProviderOptions
{
    /// <summary>Only <c>openai</c> (any OpenAI-compatible chat completions API) today.</summary>
    public string Type { get; set; } = "openai";

    /// <summary>The API root ending before <c>/chat/completions</c>, for example <c>http://127.0.0.1:11434/v1</c>.</summary>
    [ConfigurationKeyName("base_url")]
    public string? BaseUrl { get; set; }

    /// <summary>Name of the environment variable holding the API key (preferred over <see cref="ApiKey"/>).</summary>
    [ConfigurationKeyName("api_key_ref")]
    public string? ApiKeyRef { get; set; }

    /// <summary>The API key itself; for local servers that ignore it. Never shown by any route.</summary>
    [ConfigurationKeyName("api_key")]
    public string? ApiKey { get; set; }

    /// <summary>The models hosted agents may use; empty means any model name.</summary>
    public List<string> Models { get; set; } = [];

    /// <summary>The model used when an agent names none; the first of <see cref="Models"/> when absent.</summary>
    [ConfigurationKeyName("default_model")]
    public string? DefaultModel { get; set; }

    /// <summary>Per-call timeout in seconds, retries included (default 60).</summary>
    public double Timeout { get; set; } = 60;

    /// <summary>Retries after a 429 or 5xx (default 3); the delay honours <c>Retry-After</c>, else exponential from 0.5 s.</summary>
    [ConfigurationKeyName("max_retries")]
    public int MaxRetries { get; set; } = 3;

    /// <summary>Longest delay between retries, in seconds (default 20); a larger <c>Retry-After</c> is capped to it.</summary>
    [ConfigurationKeyName("max_retry_delay")]
    public double MaxRetryDelay { get; set; } = 20;

    /// <summary>
    /// Whether an agent may override <see cref="BaseUrl"/> with its own <c>base_url</c> (default false: a user could
    /// otherwise make the hub call any address, SSRF).
    /// </summary>
    [ConfigurationKeyName("allow_agent_base_url")]
    public bool AllowAgentBaseUrl { get; set; }

    /// <summary>The model to use for <paramref name="requested"/> (null: the default), or null when it is not allowed.</summary>
    public string? ResolveModel(string? requested)
    {
        if (string.IsNullOrEmpty(requested))
        {
            return DefaultModel ?? Models.FirstOrDefault();
        }
        return Models.Count == 0 || Models.Contains(requested, StringComparer.Ordinal) ? requested : null;
    }
}

/// <summary>The hosting options: <c>Kai:Providers</c> (name → provider) and <c>Kai:Hosting</c>.</summary>
internal sealed class HostingOptions
{
    public const string ProvidersSection = HubOptions.Section + ":Providers";
    public const string Section = HubOptions.Section + ":Hosting";

    /// <summary>Messages kept per hosted agent and thread (default 50; older ones are dropped).</summary>
    public int HistoryLimit { get; set; } = 50;

    /// <summary>Frames a hosted agent works on at once (default 4); more wait in its queue.</summary>
    public int MaxConcurrency { get; set; } = 4;

    /// <summary>Frames queued per hosted agent before delivery reports it unavailable (default 1000).</summary>
    public int QueueLimit { get; set; } = 1000;

    /// <summary>
    /// Prefix an agent's own <c>api_key_ref</c> must have (default <c>KAI_LLM_</c>), so a user cannot have the hub send
    /// an arbitrary environment variable of its process (a database password) to a provider.
    /// </summary>
    public string AgentKeyRefPrefix { get; set; } = "KAI_LLM_";
}

/// <summary>Checks <c>Kai:Providers</c> at start and reports every problem in one message.</summary>
internal sealed class ProvidersValidator : IValidateOptions<Dictionary<string, ProviderOptions>>
{
    public ValidateOptionsResult Validate(string? name, Dictionary<string, ProviderOptions> providers)
    {
        var problems = new List<string>();
        foreach (var (key, p) in providers)
        {
            var at = $"{HostingOptions.ProvidersSection}:{key}";
            if (!System.Text.RegularExpressions.Regex.IsMatch(key, "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"))
            {
                problems.Add($"{at}: the provider name must be 1 to 64 letters, digits, '.', '_' or '-'");
            }
            if (!string.Equals(p.Type, "openai", StringComparison.OrdinalIgnoreCase))
            {
                problems.Add($"{at}:type is '{p.Type}'; the only supported type is 'openai' (any OpenAI-compatible API)");
            }
            if (!Uri.TryCreate(p.BaseUrl, UriKind.Absolute, out var u) || u.Scheme is not ("http" or "https"))
            {
                problems.Add($"{at}:base_url must be an absolute http or https URL (for example http://127.0.0.1:11434/v1), got '{p.BaseUrl}'");
            }
            if (p.ApiKeyRef is not null && p.ApiKey is not null)
            {
                problems.Add($"{at}: give api_key_ref or api_key, not both");
            }
            if (p.Models.Any(string.IsNullOrWhiteSpace))
            {
                problems.Add($"{at}:models has an empty name");
            }
            if (p.DefaultModel is not null && p.Models.Count > 0 && !p.Models.Contains(p.DefaultModel, StringComparer.Ordinal))
            {
                problems.Add($"{at}:default_model '{p.DefaultModel}' is not one of models [{string.Join(", ", p.Models)}]");
            }
            if (p.DefaultModel is null && p.Models.Count == 0)
            {
                problems.Add($"{at}: name a default_model or at least one entry of models");
            }
            if (p.Timeout is <= 0 or > 3600)
            {
                problems.Add($"{at}:timeout must be more than 0 and at most 3600 seconds, got {p.Timeout}");
            }
            if (p.MaxRetries is < 0 or > 10)
            {
                problems.Add($"{at}:max_retries must be 0 to 10, got {p.MaxRetries}");
            }
            if (p.MaxRetryDelay is < 0 or > 600)
            {
                problems.Add($"{at}:max_retry_delay must be 0 to 600 seconds, got {p.MaxRetryDelay}");
            }
        }
        return problems.Count == 0
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail("Invalid LLM provider configuration: " + string.Join("; ", problems) + ".");
    }
}
