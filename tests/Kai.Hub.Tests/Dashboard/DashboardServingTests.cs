using System.Net;
using System.Net.WebSockets;
using Kai.Hub.Security;
using Kai.Testing;

namespace Kai.Hub.Tests.Dashboard;

/// <summary>
/// How the hub serves the web dashboard (src/Kai.Hub/Dashboard): the redirect from <c>/</c>, the page shown when the build is
/// absent, the strict Content-Security-Policy, no file outside the build folder, and the same-origin WebSocket rule the page
/// relies on. The browser tests are in tests/Kai.Dashboard.Tests.
/// </summary>
public sealed class DashboardServingTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "kai-dashboard-tests", Guid.NewGuid().ToString("N"));

    public DashboardServingTests() => Directory.CreateDirectory(_root);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // best effort
        }
    }

    private Task<TestHub> StartAsync(string dashboardDirectory) =>
        TestHub.StartAsync(settings: new Dictionary<string, string> { ["Kai:Dashboard:Directory"] = dashboardDirectory });

    private static HttpClient NoRedirects(TestHub hub) => new(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = hub.BaseAddress };

    [Fact]
    public async Task Without_a_build_the_root_leads_to_a_page_saying_how_to_build_it_and_the_docs_still_work()
    {
        var empty = Directory.CreateDirectory(Path.Combine(_root, "empty")).FullName;
        await using var hub = await StartAsync(empty);
        using var http = NoRedirects(hub);

        var root = await http.GetAsync("/");
        Assert.Equal(HttpStatusCode.Redirect, root.StatusCode);
        Assert.Equal("/ui/", root.Headers.Location?.OriginalString);
        var bare = await http.GetAsync("/ui");
        Assert.Equal("/ui/", bare.Headers.Location?.OriginalString);

        foreach (var path in new[] { "/ui/", "/ui/tasks" })
        {
            var page = await http.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
            var html = await page.Content.ReadAsStringAsync();
            Assert.Contains("cd dashboard &amp;&amp; npm ci &amp;&amp; npm run build", html);
            Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
            Assert.Equal(SecurityHeadersMiddleware.DashboardPolicy, page.Headers.GetValues("Content-Security-Policy").Single());
        }
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/docs/index.html")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/openapi.json")).StatusCode);
    }

    [Fact]
    public async Task A_build_is_served_under_a_strict_policy_and_nothing_outside_its_folder_is()
    {
        var dist = Directory.CreateDirectory(Path.Combine(_root, "dist")).FullName;
        Directory.CreateDirectory(Path.Combine(dist, "assets"));
        await File.WriteAllTextAsync(Path.Combine(dist, "index.html"), "<!doctype html><title>dash</title><script type=module src=/ui/assets/app-1.js></script>");
        await File.WriteAllTextAsync(Path.Combine(dist, "assets", "app-1.js"), "console.log('dash')");
        await File.WriteAllTextAsync(Path.Combine(_root, "secret.txt"), "outside the build");
        await using var hub = await StartAsync(dist);
        using var http = NoRedirects(hub);

        var index = await http.GetAsync("/ui/");
        Assert.Equal(HttpStatusCode.OK, index.StatusCode);
        Assert.Contains("<title>dash</title>", await index.Content.ReadAsStringAsync());
        Assert.Equal("no-cache", index.Headers.CacheControl?.ToString());
        var policy = index.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Equal(SecurityHeadersMiddleware.DashboardPolicy, policy);
        Assert.DoesNotContain("unsafe", policy, StringComparison.Ordinal);
        Assert.Contains("script-src 'self'", policy, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", policy, StringComparison.Ordinal);

        var script = await http.GetAsync("/ui/assets/app-1.js");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
        Assert.Contains("immutable", script.Headers.CacheControl?.ToString());

        // A view of the single page (a deep link) gets the page; a missing asset is a 404, not the page.
        Assert.Contains("<title>dash</title>", await (await http.GetAsync("/ui/agents")).Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/ui/assets/gone-2.js")).StatusCode);

        foreach (var escape in new[] { "/ui/..%2fsecret.txt", "/ui/%2e%2e/secret.txt", "/ui/assets/..%2f..%2fsecret.txt", "/ui/%2fetc%2fpasswd" })
        {
            var res = await http.GetAsync(escape);
            var body = await res.Content.ReadAsStringAsync();
            Assert.DoesNotContain("outside the build", body);
            Assert.DoesNotContain("root:", body);
        }
    }

    [Fact]
    public async Task The_hubs_own_origin_may_open_the_event_link_and_another_origin_may_not()
    {
        await using var hub = await StartAsync(_root);
        var token = (await hub.NewUserAsync()).AccessToken;
        var own = $"http://{hub.BaseAddress.Authority}";

        using (var socket = new ClientWebSocket())
        {
            socket.Options.SetRequestHeader("Origin", own);
            await socket.ConnectAsync(hub.WebSocketUri("ws", token), CancellationToken.None);
            await using var link = new TestSocket(socket);
            Assert.Equal("welcome", (await link.ReceiveAsync()).Type);
        }

        using var foreign = new ClientWebSocket();
        foreign.Options.SetRequestHeader("Origin", "http://evil.example");
        foreign.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAnyAsync<WebSocketException>(() => foreign.ConnectAsync(hub.WebSocketUri("ws", token), CancellationToken.None));
        Assert.Equal(HttpStatusCode.Forbidden, foreign.HttpStatusCode);
    }
}
