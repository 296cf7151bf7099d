using System.Net;
using Kai.Hub.Hosting.Adapters;
using Kai.Protocol;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Tests.Hosting;

/// <summary>The SSRF guard of the webhook adapters (issue 11 item 14): address classification, allow-lists, and the connect-time check.</summary>
public sealed class SsrfGuardTests
{
    internal static SsrfGuard Guard(string[]? cidrs = null, string[]? hosts = null) =>
        new(new StaticMonitor(new AdapterOptions { Webhook = new WebhookAdapterOptions { AllowedCidrs = [.. cidrs ?? []], AllowedHosts = [.. hosts ?? []] } }));

    [Theory]
    [InlineData("127.0.0.1", "loopback")]
    [InlineData("127.255.255.254", "loopback")]
    [InlineData("::1", "loopback")]
    [InlineData("10.0.0.1", "private")]
    [InlineData("172.16.0.1", "private")]
    [InlineData("172.31.255.255", "private")]
    [InlineData("192.168.1.1", "private")]
    [InlineData("fc00::1", "private")]
    [InlineData("fd12:3456:789a::1", "private")]
    [InlineData("fec0::1", "private")]
    [InlineData("169.254.1.1", "link-local")]
    [InlineData("fe80::1", "link-local")]
    [InlineData("100.64.0.1", "cgnat")]
    [InlineData("100.100.100.200", "cgnat")]
    [InlineData("169.254.169.254", "metadata")]
    [InlineData("fd00:ec2::254", "metadata")]
    [InlineData("0.0.0.0", "unspecified")]
    [InlineData("0.1.2.3", "unspecified")]
    [InlineData("::", "unspecified")]
    [InlineData("224.0.0.1", "multicast")]
    [InlineData("239.255.255.250", "multicast")]
    [InlineData("ff02::1", "multicast")]
    [InlineData("255.255.255.255", "reserved")]
    [InlineData("240.0.0.1", "reserved")]
    [InlineData("192.0.2.10", "reserved")]
    [InlineData("198.18.0.1", "reserved")]
    [InlineData("2001:db8::1", "reserved")]
    // IPv4 written as IPv6: mapped, compatible, NAT64 and 6to4 forms of internal addresses.
    [InlineData("::ffff:127.0.0.1", "loopback")]
    [InlineData("::ffff:169.254.169.254", "metadata")]
    [InlineData("::ffff:10.1.2.3", "private")]
    [InlineData("::127.0.0.1", "loopback")]
    [InlineData("64:ff9b::a00:1", "private")]
    [InlineData("2002:7f00:1::1", "loopback")]
    [InlineData("2002:a9fe:a9fe::1", "metadata")]
    public void Internal_addresses_are_classified(string address, string expected) =>
        Assert.Equal(expected, SsrfGuard.Classify(IPAddress.Parse(address)));

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("93.184.215.14")]
    [InlineData("172.32.0.1")] // just past 172.16.0.0/12
    [InlineData("172.15.255.255")]
    [InlineData("100.128.0.1")] // just past 100.64.0.0/10
    [InlineData("169.253.255.255")]
    [InlineData("11.0.0.1")]
    [InlineData("2606:4700:4700::1111")]
    [InlineData("::ffff:8.8.8.8")]
    [InlineData("64:ff9b::808:808")]
    [InlineData("2002:808:808::1")]
    public void Public_addresses_pass(string address) =>
        Assert.Null(SsrfGuard.Classify(IPAddress.Parse(address)));

    [Fact]
    public async Task Urls_to_internal_addresses_are_refused_unless_allow_listed()
    {
        var strict = Guard();
        foreach (var url in new[]
        {
            "http://127.0.0.1:8080/hook", "http://localhost/hook", "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/", "http://10.0.0.5/", "https://192.168.0.1/", "http://0.0.0.0:80/", "http://[::]/", "http://2130706433/", "http://0x7f.1/",
        })
        {
            var e = await Assert.ThrowsAsync<AdapterException>(() => strict.CheckAsync(new Uri(url), CancellationToken.None));
            Assert.Equal(ErrorCodes.AdapterUrlForbidden, e.Code);
        }
        foreach (var url in new[] { "ftp://example.com/", "file:///etc/passwd", "http://user:pw@8.8.8.8/" })
        {
            Assert.Equal(ErrorCodes.AdapterUrlForbidden, (await Assert.ThrowsAsync<AdapterException>(() => strict.CheckAsync(new Uri(url), CancellationToken.None))).Code);
        }
        Assert.Equal([IPAddress.Parse("8.8.8.8")], await strict.CheckAsync(new Uri("http://8.8.8.8/"), CancellationToken.None));

        // The allow-list: a range, an IP literal, or a host name (all its addresses).
        Assert.Equal([IPAddress.Loopback], await Guard(cidrs: ["127.0.0.0/8"]).CheckAsync(new Uri("http://127.0.0.1:9/"), CancellationToken.None));
        Assert.Equal([IPAddress.Parse("::ffff:127.0.0.1")], await Guard(cidrs: ["127.0.0.1/32"]).CheckAsync(new Uri("http://[::ffff:127.0.0.1]/"), CancellationToken.None));
        Assert.NotEmpty(await Guard(hosts: ["10.0.0.5"]).CheckAsync(new Uri("http://10.0.0.5/"), CancellationToken.None));
        Assert.NotEmpty(await Guard(hosts: ["LOCALHOST"]).CheckAsync(new Uri("http://localhost/"), CancellationToken.None));
        // Allowing one range does not open the others.
        Assert.Equal(ErrorCodes.AdapterUrlForbidden,
            (await Assert.ThrowsAsync<AdapterException>(() => Guard(cidrs: ["127.0.0.1/32"]).CheckAsync(new Uri("http://169.254.169.254/"), CancellationToken.None))).Code);
    }

    [Fact]
    public async Task The_handler_checks_at_connect_time_so_a_client_cannot_reach_an_internal_server()
    {
        await using var endpoint = await AgentEndpoint.StartAsync();
        // No allow-list: the connection itself is refused (the check runs inside ConnectCallback, after the handler's own DNS lookup).
        using var refused = new HttpClient(Guard().CreateConnectHandler());
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => refused.GetAsync(endpoint.Url("/text")));
        Assert.Equal(ErrorCodes.AdapterUrlForbidden, SsrfGuard.Refusal(e)?.Code);
        Assert.Equal(0, endpoint.Attempts("/text"));
        // By name too: localhost resolves to loopback only.
        var byName = new UriBuilder(endpoint.Url("/text")) { Host = "localhost" }.Uri;
        Assert.Equal(ErrorCodes.AdapterUrlForbidden, SsrfGuard.Refusal(await Assert.ThrowsAsync<HttpRequestException>(() => refused.GetAsync(byName)))?.Code);

        // Allow-listed: it connects (the endpoint refuses the unsigned call itself).
        using var allowed = new HttpClient(Guard(cidrs: ["127.0.0.1/32"]).CreateConnectHandler());
        Assert.Equal(HttpStatusCode.Unauthorized, (await allowed.GetAsync(endpoint.Url("/text"))).StatusCode);
        Assert.Equal(1, endpoint.Attempts("/text"));

        // The adapters' handler also checks each request before it may reuse a pooled connection: refused as such.
        using var checkedClient = new HttpClient(Guard().CreateHandler());
        Assert.Equal(ErrorCodes.AdapterUrlForbidden, (await Assert.ThrowsAsync<AdapterException>(() => checkedClient.GetAsync(endpoint.Url("/text")))).Code);
        Assert.Equal(1, endpoint.Attempts("/text"));
    }

    private sealed class StaticMonitor(AdapterOptions value) : IOptionsMonitor<AdapterOptions>
    {
        public AdapterOptions CurrentValue => value;

        public AdapterOptions Get(string? name) => value;

        public IDisposable? OnChange(Action<AdapterOptions, string?> listener) => null;
    }
}
