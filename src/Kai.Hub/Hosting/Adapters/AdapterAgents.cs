using System.Text.Json;
using System.Text.RegularExpressions;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Protocol;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Hosting.Adapters;

/// <summary>
/// The agent types the hub runs through an external adapter (seed 002 §III/§V: <c>adapter_webhook</c>, <c>adapter_customapi</c>,
/// <c>shell_agent</c>): validates their config at registration (nothing is stored when it is refused) and builds their runtime.
/// </summary>
/// <remarks>
/// <c>webhook</c>: <c>{url, secret | secret_ref, timeout?, retries?}</c>. <c>customapi</c>: the same plus <c>template{method?, path?,
/// headers?, body?}</c> (required). <c>shell</c>: <c>{executable, args?[], timeout?}</c>. <c>secret</c> is a Standard Webhooks
/// secret (<c>whsec_</c> + base64 of 24 to 64 bytes), stored protected (ASP.NET Core Data Protection) and never shown;
/// <c>secret_ref</c> names an environment variable holding one.
/// </remarks>
internal sealed partial class AdapterAgents(SsrfGuard guard, IOptionsMonitor<AdapterOptions> options, TimeProvider time) : IDisposable
{
    public const string WebhookType = "webhook";
    public const string CustomApiType = "customapi";
    public const string ShellType = "shell";

    public static readonly IReadOnlySet<string> Types = new HashSet<string>([WebhookType, CustomApiType, ShellType], StringComparer.Ordinal);

    // One client over the guard's handler for every webhook agent: connections pooled, every connect checked.
    private readonly HttpClient _http = new(guard.CreateHandler()) { Timeout = Timeout.InfiniteTimeSpan };

    [GeneratedRegex("^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")]
    private static partial Regex HeaderName();

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex ExecutableName();

    public SsrfGuard Guard => guard;

    /// <summary>The shared client over the guard's handler (also the health probes').</summary>
    public HttpClient Http => _http;

    public void Dispose() => _http.Dispose();

    /// <summary>What <see cref="PrepareAsync"/> decided: the config to store (no secret), and the inline secret to protect.</summary>
    public sealed record Prepared(string ConfigJson, string? Secret, bool UsesSecretRef);

    /// <summary>
    /// Validates the config; <c>VALIDATION_ERROR</c>, <c>ADAPTER_URL_FORBIDDEN</c> (<c>config.url</c> or <c>health_check_url</c>
    /// points inside) or <c>ADAPTER_EXECUTABLE_FORBIDDEN</c> otherwise. A shell agent needs <see cref="Permissions.AgentCreateShell"/>
    /// (admins): anyone else gets <c>FORBIDDEN</c> before the config is even read (the allow-list is not shown to them).
    /// </summary>
    public async Task<Prepared> PrepareAsync(KaiPrincipal principal, string type, JsonElement? config, string keyRefPrefix, string? healthCheckUrl, CancellationToken ct)
    {
        if (type == ShellType && !principal.Can(Permissions.AgentCreateShell))
        {
            throw new ApiException(ErrorCodes.Forbidden,
                $"Creating or reconfiguring a shell agent needs permission {Permissions.AgentCreateShell} (admins): it runs a program on the hub's machine.",
                new Dictionary<string, string> { ["permission"] = Permissions.AgentCreateShell, ["type"] = ShellType });
        }
        var v = new Validation();
        if (config is not { ValueKind: JsonValueKind.Object } c)
        {
            v.Check(false, "config", type == ShellType ? "is required for a shell agent: {executable, args?, timeout?}"
                : $"is required for a {type} agent: {{url, secret | secret_ref, timeout?, retries?{(type == CustomApiType ? ", template" : "")}}}");
            v.ThrowIfInvalid();
            throw new InvalidOperationException();
        }
        if (type == ShellType)
        {
            return PrepareShell(c, v);
        }
        var prepared = await PrepareWebhookAsync(type, c, v, keyRefPrefix, ct);
        if (healthCheckUrl is not null)
        {
            await CheckHealthUrlAsync(healthCheckUrl, ct);
        }
        return prepared;
    }

