using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Hub.Hosting.Adapters;
using Kai.Hub.Tests.Invocations;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Hub.Tests.Hosting;

/// <summary>
/// Webhook and custom-API agents (issue 11 item 14, seed 002 §V) against a real second Kestrel server that verifies each call with
/// the StandardWebhooks verifier: signing, retries honouring Retry-After, timeouts, 5xx, redirects, and the SSRF guard at
/// registration and at call time.
/// </summary>
public sealed class WebhookAgentTests
{
    private static readonly Dictionary<string, string> AllowLoopback = new() { ["Kai:Adapters:Webhook:AllowedCidrs:0"] = "127.0.0.1/32" };

    internal static async Task<HttpResponseMessage> CreateAsync(HttpClient user, string type, object config, string name = "hooked") =>
        await user.PostAsJsonAsync("api/v1/agents", new { name, type, config, auto_start = true });

    internal static async Task<string> CreateOkAsync(HttpClient user, string type, object config)
    {
        var res = await CreateAsync(user, type, config);
        Assert.True(res.StatusCode == HttpStatusCode.Created, await res.Content.ReadAsStringAsync());
        return (await res.Content.ReadFromJsonAsync<AgentCreatedResponse>(KaiJson.Options))!.AgentId;
    }

    internal static async Task<CommandResponse> CommandAsync(HttpClient user, string agentId, string command, object parameters)
    {
        var res = await user.PostAsJsonAsync($"api/v1/agents/{agentId}/command", new { command, parameters, timeout = 60 });
        Assert.True(res.IsSuccessStatusCode, await res.Content.ReadAsStringAsync());
        return (await res.Content.ReadFromJsonAsync<CommandResponse>(KaiJson.Options))!;
    }

    internal static async Task<JsonElement> ErrorAsync(HttpResponseMessage res) =>
        JsonDocument.Parse(await res.Content.ReadAsStringAsync()).RootElement.GetProperty("error").Clone();

    private static WebhookAdapter Adapter(Uri url, double timeout = 30, int retries = 2, RequestTemplate? template = null)
    {
        var guard = SsrfGuardTests.Guard(cidrs: ["127.0.0.1/32"]);
        return new WebhookAdapter(new WebhookDefinition(url, AgentEndpoint.Secret, TimeSpan.FromSeconds(timeout), retries, template),
            new HttpClient(guard.CreateHandler()), guard, new WebhookAdapterOptions { MaxRetryDelay = 5, MaxResponseBytes = 16 * 1024 }, TimeProvider.System);
    }

    private static ExternalCall Call(string id = "call-1") =>
        new("command", id, "agent-x", "summarize", JsonSerializer.SerializeToElement(new { text = "hello", n = 2 }));

    [Fact]
    public async Task A_command_and_an_invocation_reach_the_agent_signed_and_its_answer_is_the_result()
    {
        await using var endpoint = await AgentEndpoint.StartAsync();
        await using var hub = await TestHub.StartAsync(settings: AllowLoopback);
        var user = hub.Client((await hub.NewUserAsync()).AccessToken);
        var agentId = await CreateOkAsync(user, "webhook", new { url = endpoint.Url("/hook").ToString(), secret = AgentEndpoint.Secret, timeout = 10 });

        var agent = (await user.GetFromJsonAsync<AgentView>($"api/v1/agents/{agentId}", KaiJson.Options))!;
        Assert.Equal("active", agent.Status);
        Assert.DoesNotContain(AgentEndpoint.Secret[6..], agent.Config.GetRawText()); // the secret is stored protected, never shown

        var answer = await CommandAsync(user, agentId, "summarize", new { text = "a long text" });
        Assert.True(answer.Status == "completed", answer.Error);
        var result = answer.Result!.Value;
        Assert.True(result.GetProperty("verified").GetBoolean()); // the endpoint's StandardWebhooks verifier accepted the signature
        Assert.Equal(answer.CommandId, result.GetProperty("webhook_id").GetString());
        var body = result.GetProperty("body");
        Assert.Equal("AgentInvocation", body.GetProperty("type").GetString());
        Assert.Equal("command", body.GetProperty("kind").GetString());
        Assert.Equal("summarize", body.GetProperty("intent").GetString());
        Assert.Equal("kah:agent.local." + agentId, body.GetProperty("target").GetString());
        Assert.Equal("a long text", body.GetProperty("payload").GetProperty("input").GetProperty("text").GetString());

        var invoked = await Kail.InvokeAsync(user, Kail.Envelope(Kail.Handle(agentId), "translate", "bonjour", options: new { lang = "en" }, threadId: "t-9"));
        Assert.Equal(HttpStatusCode.OK, invoked.StatusCode);
        var output = (await Kail.JsonAsync(invoked)).GetProperty("output").GetProperty("body");
        Assert.Equal("invocation", output.GetProperty("kind").GetString());
        Assert.Equal("translate", output.GetProperty("intent").GetString());
        Assert.Equal("bonjour", output.GetProperty("payload").GetProperty("input").GetString());
        Assert.Equal("en", output.GetProperty("payload").GetProperty("options").GetProperty("lang").GetString());
        Assert.Equal("t-9", output.GetProperty("context").GetProperty("thread_id").GetString());
    }

