using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Kai.Protocol;
using Polly;
using Polly.Retry;
using StandardWebhooks;

namespace Kai.Hub.Hosting.Adapters;

/// <summary>A webhook or custom-API agent's resolved settings.</summary>
/// <param name="Url">The registered URL (the custom API's base URL).</param>
/// <param name="Secret">The Standard Webhooks signing secret (<c>whsec_</c> + base64 of 24 to 64 bytes).</param>
/// <param name="Timeout">Per call, retries included.</param>
/// <param name="Retries">Retries after 429, 408, 5xx or a refused connection.</param>
/// <param name="Template">The custom API's request template; null for a plain webhook (POST of the invocation).</param>
internal sealed record WebhookDefinition(Uri Url, string Secret, TimeSpan Timeout, int Retries, RequestTemplate? Template);

/// <summary>
/// A custom API's request (seed 002 §V <c>adapter_customapi</c>): <c>method</c>, <c>path</c> (appended to the URL), <c>headers</c>
/// and a JSON <c>body</c> with <c>{{placeholders}}</c>: <c>id</c>, <c>kind</c>, <c>agent_id</c>, <c>intent</c>, <c>thread_id</c>,
/// <c>input</c>, <c>input.&lt;field&gt;</c>. A body string that is exactly one placeholder becomes that JSON value; one inside
/// text is replaced by the value's text. Placeholders in the path are URL-escaped; in headers, line breaks become spaces.
/// </summary>
internal sealed partial record RequestTemplate(string Method, string? Path, IReadOnlyDictionary<string, string> Headers, JsonElement? Body)
{
    [GeneratedRegex(@"\{\{\s*([a-z_][a-z0-9_]*(?:\.[A-Za-z0-9_-]+)?)\s*\}\}")]
    public static partial Regex Placeholder();

    [GeneratedRegex(@"^\{\{\s*([a-z_][a-z0-9_]*(?:\.[A-Za-z0-9_-]+)?)\s*\}\}$")]
    private static partial Regex Whole();

    public static readonly IReadOnlySet<string> Methods = new HashSet<string>(["GET", "POST", "PUT", "PATCH", "DELETE"], StringComparer.Ordinal);

    /// <summary>Headers a template may not set: the signature's, and the ones the HTTP stack owns.</summary>
    public static readonly IReadOnlySet<string> ReservedHeaders = new HashSet<string>(
        ["webhook-id", "webhook-timestamp", "webhook-signature", "host", "content-length", "content-type", "transfer-encoding", "connection", "expect", "upgrade", "te", "trailer", "proxy-authorization", "cookie"],
        StringComparer.OrdinalIgnoreCase);

    public string ExpandPath(ExternalCall call) =>
        Placeholder().Replace(Path ?? "", m => Uri.EscapeDataString(call.Text(m.Groups[1].Value)));

    public string ExpandHeader(string value, ExternalCall call) =>
        Placeholder().Replace(value, m => call.Text(m.Groups[1].Value)).ReplaceLineEndings(" ");

    /// <summary>The body's JSON text; null when the template has none and the method sends none (GET, DELETE).</summary>
    public string? ExpandBody(ExternalCall call, DateTimeOffset now)
    {
        if (Body is not { } body)
        {
            return Method is "GET" or "DELETE" ? null : call.Body(now);
        }
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            Write(w, body, call);
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void Write(Utf8JsonWriter w, JsonElement e, ExternalCall call)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                w.WriteStartObject();
                foreach (var p in e.EnumerateObject())
                {
                    w.WritePropertyName(p.Name);
                    Write(w, p.Value, call);
                }
                w.WriteEndObject();
                break;
            case JsonValueKind.Array:
                w.WriteStartArray();
                foreach (var item in e.EnumerateArray())
                {
                    Write(w, item, call);
                }
                w.WriteEndArray();
                break;
            case JsonValueKind.String when Whole().Match(e.GetString()!) is { Success: true } m:
                if (call.Value(m.Groups[1].Value) is { } v)
                {
                    v.WriteTo(w);
                }
                else
                {
                    w.WriteNullValue();
                }
                break;
            case JsonValueKind.String:
                w.WriteStringValue(Placeholder().Replace(e.GetString()!, m => call.Text(m.Groups[1].Value)));
                break;
            default:
                e.WriteTo(w);
                break;
        }
    }
}

