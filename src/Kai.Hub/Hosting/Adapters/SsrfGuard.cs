using System.Net;
using System.Net.Sockets;
using Kai.Protocol;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Hosting.Adapters;

/// <summary>
/// Keeps the hub's outbound adapter calls (webhook, custom API, health probes) away from its own network (SSRF): a URL's
/// host is resolved first and every address it resolves to is classified (<see cref="Classify"/>); the connection is made to a
/// permitted address that was checked, inside <see cref="SocketsHttpHandler.ConnectCallback"/>, so a DNS answer that changes
/// between the check and the connect (rebinding) cannot reach an internal address. Redirects are never followed.
/// </summary>
/// <remarks>
/// Refused unless allow-listed (<c>Kai:Adapters:Webhook:AllowedHosts</c> by host name, <c>AllowedCidrs</c> by range):
/// loopback, private (RFC 1918, RFC 4193 ULA, deprecated site-local), link-local, CGNAT (RFC 6598), cloud metadata
/// (169.254.169.254, fd00:ec2::254), unspecified, multicast, broadcast and reserved/documentation ranges, also when written
/// as IPv4-mapped (<c>::ffff:a.b.c.d</c>), IPv4-compatible, NAT64 (<c>64:ff9b::/96</c>) or 6to4 (<c>2002::/16</c>) IPv6.
/// A host name that resolves to both kinds is connected only to its public addresses.
/// </remarks>
internal sealed class SsrfGuard(IOptionsMonitor<AdapterOptions> options)
{
    private static readonly IPAddress AwsMetadataV6 = IPAddress.Parse("fd00:ec2::254");
    private static readonly IPAddress MetadataV4 = IPAddress.Parse("169.254.169.254");

    private static readonly (IPNetwork Net, string Why)[] V4 =
    [
        (IPNetwork.Parse("0.0.0.0/8"), "unspecified"),
        (IPNetwork.Parse("10.0.0.0/8"), "private"),
        (IPNetwork.Parse("100.64.0.0/10"), "cgnat"),
        (IPNetwork.Parse("127.0.0.0/8"), "loopback"),
        (IPNetwork.Parse("169.254.0.0/16"), "link-local"),
        (IPNetwork.Parse("172.16.0.0/12"), "private"),
        (IPNetwork.Parse("192.0.0.0/24"), "reserved"),
        (IPNetwork.Parse("192.0.2.0/24"), "reserved"),
        (IPNetwork.Parse("192.88.99.0/24"), "reserved"),
        (IPNetwork.Parse("192.168.0.0/16"), "private"),
        (IPNetwork.Parse("198.18.0.0/15"), "reserved"),
        (IPNetwork.Parse("198.51.100.0/24"), "reserved"),
        (IPNetwork.Parse("203.0.113.0/24"), "reserved"),
        (IPNetwork.Parse("224.0.0.0/4"), "multicast"),
        (IPNetwork.Parse("240.0.0.0/4"), "reserved"), // includes 255.255.255.255 (broadcast)
    ];

    private static readonly (IPNetwork Net, string Why)[] V6 =
    [
        (IPNetwork.Parse("::/128"), "unspecified"),
        (IPNetwork.Parse("::1/128"), "loopback"),
        (IPNetwork.Parse("100::/64"), "reserved"),
        (IPNetwork.Parse("2001:db8::/32"), "reserved"),
        (IPNetwork.Parse("fc00::/7"), "private"),
        (IPNetwork.Parse("fe80::/10"), "link-local"),
        (IPNetwork.Parse("fec0::/10"), "private"),
        (IPNetwork.Parse("ff00::/8"), "multicast"),
    ];

    private static readonly IPNetwork Nat64 = IPNetwork.Parse("64:ff9b::/96");
    private static readonly IPNetwork SixToFour = IPNetwork.Parse("2002::/16");
    private static readonly IPNetwork V4Compatible = IPNetwork.Parse("::/96");

