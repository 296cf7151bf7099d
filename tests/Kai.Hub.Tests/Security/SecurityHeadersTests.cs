using System.Net;
using System.Net.Http.Json;
using Kai.Protocol;
using Kai.Protocol.Rest;

namespace Kai.Hub.Tests.Security;

/// <summary>OWASP API8 (security misconfiguration): response headers, CORS default-deny with an allow-list, docs still served.</summary>
public sealed class SecurityHeadersTests
{
    [Fact]
    public async Task Api_answers_carry_security_headers_and_docs_still_load()
    {
        await using var kit = await SecurityKit.StartAsync();
        foreach (var path in new[] { "health", "ready", "api/v1/agents", "openapi.json" })
        {
            var res = await kit.Hub.Http.GetAsync(path);
            Assert.Equal("nosniff", res.Headers.GetValues("X-Content-Type-Options").Single());
            Assert.Equal("DENY", res.Headers.GetValues("X-Frame-Options").Single());
            Assert.Equal("no-referrer", res.Headers.GetValues("Referrer-Policy").Single());
            Assert.Contains("frame-ancestors 'none'", res.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
            Assert.Contains("no-store", res.Headers.CacheControl?.ToString() ?? "", StringComparison.Ordinal);
            Assert.False(res.Headers.Contains("Strict-Transport-Security"), "HSTS only over HTTPS");
        }
        // The health probe is anonymous and says nothing but its status.
        Assert.Equal("Healthy", await kit.Hub.Http.GetStringAsync("health"));
        foreach (var page in new[] { "docs/index.html", "redoc/index.html" })
        {
            var res = await kit.Hub.Http.GetAsync(page);
            Assert.Equal(HttpStatusCode.OK, res.StatusCode);
            Assert.Equal("frame-ancestors 'none'", res.Headers.GetValues("Content-Security-Policy").Single());
        }
    }

    [Fact]
    public async Task Cors_allows_only_configured_origins()
    {
        await using var kit = await SecurityKit.StartAsync(new Dictionary<string, string> { ["Kai:Security:AllowedOrigins:0"] = "https://app.example.com" });
        foreach (var (origin, allowed) in new[] { ("https://app.example.com", true), ("https://evil.example.net", false) })
        {
            using var preflight = new HttpRequestMessage(HttpMethod.Options, "api/v1/agents");
            preflight.Headers.Add("Origin", origin);
            preflight.Headers.Add("Access-Control-Request-Method", "GET");
            preflight.Headers.Add("Access-Control-Request-Headers", "authorization");
            var res = await kit.Hub.Http.SendAsync(preflight);
            Assert.Equal(allowed, res.Headers.TryGetValues("Access-Control-Allow-Origin", out var values) && values.Single() == origin);
        }
        // Default configuration: no origin at all.
        await using var plain = await SecurityKit.StartAsync();
        using var req = new HttpRequestMessage(HttpMethod.Get, "health");
        req.Headers.Add("Origin", "https://app.example.com");
        Assert.False((await plain.Hub.Http.SendAsync(req)).Headers.Contains("Access-Control-Allow-Origin"));
    }
}
