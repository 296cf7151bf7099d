using System.Globalization;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.SignalR.Protocol;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.AspNetCore.SignalR.Client;

namespace Kai.Bench;

/// <summary>The SignalR baseline (bench/Kai.Bench.SignalR) driven by Microsoft.AspNetCore.SignalR.Client over WebSockets.</summary>
internal sealed class SignalRTarget(Uri baseUri) : ITarget
{
    private readonly HttpClient _http = new(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(30) };

    public string Name => "signalr";

    private static string AgentId(int i) => string.Create(CultureInfo.InvariantCulture, $"bench-{i:D6}");

    private async Task<HubConnection> ConnectAsync(string agentId, Action<HubConnection> configure, CancellationToken ct)
    {
        var token = await _http.GetStringAsync($"token/{agentId}", ct);
        var hubUri = new UriBuilder(new Uri(baseUri, "hub")) { Scheme = "ws", Query = "access_token=" + Uri.EscapeDataString(token) }.Uri;
        var connection = new HubConnection(new WebSocketConnectionFactory(() => hubUri), new JsonHubProtocol(), new UriEndPoint(hubUri),
            new ServiceCollection().BuildServiceProvider(), NullLoggerFactory.Instance); // it disposes the provider
        // The client's keep-alive (default 15 s) must stay under the server's ClientTimeoutInterval (30 s), or the server
        // drops links that only listen (S3 subscribers); only the client's own timeout for the server is relaxed.
        connection.ServerTimeout = TimeSpan.FromMinutes(5);
        configure(connection);
        await connection.StartAsync(ct);
        return connection;
    }

    public async Task<double> HeapBytesAsync(CancellationToken ct) =>
        double.Parse((await _http.GetStringAsync("heap", ct)).Split(' ')[0], CultureInfo.InvariantCulture);

    public async Task<Held> HoldAsync(int n, CancellationToken ct)
    {
        var connections = await Parallel2.MapAsync(n, 32, async i =>
        {
            try
            {
                return await ConnectAsync(AgentId(i), _ => { }, ct);
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or System.Net.WebSockets.WebSocketException)
            {
                Console.Error.WriteLine($"signalr: connection {i} failed: {ex.Message}");
                return null;
            }
        }, ct);
        var open = connections.Count(c => c?.State == HubConnectionState.Connected);
        return new Held(open, async () =>
            await Parallel2.MapAsync(n, 64, async i =>
            {
                if (connections[i] is { } c)
                {
                    await c.DisposeAsync();
                }
                return 0;
            }, CancellationToken.None));
    }

    public async Task<IPairs> PairsAsync(int pairs, Action<long> onOneWay, Action<long> onRoundTrip, CancellationToken ct)
    {
        var a = new HubConnection[pairs];
        var b = new HubConnection[pairs];
        for (var p = 0; p < pairs; p++)
        {
            a[p] = await ConnectAsync(AgentId(2 * p), c => c.On<string, string>("agent_message", (_, content) =>
            {
                var stamp = Loopback.Stamp(System.Text.Encoding.ASCII.GetBytes(content), out long _);
                if (stamp > 0)
                {
                    onRoundTrip(Clock.Now - stamp);
                }
            }), ct);
            HubConnection? self = null;
            b[p] = self = await ConnectAsync(AgentId(2 * p + 1), c => c.On<string, string>("agent_message", (from, content) =>
            {
                var stamp = Loopback.Stamp(System.Text.Encoding.ASCII.GetBytes(content), out long _);
                if (stamp > 0)
                {
                    onOneWay(Clock.Now - stamp);
                    return c.SendAsync("SendToAgent", from, content);
                }
                return Task.CompletedTask;
            }), ct);
        }
        await Task.Delay(300, ct);
        return new Pairs(a, b);
    }

    private sealed class Pairs(HubConnection[] a, HubConnection[] b) : IPairs
    {
        public void Send(int pair, long stamp, long seq)
        {
            var t = a[pair].SendAsync("SendToAgent", AgentId(2 * pair + 1), Loopback.StampText(stamp, seq));
            if (!t.IsCompleted)
            {
                t.GetAwaiter().GetResult();
            }
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var c in a.Concat(b))
            {
                await c.DisposeAsync();
            }
        }
    }

    public async Task<(IFanout? Fanout, string Note)> FanoutAsync(int subscribers, Action<long, long> onDelivery, CancellationToken ct)
    {
        var subs = await Parallel2.MapAsync(subscribers, 32, async i =>
        {
            var c = await ConnectAsync(AgentId(i + 1), c => c.On<string, string>("event", (_, data) =>
            {
                var stamp = Loopback.Stamp(System.Text.Encoding.ASCII.GetBytes(data), out var seq);
                if (stamp > 0)
                {
                    onDelivery(Clock.Now - stamp, seq);
                }
            }), ct);
            await c.InvokeAsync("Subscribe", "bench.fanout", ct);
            return c;
        }, ct);
        var publisher = await ConnectAsync(AgentId(0), _ => { }, ct);
        return (new Fanout(publisher, subs), "SignalR group");
    }

    private sealed class Fanout(HubConnection publisher, HubConnection[] subs) : IFanout
    {
        public void Publish(long stamp, long seq)
        {
            var t = publisher.SendAsync("Publish", "bench.fanout", Loopback.StampText(stamp, seq));
            if (!t.IsCompleted)
            {
                t.GetAwaiter().GetResult();
            }
        }

        public async ValueTask DisposeAsync()
        {
            await publisher.DisposeAsync();
            await Parallel2.MapAsync(subs.Length, 64, async i => { await subs[i].DisposeAsync(); return 0; }, CancellationToken.None);
        }
    }

    public Func<int, Task>? RestRead(int agents, string mix)
    {
        var token = _http.GetStringAsync($"token/{AgentId(0)}").GetAwaiter().GetResult();
        var count = Math.Max(1, agents);
        return async i =>
        {
            using var req = new HttpRequestMessage(HttpMethod.Get, mix == "list" || (mix == "both" && i % 2 == 0) ? "api/agents?limit=20" : $"api/agents/{AgentId(i / 2 % count)}");
            req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var res = await _http.SendAsync(req, HttpCompletionOption.ResponseContentRead);
            res.EnsureSuccessStatusCode();
        };
    }

    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }
}