    [Fact]
    public async Task Internal_urls_are_refused_at_registration_with_a_clear_code_and_nothing_is_stored()
    {
        await using var hub = await TestHub.StartAsync();
        var user = hub.Client((await hub.NewUserAsync()).AccessToken);
        foreach (var url in new[] { "http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:9/hook", "http://localhost/hook", "http://[::ffff:10.0.0.1]/", "http://[fd00:ec2::254]/" })
        {
            var res = await CreateAsync(user, "webhook", new { url, secret = AgentEndpoint.Secret });
            Assert.Equal(HttpStatusCode.Forbidden, res.StatusCode);
            var error = await ErrorAsync(res);
            Assert.Equal(ErrorCodes.AdapterUrlForbidden, error.GetProperty("code").GetString());
            Assert.Contains("Kai:Adapters:Webhook", error.GetProperty("message").GetString());
        }
        // Bad config: a clear VALIDATION_ERROR naming the fields.
        var bad = await CreateAsync(user, "webhook", new { url = "ftp://example.com/", secret = "not-a-secret", retries = 99 });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var details = (await ErrorAsync(bad)).GetProperty("details").GetRawText();
        Assert.Contains("config.url", details);
        Assert.Contains("config.secret", details);
        Assert.Contains("config.retries", details);
        var noTemplate = await CreateAsync(user, "customapi", new { url = "http://8.8.8.8/", secret = AgentEndpoint.Secret });
        Assert.Contains("config.template", (await ErrorAsync(noTemplate)).GetProperty("details").GetRawText());
        var reservedHeader = await CreateAsync(user, "customapi", new { url = "http://8.8.8.8/", secret = AgentEndpoint.Secret, template = new { headers = new Dictionary<string, string> { ["webhook-signature"] = "v1,forged" } } });
        Assert.Equal(HttpStatusCode.BadRequest, reservedHeader.StatusCode);

        var list = (await user.GetFromJsonAsync<AgentListResponse>("api/v1/agents", KaiJson.Options))!;
        Assert.Equal(0, list.Total);
    }

    /// <summary>A configuration source a test changes while the hub runs (as an operator edits appsettings.json).</summary>
    private sealed class LiveSettings : Microsoft.Extensions.Configuration.ConfigurationProvider, Microsoft.Extensions.Configuration.IConfigurationSource
    {
        public Microsoft.Extensions.Configuration.IConfigurationProvider Build(Microsoft.Extensions.Configuration.IConfigurationBuilder builder) => this;

        public void Put(string key, string value)
        {
            Data[key] = value;
            OnReload();
        }
    }

    [Fact]
    public async Task An_allow_list_narrowed_after_registration_refuses_the_call_and_a_redirect_inside_is_refused()
    {
        await using var endpoint = await AgentEndpoint.StartAsync();
        var live = new LiveSettings();
        live.Put("Kai:Adapters:Webhook:AllowedCidrs:0", "127.0.0.1/32");
        await using var hub = await TestHub.StartAsync(configure: b => ((Microsoft.Extensions.Configuration.IConfigurationBuilder)b.Configuration).Add(live));
        var user = hub.Client((await hub.NewUserAsync()).AccessToken);
        var redirecting = await CreateOkAsync(user, "webhook", new { url = endpoint.Url("/redirect?to=http://169.254.169.254/latest/meta-data/").ToString(), secret = AgentEndpoint.Secret });
        var redirected = await CommandAsync(user, redirecting, "run", new { });
        Assert.Equal("failed", redirected.Status);
        Assert.StartsWith(ErrorCodes.AdapterUrlForbidden, redirected.Error);
        Assert.Equal(1, endpoint.Attempts("/redirect")); // refused, not retried, never followed

        var agentId = await CreateOkAsync(user, "webhook", new { url = endpoint.Url("/hook").ToString(), secret = AgentEndpoint.Secret });
        Assert.Equal("completed", (await CommandAsync(user, agentId, "run", new { })).Status);
        // The operator takes loopback off the allow-list: the running agent's next call is refused (its pooled connection is not reused).
        live.Put("Kai:Adapters:Webhook:AllowedCidrs:0", "10.99.0.0/16");
        var refused = await CommandAsync(user, agentId, "run", new { });
        Assert.Equal("failed", refused.Status);
        Assert.StartsWith(ErrorCodes.AdapterUrlForbidden, refused.Error);
        Assert.Equal(1, endpoint.Attempts("/hook"));
        var invoked = await Kail.InvokeAsync(user, Kail.Envelope(Kail.Handle(agentId), "run", "x"));
        Assert.Equal(HttpStatusCode.Forbidden, invoked.StatusCode);
        Assert.Equal(ErrorCodes.AdapterUrlForbidden, (await ErrorAsync(invoked)).GetProperty("code").GetString());
        Assert.Equal(1, endpoint.Attempts("/hook"));
    }