    /// <summary>
    /// The SSRF check of a webhook or custom-API agent's <c>health_check_url</c> (seed 004), at registration and before each probe:
    /// the same guard as <c>config.url</c>. <see cref="ApiException"/> <c>ADAPTER_URL_FORBIDDEN</c> (403) naming the field when it
    /// points inside (or is not an absolute http(s) URL without user info), <c>ADAPTER_UNAVAILABLE</c> when its host does not resolve.
    /// </summary>
    public async Task CheckHealthUrlAsync(string healthCheckUrl, CancellationToken ct)
    {
        var field = new Dictionary<string, string> { ["field"] = "health_check_url" };
        if (!Uri.TryCreate(healthCheckUrl, UriKind.Absolute, out var url))
        {
            throw new ApiException(ErrorCodes.ValidationError, "health_check_url must be an absolute http or https URL.", field);
        }
        try
        {
            await guard.CheckAsync(url, ct);
        }
        catch (AdapterException e)
        {
            throw new ApiException(e.Code, e.Message, field);
        }
    }

    private async Task<Prepared> PrepareWebhookAsync(string type, JsonElement c, Validation v, string keyRefPrefix, CancellationToken ct)
    {
        var o = options.CurrentValue.Webhook;
        var stored = new Dictionary<string, object?>(StringComparer.Ordinal);
        var urlText = v.OptionalString(c, "url", 2048);
        Uri? url = null;
        if (urlText is null)
        {
            v.Check(false, "config.url", "is required: the absolute http or https URL the hub calls");
        }
        else if (!Uri.TryCreate(urlText, UriKind.Absolute, out url) || url.Scheme is not ("http" or "https") || !string.IsNullOrEmpty(url.UserInfo) || url.Fragment.Length > 0)
        {
            v.Check(false, "config.url", "must be an absolute http or https URL without user info or fragment");
            url = null;
        }
        stored["url"] = urlText;
        var secret = v.OptionalString(c, "secret", 200);
        var secretRef = v.OptionalString(c, "secret_ref", 128);
        v.Check(secret is not null || secretRef is not null, "config.secret", "give secret (whsec_ + base64 of 24 to 64 bytes) or secret_ref; the hub signs every call with it");
        v.Check(secret is null || secretRef is null, "config.secret", "give secret or secret_ref, not both");
        v.Check(secret is null || IsSecret(secret), "config.secret", "must be a Standard Webhooks secret: whsec_ followed by base64 of 24 to 64 bytes");
        if (secretRef is not null)
        {
            v.Check(EnvName().IsMatch(secretRef) && secretRef.StartsWith(keyRefPrefix, StringComparison.Ordinal), "config.secret_ref",
                $"must be the name of an environment variable starting with {keyRefPrefix} (upper-case letters, digits and '_')");
            stored["secret_ref"] = secretRef;
        }
        var timeout = Seconds(c, "timeout", v, o.MaxTimeout);
        if (timeout is not null) { stored["timeout"] = timeout; }
        if (c.TryGetProperty("retries", out var r) && r.ValueKind != JsonValueKind.Null)
        {
            var ok = r.ValueKind == JsonValueKind.Number && r.TryGetInt32(out var n) && n is >= 0 and <= 10;
            v.Check(ok, "config.retries", "must be an integer from 0 to 10");
            if (ok) { stored["retries"] = r.GetInt32(); }
        }
        if (c.TryGetProperty("template", out var t) && t.ValueKind != JsonValueKind.Null)
        {
            if (ParseTemplate(t, v) is not null)
            {
                stored["template"] = t.Clone();
            }
        }
        else
        {
            v.Check(type != CustomApiType, "config.template", "is required for a customapi agent: {method?, path?, headers?, body?}");
        }
        v.ThrowIfInvalid();
        try
        {
            await guard.CheckAsync(url!, ct);
        }
        catch (AdapterException e)
        {
            throw new ApiException(e.Code, e.Message, new Dictionary<string, string> { ["field"] = "config.url" });
        }
        return new Prepared(JsonSerializer.Serialize(stored, KaiJson.Options), secret, secretRef is not null);
    }