/// <summary>
/// Seed 002 §V's webhook adapter (and, with a <see cref="RequestTemplate"/>, the custom-API adapter): sends the call to the
/// agent's URL signed as Standard Webhooks do (<c>webhook-id</c> = the call's id, stable across retries; <c>webhook-timestamp</c>
/// = Unix seconds of the attempt; <c>webhook-signature</c> = <c>v1,</c> + base64 HMAC-SHA256 of <c>id.timestamp.body</c>, by the
/// <c>StandardWebhooks</c> package). The 2xx response body is the result.
/// </summary>
/// <remarks>
/// Every connection goes through the <see cref="SsrfGuard"/>'s handler; a redirect is never followed (one to an internal address is
/// <c>ADAPTER_URL_FORBIDDEN</c>, any other <c>ADAPTER_BAD_RESPONSE</c>). Polly retries 429, 408, 5xx and refused connections with
/// exponential backoff from 0.5 s honouring <c>Retry-After</c> (seconds or an HTTP date), capped at
/// <see cref="WebhookAdapterOptions.MaxRetryDelay"/>; the whole call is bounded by the agent's timeout on the hub's clock.
/// </remarks>
internal sealed class WebhookAdapter : IExternalAdapter
{
    private readonly WebhookDefinition _definition;
    private readonly HttpClient _http;
    private readonly SsrfGuard _guard;
    private readonly TimeProvider _time;
    private readonly int _maxBytes;
    private readonly StandardWebhook _signer;
    private readonly ResiliencePipeline<HttpResponseMessage> _retry;
    private readonly AsyncLocal<List<TimeSpan>> _delays = new();

    public WebhookAdapter(WebhookDefinition definition, HttpClient http, SsrfGuard guard, WebhookAdapterOptions options, TimeProvider time)
    {
        _definition = definition;
        _http = http;
        _guard = guard;
        _time = time;
        _maxBytes = options.MaxResponseBytes;
        _signer = new StandardWebhook(definition.Secret);
        var maxDelay = TimeSpan.FromSeconds(options.MaxRetryDelay);
        _retry = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = Math.Max(1, definition.Retries),
                BackoffType = DelayBackoffType.Exponential,
                Delay = TimeSpan.FromMilliseconds(500),
                MaxDelay = maxDelay,
                UseJitter = false,
                ShouldHandle = args => ValueTask.FromResult(definition.Retries > 0 && (
                    args.Outcome.Result is { } r ? IsTransient(r.StatusCode)
                    : args.Outcome.Exception is HttpRequestException h && SsrfGuard.Refusal(h) is null)),
                DelayGenerator = args => ValueTask.FromResult(RetryAfter(args.Outcome.Result, maxDelay)),
                OnRetry = args =>
                {
                    _delays.Value?.Add(args.RetryDelay);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    public string Describe => (_definition.Template is null ? "webhook " : "custom API ") + _definition.Url.GetLeftPart(UriPartial.Path);

    private static bool IsTransient(HttpStatusCode s) => s is HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout || (int)s >= 500;

    public async Task<ExternalResult> InvokeAsync(ExternalCall call, CancellationToken ct)
    {
        var delays = _delays.Value = [];
        var template = _definition.Template;
        var url = template?.Path is { Length: > 0 } ? new Uri(_definition.Url.AbsoluteUri.TrimEnd('/') + template.ExpandPath(call)) : _definition.Url;
        var method = new HttpMethod(template?.Method ?? "POST");
        using var deadline = new CancellationTokenSource(_definition.Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, deadline.Token);
        HttpResponseMessage? response = null;
        try
        {
            response = await _retry.ExecuteAsync(async token =>
            {
                var now = _time.GetUtcNow();
                var body = template is null ? call.Body(now) : template.ExpandBody(call, now);
                using var request = new HttpRequestMessage(method, url);
                if (body is not null)
                {
                    request.Content = new StringContent(body, Encoding.UTF8, "application/json");
                }
                request.Headers.TryAddWithoutValidation("webhook-id", call.Id);
                request.Headers.TryAddWithoutValidation("webhook-timestamp", now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
                request.Headers.TryAddWithoutValidation("webhook-signature", _signer.Sign(call.Id, now, body ?? ""));
                request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
                foreach (var (name, value) in template?.Headers ?? new Dictionary<string, string>())
                {
                    request.Headers.TryAddWithoutValidation(name, template!.ExpandHeader(value, call));
                }
                return await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token);
            }, linked.Token);
            return new ExternalResult(await ReadAsync(response, delays.Count, linked.Token), delays.Count) { RetryDelays = delays };
        }
        catch (Exception e) when (e is not AdapterException)
        {
            throw Translate(e, deadline, ct, delays.Count);
        }
        finally
        {
            response?.Dispose();
        }
    }

    private async Task<JsonElement> ReadAsync(HttpResponseMessage response, int retries, CancellationToken ct)
    {
        var status = (int)response.StatusCode;
        if (status is >= 300 and < 400)
        {
            var location = response.Headers.Location;
            if (location is null)
            {
                throw new AdapterException(ErrorCodes.AdapterBadResponse, $"The agent answered {status} without a Location.", status, retries);
            }
            var target = location.IsAbsoluteUri ? location : new Uri(response.RequestMessage?.RequestUri ?? _definition.Url, location);
            try
            {
                await _guard.CheckAsync(target, ct);
            }
            catch (AdapterException refused) when (refused.Code == ErrorCodes.AdapterUrlForbidden)
            {
                throw new AdapterException(ErrorCodes.AdapterUrlForbidden, $"The agent redirected ({status}) to {target.GetLeftPart(UriPartial.Path)}, which is refused: {refused.Message}", status, retries);
            }
            throw new AdapterException(ErrorCodes.AdapterBadResponse,
                $"The agent redirected ({status}) to {target.GetLeftPart(UriPartial.Path)}; adapters never follow redirects: register the final URL.", status, retries);
        }
        if (status == 429)
        {
            throw new AdapterException(ErrorCodes.AdapterRateLimited, $"The agent kept answering 429 (rate limited) after {retries} retries.", status, retries);
        }
        if (status is 408 or >= 500)
        {
            throw new AdapterException(ErrorCodes.AdapterUnavailable, $"The agent kept answering {status} after {retries} retries: {await BriefAsync(response, ct)}", status, retries);
        }
        if (status is < 200 or >= 300)
        {
            throw new AdapterException(ErrorCodes.AdapterBadResponse, $"The agent refused the call with {status}: {await BriefAsync(response, ct)}", status, retries);
        }
        if (response.Content.Headers.ContentLength > _maxBytes)
        {
            throw new AdapterException(ErrorCodes.AdapterBadResponse, $"The agent's answer ({response.Content.Headers.ContentLength} bytes) is over the limit of {_maxBytes} bytes.", status, retries);
        }
        var text = await ReadCappedAsync(response, _maxBytes, ct)
            ?? throw new AdapterException(ErrorCodes.AdapterBadResponse, $"The agent's answer is over the limit of {_maxBytes} bytes.", status, retries);
        return text.Length == 0 ? JsonSerializer.SerializeToElement<object?>(null) : ExternalResult.Parse(text);
    }

    /// <summary>The body as text, or null when it is longer than <paramref name="max"/> bytes.</summary>
    private static async Task<string?> ReadCappedAsync(HttpResponseMessage response, int max, CancellationToken ct)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        var buffer = new byte[Math.Min(max + 1, 81920)];
        using var all = new MemoryStream();
        int n;
        while ((n = await stream.ReadAsync(buffer, ct)) > 0)
        {
            all.Write(buffer, 0, n);
            if (all.Length > max)
            {
                return null;
            }
        }
        return Encoding.UTF8.GetString(all.GetBuffer(), 0, (int)all.Length);
    }

    private static async Task<string> BriefAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var text = (await ReadCappedAsync(response, 4096, ct) ?? "(long body)").ReplaceLineEndings(" ");
        return text.Length > 300 ? text[..300] + "…" : text.Length == 0 ? "(empty body)" : text;
    }