    /// <summary>
    /// Why an address is internal: <c>loopback</c>, <c>private</c>, <c>link-local</c>, <c>cgnat</c>, <c>metadata</c>,
    /// <c>unspecified</c>, <c>multicast</c> or <c>reserved</c>; null for a public address.
    /// </summary>
    public static string? Classify(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            if (address.IsIPv4MappedToIPv6)
            {
                return Classify(address.MapToIPv4());
            }
            if (address.Equals(AwsMetadataV6))
            {
                return "metadata";
            }
            foreach (var (net, why) in V6)
            {
                if (net.Contains(address))
                {
                    return why;
                }
            }
            var bytes = address.GetAddressBytes();
            if (Nat64.Contains(address) || V4Compatible.Contains(address))
            {
                return Classify(new IPAddress(bytes.AsSpan(12, 4)));
            }
            if (SixToFour.Contains(address))
            {
                return Classify(new IPAddress(bytes.AsSpan(2, 4)));
            }
            return null;
        }
        if (address.AddressFamily != AddressFamily.InterNetwork)
        {
            return "reserved";
        }
        if (address.Equals(MetadataV4))
        {
            return "metadata";
        }
        foreach (var (net, why) in V4)
        {
            if (net.Contains(address))
            {
                return why;
            }
        }
        return null;
    }

    /// <summary>Whether the operator allow-listed this address (<c>AllowedCidrs</c>, or an IP literal in <c>AllowedHosts</c>).</summary>
    public bool IsAllowListed(IPAddress address)
    {
        var o = options.CurrentValue.Webhook;
        var a = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        foreach (var cidr in o.AllowedCidrs)
        {
            if (IPNetwork.TryParse(cidr, out var net) && net.Contains(a))
            {
                return true;
            }
        }
        foreach (var host in o.AllowedHosts)
        {
            if (IPAddress.TryParse(host.Trim('[', ']'), out var literal) && (literal.IsIPv4MappedToIPv6 ? literal.MapToIPv4() : literal).Equals(a))
            {
                return true;
            }
        }
        return false;
    }

    private bool IsAllowListedHost(string host) =>
        options.CurrentValue.Webhook.AllowedHosts.Any(h => string.Equals(h.TrimEnd('.'), host.TrimEnd('.'), StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Checks an outbound URL: an absolute http or https URL without user info whose host resolves to at least one permitted
    /// address. Returns the permitted addresses. <see cref="AdapterException"/> with <see cref="ErrorCodes.AdapterUrlForbidden"/>
    /// (or <see cref="ErrorCodes.AdapterUnavailable"/> when the name does not resolve) otherwise.
    /// </summary>
    public async Task<IPAddress[]> CheckAsync(Uri url, CancellationToken ct)
    {
        if (!url.IsAbsoluteUri || url.Scheme is not ("http" or "https"))
        {
            throw new AdapterException(ErrorCodes.AdapterUrlForbidden, $"Only absolute http and https URLs are reached, not '{url}'.");
        }
        if (!string.IsNullOrEmpty(url.UserInfo))
        {
            throw new AdapterException(ErrorCodes.AdapterUrlForbidden, "URLs with user info (user:password@) are refused; use the agent's secret instead.");
        }
        return await PermittedAsync(url.IdnHost, ct);
    }

    /// <summary>The permitted addresses of a host (resolved now); refuses when none is permitted.</summary>
    public async Task<IPAddress[]> PermittedAsync(string host, CancellationToken ct)
    {
        var name = host.Trim('[', ']');
        IPAddress[] resolved;
        if (IPAddress.TryParse(name, out var literal))
        {
            resolved = [literal];
        }
        else
        {
            try
            {
                resolved = await Dns.GetHostAddressesAsync(name, ct);
            }
            catch (SocketException e)
            {
                throw new AdapterException(ErrorCodes.AdapterUnavailable, $"The host '{name}' does not resolve: {e.Message}", inner: e);
            }
        }
        if (literal is null && IsAllowListedHost(name))
        {
            return resolved;
        }
        var permitted = resolved.Where(a => Classify(a) is null || IsAllowListed(a)).ToArray();
        if (permitted.Length == 0)
        {
            var reasons = string.Join(", ", resolved.Select(a => $"{a} ({Classify(a)})"));
            throw new AdapterException(ErrorCodes.AdapterUrlForbidden,
                $"The host '{name}' resolves only to internal addresses, which adapters may not reach: {(reasons.Length == 0 ? "(no addresses)" : reasons)}. "
                + "An operator may allow them in Kai:Adapters:Webhook:AllowedHosts or AllowedCidrs.");
        }
        return permitted;
    }

    /// <summary>
    /// The handler adapters use: every request's host is checked against the allow-list as it is now (<see cref="AdapterException"/>
    /// when refused; a pooled connection opened under a wider allow-list is not reused past a narrowing), then sent through
    /// <see cref="CreateConnectHandler"/>, which checks the address it actually connects to.
    /// </summary>
    public HttpMessageHandler CreateHandler() => new RequestCheck(this) { InnerHandler = CreateConnectHandler() };

    private sealed class RequestCheck(SsrfGuard guard) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            await guard.CheckAsync(request.RequestUri!, cancellationToken);
            return await base.SendAsync(request, cancellationToken);
        }
    }

    /// <summary>
    /// An HTTP handler that connects only to addresses this guard permits (checked at connect time, after its own DNS lookup),
    /// never through a proxy, never following redirects, without cookies. A refusal surfaces as an <see cref="HttpRequestException"/>
    /// whose inner exception is the <see cref="AdapterException"/>.
    /// </summary>
    public SocketsHttpHandler CreateConnectHandler() => new()
    {
        AllowAutoRedirect = false,
        UseProxy = false,
        UseCookies = false,
        AutomaticDecompression = DecompressionMethods.None,
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        ConnectTimeout = TimeSpan.FromSeconds(15),
        ConnectCallback = async (context, ct) =>
        {
            var addresses = await PermittedAsync(context.DnsEndPoint.Host, ct);
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(addresses, context.DnsEndPoint.Port, ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };

    /// <summary>The guard's refusal inside an exception chain (the handler wraps it in HttpRequestException), or null.</summary>
    public static AdapterException? Refusal(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is AdapterException a)
            {
                return a;
            }
        }
        return null;
    }
}