    private Prepared PrepareShell(JsonElement c, Validation v)
    {
        var o = options.CurrentValue.Shell;
        var name = v.OptionalString(c, "executable", 64);
        v.Check(name is not null, "config.executable", $"is required: one of the allowed executables ({Known(o)})");
        v.Check(name is null || ExecutableName().IsMatch(name), "config.executable", "must be a name from the allow-list, not a path");
        var args = new List<string>();
        if (c.TryGetProperty("args", out var a) && a.ValueKind != JsonValueKind.Null)
        {
            var ok = a.ValueKind == JsonValueKind.Array && a.GetArrayLength() <= 64 && a.EnumerateArray().All(x => x.ValueKind == JsonValueKind.String && x.GetString()!.Length <= 4096 && !x.GetString()!.Contains('\0'));
            v.Check(ok, "config.args", "must be an array of at most 64 strings (argv entries, placeholders allowed), each at most 4096 characters");
            if (ok) { args.AddRange(a.EnumerateArray().Select(x => x.GetString()!)); }
        }
        var timeout = Seconds(c, "timeout", v, o.MaxTimeout);
        v.ThrowIfInvalid();
        if (!o.Allowed.TryGetValue(name!, out var path) || !Path.IsPathFullyQualified(path))
        {
            throw new ApiException(ErrorCodes.AdapterExecutableForbidden,
                $"The executable '{name}' is not allowed; the operator allows: {Known(o)} (Kai:Adapters:Shell:Allowed, name -> absolute path).",
                new Dictionary<string, string> { ["field"] = "config.executable" });
        }
        var stored = new Dictionary<string, object?>(StringComparer.Ordinal) { ["executable"] = name, ["args"] = args };
        if (timeout is not null) { stored["timeout"] = timeout; }
        return new Prepared(JsonSerializer.Serialize(stored, KaiJson.Options), null, false);
    }

    /// <summary>Builds the runtime of a stored agent; ApiException when it cannot run (its secret is gone, its executable no longer allowed).</summary>
    /// <param name="agentId">The agent.</param>
    /// <param name="type"><c>webhook</c>, <c>customapi</c> or <c>shell</c>.</param>
    /// <param name="c">Its stored config (as <see cref="PrepareAsync"/> wrote it).</param>
    /// <param name="secret">The unprotected inline secret, when one is stored.</param>
    public IExternalAdapter Build(string agentId, string type, JsonElement c, string? secret)
    {
        var o = options.CurrentValue;
        if (type == ShellType)
        {
            var name = c.GetProperty("executable").GetString()!;
            if (!o.Shell.Allowed.TryGetValue(name, out var path) || !Path.IsPathFullyQualified(path))
            {
                throw new ApiException(ErrorCodes.AdapterExecutableForbidden, $"Shell agent '{agentId}' runs '{name}', which is no longer allowed (Kai:Adapters:Shell:Allowed).");
            }
            var args = c.TryGetProperty("args", out var a) ? a.EnumerateArray().Select(x => x.GetString()!).ToList() : [];
            var timeout = c.TryGetProperty("timeout", out var t) ? t.GetDouble() : o.Shell.Timeout;
            return new ShellAdapter(new ShellDefinition(name, path, args, TimeSpan.FromSeconds(timeout)), () => options.CurrentValue.Shell, time);
        }
        if (secret is null && c.TryGetProperty("secret_ref", out var r) && r.GetString() is { } envName)
        {
            secret = Environment.GetEnvironmentVariable(envName)
                ?? throw new ApiException(ErrorCodes.ValidationError, $"Agent '{agentId}' reads its webhook secret from environment variable {envName}, which is not set.");
            if (!IsSecret(secret))
            {
                throw new ApiException(ErrorCodes.ValidationError, $"Environment variable {envName} (agent '{agentId}') is not a Standard Webhooks secret (whsec_ + base64 of 24 to 64 bytes).");
            }
        }
        if (secret is null)
        {
            throw new ApiException(ErrorCodes.ValidationError, $"Agent '{agentId}' has no webhook secret stored; update its config with secret or secret_ref.");
        }
        var v = new Validation();
        var template = c.TryGetProperty("template", out var tpl) ? ParseTemplate(tpl, v) : null;
        v.ThrowIfInvalid();
        var definition = new WebhookDefinition(new Uri(c.GetProperty("url").GetString()!), secret,
            TimeSpan.FromSeconds(c.TryGetProperty("timeout", out var to) ? to.GetDouble() : o.Webhook.Timeout),
            c.TryGetProperty("retries", out var re) ? re.GetInt32() : o.Webhook.Retries, template);
        return new WebhookAdapter(definition, _http, guard, o.Webhook, time);
    }

