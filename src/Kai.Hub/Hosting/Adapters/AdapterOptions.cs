namespace Kai.Hub.Hosting.Adapters;

/// <summary>
/// <c>Kai:Adapters</c>: the limits of the webhook, custom-API and shell agent adapters (issue 11 item 14, seed 002 §V).
/// Read live (<c>IOptionsMonitor</c>), so narrowing an allow-list applies to running agents at their next call.
/// </summary>
internal sealed class AdapterOptions
{
    public const string Section = "Kai:Adapters";

    public WebhookAdapterOptions Webhook { get; set; } = new();

    public ShellAdapterOptions Shell { get; set; } = new();
}

/// <summary><c>Kai:Adapters:Webhook</c>: the SSRF guard's allow-list and the defaults and bounds of webhook calls.</summary>
internal sealed class WebhookAdapterOptions
{
    /// <summary>Host names (or IP literals) that may resolve to internal addresses, for example a sidecar <c>tools.internal</c>.</summary>
    public List<string> AllowedHosts { get; set; } = [];

    /// <summary>Address ranges that may be reached although internal, for example <c>127.0.0.1/32</c> or <c>10.20.0.0/16</c>.</summary>
    public List<string> AllowedCidrs { get; set; } = [];

    /// <summary>Default per-call timeout in seconds, retries included (an agent's <c>config.timeout</c> overrides it).</summary>
    public double Timeout { get; set; } = 30;

    /// <summary>The largest <c>config.timeout</c> an agent may ask for, seconds.</summary>
    public double MaxTimeout { get; set; } = 300;

    /// <summary>Default retries after 429, 408, 5xx or a refused connection (an agent's <c>config.retries</c> overrides it, at most 10).</summary>
    public int Retries { get; set; } = 2;

    /// <summary>Longest wait before a retry, seconds (a larger <c>Retry-After</c> is capped).</summary>
    public double MaxRetryDelay { get; set; } = 10;

    /// <summary>Largest response body accepted, bytes; larger is <c>ADAPTER_BAD_RESPONSE</c>.</summary>
    public int MaxResponseBytes { get; set; } = 1024 * 1024;

    /// <summary>Health probes of <c>health_check_url</c>: seconds between polls (0 turns polling off).</summary>
    public double HealthInterval { get; set; } = 30;
}

/// <summary><c>Kai:Adapters:Shell</c>: which executables shell agents may run, and the limits of a run.</summary>
internal sealed class ShellAdapterOptions
{
    /// <summary>Name → absolute path of each executable a shell agent may name in <c>config.executable</c>. Empty: no shell agents.</summary>
    public Dictionary<string, string> Allowed { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Names of the hub's environment variables passed to the child; every other variable is cleared.</summary>
    public List<string> Environment { get; set; } = [];

    /// <summary>The child's working directory; the system temp directory when empty.</summary>
    public string? WorkingDirectory { get; set; }

    /// <summary>Default run timeout in seconds (an agent's <c>config.timeout</c> overrides it); past it the process tree is killed.</summary>
    public double Timeout { get; set; } = 30;

    /// <summary>The largest <c>config.timeout</c> an agent may ask for, seconds.</summary>
    public double MaxTimeout { get; set; } = 300;

    /// <summary>Cap of stdout, bytes; past it the process tree is killed and the call fails with <c>ADAPTER_OUTPUT_TOO_LARGE</c>.</summary>
    public int MaxOutputBytes { get; set; } = 1024 * 1024;

    /// <summary>Cap of the stderr kept for the error message, bytes (the rest is read and dropped).</summary>
    public int MaxErrorBytes { get; set; } = 8 * 1024;
}