    /// <summary>The server's <c>Retry-After</c> (seconds or HTTP date) when it sent one, capped; else null (Polly's backoff).</summary>
    private TimeSpan? RetryAfter(HttpResponseMessage? response, TimeSpan cap)
    {
        TimeSpan? after = response?.Headers.RetryAfter switch
        {
            { Delta: { } d } => d,
            { Date: { } at } => at - _time.GetUtcNow() is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero,
            _ => null,
        };
        return after is { } a && a > cap ? cap : after;
    }

    private static Exception Translate(Exception e, CancellationTokenSource deadline, CancellationToken caller, int retries)
    {
        if (e is OperationCanceledException && caller.IsCancellationRequested)
        {
            // The caller gave up (hub stopping, task canceled): not the agent's fault.
            return e;
        }
        if (SsrfGuard.Refusal(e) is { } refused)
        {
            return new AdapterException(refused.Code, refused.Message, null, retries, e);
        }
        if (deadline.IsCancellationRequested || e is OperationCanceledException or TimeoutException)
        {
            return new AdapterException(ErrorCodes.AdapterTimeout, "The agent did not answer within its timeout.", null, retries, e);
        }
        return e switch
        {
            HttpRequestException h => new AdapterException(ErrorCodes.AdapterUnavailable, $"The agent could not be reached after {retries} retries: {h.Message}", null, retries, e),
            _ => new AdapterException(ErrorCodes.AdapterBadResponse, $"The call failed: {e.Message}", null, retries, e),
        };
    }
}