    [Fact]
    public async Task Rate_limits_are_retried_honouring_retry_after_and_5xx_timeouts_and_redirects_fail_with_clear_codes()
    {
        await using var endpoint = await AgentEndpoint.StartAsync();

        var flaky = await Adapter(endpoint.Url("/flaky/a")).InvokeAsync(Call("flaky-1"), CancellationToken.None);
        Assert.Equal(1, flaky.Retries);
        Assert.Equal([TimeSpan.FromSeconds(1)], flaky.RetryDelays); // the server's Retry-After, not the 0.5 s backoff
        Assert.Equal(2, endpoint.Attempts("/flaky/a"));
        Assert.Equal("flaky-1", flaky.Output.GetProperty("webhook_id").GetString()); // the same id on the retry, freshly signed

        var down = await Assert.ThrowsAsync<AdapterException>(() => Adapter(endpoint.Url("/down"), retries: 2).InvokeAsync(Call(), CancellationToken.None));
        Assert.Equal(ErrorCodes.AdapterUnavailable, down.Code);
        Assert.Equal(503, down.UpstreamStatus);
        Assert.Equal(2, down.Retries);
        Assert.Equal(3, endpoint.Attempts("/down"));

        var slow = await Assert.ThrowsAsync<AdapterException>(() => Adapter(endpoint.Url("/slow"), timeout: 0.5, retries: 0).InvokeAsync(Call(), CancellationToken.None));
        Assert.Equal(ErrorCodes.AdapterTimeout, slow.Code);

        var outside = await Assert.ThrowsAsync<AdapterException>(() => Adapter(endpoint.Url("/redirect?to=http://93.184.215.14/")).InvokeAsync(Call(), CancellationToken.None));
        Assert.Equal(ErrorCodes.AdapterBadResponse, outside.Code);
        Assert.Contains("never follow", outside.Message);
        var inside = await Assert.ThrowsAsync<AdapterException>(() => Adapter(endpoint.Url("/redirect?to=http://[::ffff:169.254.169.254]/")).InvokeAsync(Call(), CancellationToken.None));
        Assert.Equal(ErrorCodes.AdapterUrlForbidden, inside.Code);

        var big = await Assert.ThrowsAsync<AdapterException>(() => Adapter(endpoint.Url("/big")).InvokeAsync(Call(), CancellationToken.None));
        Assert.Equal(ErrorCodes.AdapterBadResponse, big.Code);
        Assert.Equal("plain words", (await Adapter(endpoint.Url("/text")).InvokeAsync(Call(), CancellationToken.None)).Output.GetString());

        // A wrong secret: the agent's verifier refuses the call (401), reported as a bad response, not retried.
        var guard = SsrfGuardTests.Guard(cidrs: ["127.0.0.1/32"]);
        var forged = new WebhookAdapter(new WebhookDefinition(endpoint.Url("/hook"), "whsec_" + Convert.ToBase64String(new byte[32]), TimeSpan.FromSeconds(10), 2, null),
            new HttpClient(guard.CreateHandler()), guard, new WebhookAdapterOptions(), TimeProvider.System);
        var unsigned = await Assert.ThrowsAsync<AdapterException>(() => forged.InvokeAsync(Call(), CancellationToken.None));
        Assert.Equal(ErrorCodes.AdapterBadResponse, unsigned.Code);
        Assert.Equal(401, unsigned.UpstreamStatus);
    }

