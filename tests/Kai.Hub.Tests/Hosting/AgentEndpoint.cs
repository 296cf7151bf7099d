using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using StandardWebhooks;

namespace Kai.Hub.Tests.Hosting;

/// <summary>
/// A webhook agent's own HTTP server: a second real Kestrel app on 127.0.0.1:0 that verifies every call with the
/// StandardWebhooks verifier (401 when it fails) and answers as each path says.
/// </summary>
/// <remarks>
/// <c>/health</c> answers 200 and <c>/health-*</c> 503, unsigned; <c>/hook</c> echoes <c>{verified, webhook_id, body}</c>; <c>/flaky/{key}</c> answers 429 with <c>Retry-After: 1</c> the first
/// time per key, then the echo; <c>/down</c> always 503; <c>/slow</c> never answers (until the caller gives up);
/// <c>/redirect?to=</c> answers 307 to <c>to</c>; <c>/text</c> plain text; <c>/big</c> a body over any small limit; anything
/// else echoes the method, path, query, headers and body (the custom API).
/// </remarks>
internal sealed class AgentEndpoint : IAsyncDisposable
{
    public const string Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, int> _attempts = new(StringComparer.Ordinal);

    private AgentEndpoint(WebApplication app) => _app = app;

    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>Calls received per path (each attempt counts).</summary>
    public ConcurrentDictionary<string, int> Calls { get; } = new(StringComparer.Ordinal);

    public int Attempts(string path) => Calls.GetValueOrDefault(path);

    public static async Task<AgentEndpoint> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var endpoint = new AgentEndpoint(app);
        var verifier = new StandardWebhook(Secret);
        app.Run(async http =>
        {
            var path = http.Request.Path.Value ?? "/";
            endpoint.Calls.AddOrUpdate(path, 1, (_, n) => n + 1);
            var body = await new StreamReader(http.Request.Body).ReadToEndAsync();
            if (path.StartsWith("/health", StringComparison.Ordinal))
            {
                // Health checks are plain GETs (seed 004), unsigned.
                http.Response.StatusCode = path == "/health" ? 200 : 503;
                await http.Response.WriteAsync(path == "/health" ? "{\"status\":\"ok\"}" : "sick");
                return;
            }
            try
            {
                verifier.Verify(body, http.Request.Headers);
            }
            catch (Exception e)
            {
                http.Response.StatusCode = 401;
                await http.Response.WriteAsync("signature: " + e.Message);
                return;
            }
            JsonElement? parsed = body.Length == 0 ? null : JsonDocument.Parse(body).RootElement.Clone();
            switch (path)
            {
                case "/down":
                    http.Response.StatusCode = 503;
                    await http.Response.WriteAsync("overloaded");
                    return;
                case "/slow":
                    await Task.Delay(Timeout.Infinite, http.RequestAborted).ContinueWith(_ => { });
                    return;
                case "/redirect":
                    http.Response.StatusCode = 307;
                    http.Response.Headers.Location = http.Request.Query["to"].ToString();
                    return;
                case "/text":
                    await http.Response.WriteAsync("plain words\n");
                    return;
                case "/big":
                    await http.Response.WriteAsync(new string('x', 64 * 1024));
                    return;
                case var p when p.StartsWith("/flaky/", StringComparison.Ordinal) && endpoint._attempts.AddOrUpdate(p, 1, (_, n) => n + 1) == 1:
                    http.Response.StatusCode = 429;
                    http.Response.Headers.RetryAfter = "1";
                    return;
                case "/hook":
                case var f when f.StartsWith("/flaky/", StringComparison.Ordinal):
                    await http.Response.WriteAsJsonAsync(new { verified = true, webhook_id = http.Request.Headers["webhook-id"].ToString(), body = parsed });
                    return;
                default:
                    await http.Response.WriteAsJsonAsync(new
                    {
                        verified = true,
                        method = http.Request.Method,
                        path,
                        raw = http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget,
                        query = http.Request.QueryString.Value,
                        tenant = http.Request.Headers["X-Tenant"].ToString(),
                        trace = http.Request.Headers["X-Trace"].ToString(),
                        body = parsed,
                    });
                    return;
            }
        });
        await app.StartAsync();
        endpoint.BaseUrl = new Uri(app.Urls.First() + "/");
        return endpoint;
    }

    public Uri Url(string path) => new(BaseUrl, path.TrimStart('/'));

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