    private static RequestTemplate? ParseTemplate(JsonElement t, Validation v)
    {
        if (t.ValueKind != JsonValueKind.Object)
        {
            v.Check(false, "config.template", "must be an object {method?, path?, headers?, body?}");
            return null;
        }
        var method = "POST";
        if (t.TryGetProperty("method", out var m) && m.ValueKind != JsonValueKind.Null)
        {
            method = m.ValueKind == JsonValueKind.String ? m.GetString()!.ToUpperInvariant() : "";
            v.Check(RequestTemplate.Methods.Contains(method), "config.template.method", "must be GET, POST, PUT, PATCH or DELETE");
        }
        string? path = null;
        if (t.TryGetProperty("path", out var p) && p.ValueKind != JsonValueKind.Null)
        {
            path = p.ValueKind == JsonValueKind.String ? p.GetString() : null;
            v.Check(path is { Length: > 0 and <= 2048 } && path[0] == '/' && !path.StartsWith("//", StringComparison.Ordinal) && !path.Contains('\\') && !path.Contains('#')
                && !path.Split('?')[0].Split('/').Any(s => s is ".." or "."),
                "config.template.path", "must be a path starting with '/' (appended to the url; no '//', '.', '..', '\\' or '#')");
        }
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (t.TryGetProperty("headers", out var h) && h.ValueKind != JsonValueKind.Null)
        {
            if (h.ValueKind != JsonValueKind.Object)
            {
                v.Check(false, "config.template.headers", "must be an object {name: value}");
            }
            else
            {
                foreach (var prop in h.EnumerateObject())
                {
                    var value = prop.Value.ValueKind == JsonValueKind.String ? prop.Value.GetString()! : null;
                    v.Check(HeaderName().IsMatch(prop.Name) && !RequestTemplate.ReservedHeaders.Contains(prop.Name), "config.template.headers",
                        $"'{prop.Name}' is not a header a template may set (the signature, Host, Content-* and hop-by-hop headers are the hub's)");
                    v.Check(value is not null && value.Length <= 4096 && !value.Contains('\r') && !value.Contains('\n'), "config.template.headers",
                        $"'{prop.Name}' must be a string of at most 4096 characters without line breaks");
                    if (value is not null) { headers[prop.Name] = value; }
                }
            }
        }
        JsonElement? body = t.TryGetProperty("body", out var b) && b.ValueKind != JsonValueKind.Null ? b.Clone() : null;
        v.Check(body is null || b.GetRawText().Length <= 64 * 1024, "config.template.body", "must be at most 64 KiB of JSON");
        v.Check(body is null || method is not ("GET" or "DELETE"), "config.template.body", "a GET or DELETE request has no body");
        return new RequestTemplate(method, path, headers, body);
    }

    /// <summary>A Standard Webhooks secret: <c>whsec_</c> + base64 of 24 to 64 bytes.</summary>
    public static bool IsSecret(string s)
    {
        if (!s.StartsWith("whsec_", StringComparison.Ordinal))
        {
            return false;
        }
        var bytes = new byte[128];
        return Convert.TryFromBase64String(s["whsec_".Length..], bytes, out var n) && n is >= 24 and <= 64;
    }

    [GeneratedRegex("^[A-Z_][A-Z0-9_]{0,127}$")]
    private static partial Regex EnvName();

    private static string Known(ShellAdapterOptions o) => o.Allowed.Count == 0 ? "(none; add Kai:Adapters:Shell:Allowed)" : string.Join(", ", o.Allowed.Keys.Order(StringComparer.Ordinal));

    private static double? Seconds(JsonElement c, string name, Validation v, double max)
    {
        if (!c.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        var ok = e.ValueKind == JsonValueKind.Number && e.GetDouble() is var d && d > 0 && d <= max;
        v.Check(ok, "config." + name, $"must be a number of seconds above 0 and at most {max}");
        return ok ? e.GetDouble() : null;
    }

}