    [Fact]
    public async Task Over_rest_a_timeout_and_an_exhausted_5xx_fail_the_command_and_the_invocation_with_their_codes()
    {
        await using var endpoint = await AgentEndpoint.StartAsync();
        await using var hub = await TestHub.StartAsync(settings: AllowLoopback);
        var user = hub.Client((await hub.NewUserAsync()).AccessToken);
        var slow = await CreateOkAsync(user, "webhook", new { url = endpoint.Url("/slow").ToString(), secret = AgentEndpoint.Secret, timeout = 0.5, retries = 0 });
        var down = await CreateOkAsync(user, "webhook", new { url = endpoint.Url("/down").ToString(), secret = AgentEndpoint.Secret, retries = 1 });

        var timedOut = await CommandAsync(user, slow, "run", new { });
        Assert.Equal("failed", timedOut.Status);
        Assert.StartsWith(ErrorCodes.AdapterTimeout, timedOut.Error);
        var unavailable = await CommandAsync(user, down, "run", new { });
        Assert.Equal("failed", unavailable.Status);
        Assert.StartsWith(ErrorCodes.AdapterUnavailable, unavailable.Error);

        var invoked = await Kail.InvokeAsync(user, Kail.Envelope(Kail.Handle(down), "run", "x"));
        Assert.False(invoked.IsSuccessStatusCode);
        var error = await ErrorAsync(invoked);
        Assert.Equal(ErrorCodes.AdapterUnavailable, error.GetProperty("code").GetString());
        Assert.Equal(ErrorCodes.HttpStatus(ErrorCodes.AdapterUnavailable), (int)invoked.StatusCode);
    }

    [Fact]
    public async Task A_custom_api_agent_sends_its_template_with_the_placeholders_filled()
    {
        await using var endpoint = await AgentEndpoint.StartAsync();
        await using var hub = await TestHub.StartAsync(settings: AllowLoopback);
        var user = hub.Client((await hub.NewUserAsync()).AccessToken);
        var agentId = await CreateOkAsync(user, "customapi", new
        {
            url = endpoint.Url("/api/v2").ToString(),
            secret = AgentEndpoint.Secret,
            template = new
            {
                method = "PUT",
                path = "/items/{{input.name}}/{{intent}}?source=kai",
                headers = new Dictionary<string, string> { ["X-Tenant"] = "{{agent_id}}", ["X-Trace"] = "id={{id}}" },
                body = new { query = "{{input.text}}", everything = "{{input}}", note = "intent={{intent}} count={{input.count}}", missing = "{{thread_id}}", fixed_value = 7 },
            },
        });

        var answer = await CommandAsync(user, agentId, "lookup", new { name = "a b/c", text = "find \"this\"", count = 3 });
        Assert.True(answer.Status == "completed", answer.Error);
        var r = answer.Result!.Value;
        Assert.True(r.GetProperty("verified").GetBoolean());
        Assert.Equal("PUT", r.GetProperty("method").GetString());
        // Escaped: the input's '/' cannot add a path segment.
        Assert.Equal("/api/v2/items/a%20b%2Fc/lookup?source=kai", r.GetProperty("raw").GetString());
        Assert.Equal("?source=kai", r.GetProperty("query").GetString());
        Assert.Equal(agentId, r.GetProperty("tenant").GetString());
        Assert.Equal("id=" + answer.CommandId, r.GetProperty("trace").GetString());
        var body = r.GetProperty("body");
        Assert.Equal("find \"this\"", body.GetProperty("query").GetString());
        Assert.Equal(3, body.GetProperty("everything").GetProperty("count").GetInt32());
        Assert.Equal("intent=lookup count=3", body.GetProperty("note").GetString());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("missing").ValueKind);
        Assert.Equal(7, body.GetProperty("fixed_value").GetInt32());

        // GET: no body, still signed (over the empty payload).
        var getter = await CreateOkAsync(user, "customapi", new { url = endpoint.Url("/api").ToString(), secret = AgentEndpoint.Secret, template = new { method = "GET", path = "/q/{{input.name}}" } });
        var got = (await CommandAsync(user, getter, "q", new { name = "x" })).Result!.Value;
        Assert.Equal("GET", got.GetProperty("method").GetString());
        Assert.Equal(JsonValueKind.Null, got.GetProperty("body").ValueKind);
    }

    [Fact]
    public async Task Health_check_urls_are_probed_through_the_guard_and_feed_the_health_score()
    {
        await using var endpoint = await AgentEndpoint.StartAsync();
        await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string>(AllowLoopback) { ["Kai:Adapters:Webhook:HealthInterval"] = "0" });
        var user = hub.Client((await hub.NewUserAsync()).AccessToken);
        async Task<Kai.Hub.Storage.AgentRecord> RegisterAsync(string id, string healthUrl)
        {
            var res = await user.PostAsJsonAsync("api/v1/agents/register", new
            {
                id, type = "webhook", health_check_url = healthUrl, configuration = new { url = endpoint.Url("/hook").ToString(), secret = AgentEndpoint.Secret },
            });
            Assert.True(res.StatusCode == HttpStatusCode.Created, await res.Content.ReadAsStringAsync());
            return (await hub.Service<Kai.Hub.Storage.IAgentStore>().GetAgentAsync(id, CancellationToken.None))!;
        }
        var probe = hub.Service<HealthProbe>();
        var resolver = hub.Service<Kai.Hub.Routing.CapabilityResolver>();

        var healthy = await probe.ProbeAsync(await RegisterAsync("hook-ok", endpoint.Url("/health").ToString()), CancellationToken.None);
        Assert.True(healthy!.Healthy, healthy.Error);
        Assert.Equal(200, healthy.Status);
        Assert.True(resolver.IsHealthy("hook-ok"));

        var sick = await RegisterAsync("hook-sick", endpoint.Url("/health-bad").ToString());
        for (var i = 0; i < 3; i++)
        {
            var r = (await probe.ProbeAsync(sick, CancellationToken.None))!;
            Assert.False(r.Healthy);
            Assert.Equal(503, r.Status);
        }
        Assert.False(resolver.IsHealthy("hook-sick")); // three failed checks: routing treats it as unhealthy
        Assert.Equal(3, endpoint.Attempts("/health-bad"));

        // A row whose health URL points inside (stored before the check at registration existed, or allowed by an allow-list since
        // narrowed) is refused by the guard before each probe, never fetched, and counts as a failure.
        var stored = await RegisterAsync("hook-inside", endpoint.Url("/health").ToString());
        var inside = (await probe.ProbeAsync(stored with { HealthCheckUrl = "http://169.254.169.254/latest/meta-data/" }, CancellationToken.None))!;
        Assert.False(inside.Healthy);
        Assert.StartsWith(ErrorCodes.AdapterUrlForbidden, inside.Error);
        Assert.Null(inside.Status);
    }

    [Fact]
    public async Task A_health_check_url_that_points_inside_is_refused_at_registration_and_on_update_and_nothing_is_stored()
    {
        await using var endpoint = await AgentEndpoint.StartAsync();
        // 127.0.0.1 is allow-listed (the test endpoint); IPv6 loopback, the metadata and private ranges are not.
        await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string>(AllowLoopback) { ["Kai:Adapters:Webhook:HealthInterval"] = "0" });
        var user = hub.Client((await hub.NewUserAsync()).AccessToken);
        var config = new { url = endpoint.Url("/hook").ToString(), secret = AgentEndpoint.Secret };

        foreach (var inside in new[] { "http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/health", "http://[::1]:9/health", "http://[::ffff:192.168.0.1]/" })
        {
            var res = await user.PostAsJsonAsync("api/v1/agents/register", new { id = "hook-in", type = "webhook", health_check_url = inside, configuration = config });
            Assert.Equal(HttpStatusCode.Forbidden, res.StatusCode);
            var error = await ErrorAsync(res);
            Assert.Equal(ErrorCodes.AdapterUrlForbidden, error.GetProperty("code").GetString());
            Assert.Equal("health_check_url", error.GetProperty("details").GetProperty("field").GetString());
        }
        Assert.Null(await hub.Service<Kai.Hub.Storage.IAgentStore>().GetAgentAsync("hook-in", CancellationToken.None));
        Assert.Equal(0, endpoint.Attempts("/health"));

        // An ordinary agent may register any health URL (the hub does not probe it); turning it into a webhook agent the hub
        // runs and probes checks the URL it carries, and changes nothing when it is refused.
        var plain = await user.PostAsJsonAsync("api/v1/agents/register", new { id = "plain-1", type = "worker", health_check_url = "http://169.254.169.254/" });
        Assert.Equal(HttpStatusCode.Created, plain.StatusCode);
        var put = await user.PutAsJsonAsync("api/v1/agents/plain-1", new { type = "webhook", config });
        Assert.Equal(HttpStatusCode.Forbidden, put.StatusCode);
        Assert.Equal("health_check_url", (await ErrorAsync(put)).GetProperty("details").GetProperty("field").GetString());
        var after = (await hub.Service<Kai.Hub.Storage.IAgentStore>().GetAgentAsync("plain-1", CancellationToken.None))!;
        Assert.Equal("worker", after.Type);
        Assert.Equal("{}", after.ConfigJson);

        // A public-looking or allow-listed health URL is accepted.
        var ok = await user.PostAsJsonAsync("api/v1/agents/register", new { id = "hook-ok", type = "webhook", health_check_url = endpoint.Url("/health").ToString(), configuration = config });
        Assert.Equal(HttpStatusCode.Created, ok.StatusCode);
    }
}
