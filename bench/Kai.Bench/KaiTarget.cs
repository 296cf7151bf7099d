using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kai.Bench;

/// <summary>
/// Kai Hub over its public wire contract (docs/protocol.md): REST to provision a user and agents, raw WebSockets on
/// <c>/ws/agents/{id}</c> for the links. Agent credentials and tokens are cached in a state file next to the hub's
/// data, so repeated runs against the same data directory skip provisioning.
/// </summary>
internal sealed class KaiTarget : ITarget
{
    private const string Email = "bench@example.com";
    private const string Password = "bench-password-9";
    private readonly Uri _base;
    private readonly Uri _wsBase;
    // The cluster's nodes (the primary first; bench/cluster.sh passes --peers): agent links spread over them round robin, so
    // S2's pairs and S5's workers sit on different nodes, and S3's subscribers sit on the peers while the publisher is on the primary.
    private readonly Uri[] _wsBases;
    private readonly string _stateFile;
    private readonly HttpClient _http;
    private string _userToken = "";
    private List<AgentCred> _agents = [];

    private sealed record AgentCred(string Id, string Secret, string Token);

    public KaiTarget(Uri baseUri, string stateFile, IReadOnlyList<Uri>? peers = null)
    {
        _base = baseUri;
        _wsBase = new UriBuilder(baseUri) { Scheme = baseUri.Scheme == "https" ? "wss" : "ws" }.Uri;
        _wsBases = [_wsBase, .. (peers ?? []).Select(p => new UriBuilder(p) { Scheme = p.Scheme == "https" ? "wss" : "ws" }.Uri)];
        _stateFile = stateFile;
        _http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
        {
            BaseAddress = baseUri,
            Timeout = TimeSpan.FromSeconds(30),
        };
    }

    public string Name => "kai";

    public async Task InitAsync(CancellationToken ct)
    {
        using (var reg = await _http.PostAsJsonAsync("api/v1/auth/register",
            new { email = Email, password = Password, display_name = "Bench", terms_accepted = true }, ct))
        {
            if (reg.StatusCode is not (HttpStatusCode.Created or HttpStatusCode.Conflict))
            {
                throw new InvalidOperationException($"register: {(int)reg.StatusCode} {await reg.Content.ReadAsStringAsync(ct)}");
            }
        }
        using var login = await _http.PostAsJsonAsync("api/v1/auth/login", new { email = Email, password = Password }, ct);
        login.EnsureSuccessStatusCode();
        _userToken = (await login.Content.ReadFromJsonAsync<JsonObject>(ct))!["access_token"]!.GetValue<string>();
        if (File.Exists(_stateFile))
        {
            _agents = JsonSerializer.Deserialize<List<AgentCred>>(await File.ReadAllTextAsync(_stateFile, ct)) ?? [];
        }
    }

    /// <summary>Registers agents bench-000000.. up to <paramref name="count"/> and gets each a token (kept in the state file).</summary>
    public async Task EnsureAgentsAsync(int count, CancellationToken ct)
    {
        if (_agents.Count >= count)
        {
            return;
        }
        var have = _agents.Count;
        var started = Clock.Now;
        var fresh = await Parallel2.MapAsync(count - have, 16, async i =>
        {
            var id = string.Create(CultureInfo.InvariantCulture, $"bench-{have + i:D6}");
            using var req = new HttpRequestMessage(HttpMethod.Post, "api/v1/agents/register")
            {
                Content = JsonContent.Create(new { id, type = "worker", capabilities = new[] { "bench.work" } }),
            };
            req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _userToken);
            using var res = await _http.SendAsync(req, ct);
            res.EnsureSuccessStatusCode();
            var secret = (await res.Content.ReadFromJsonAsync<JsonObject>(ct))!["client_secret"]!.GetValue<string>();
            using var tok = await _http.PostAsync("api/v1/auth/token", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials", ["client_id"] = id, ["client_secret"] = secret,
            }), ct);
            tok.EnsureSuccessStatusCode();
            var token = (await tok.Content.ReadFromJsonAsync<JsonObject>(ct))!["access_token"]!.GetValue<string>();
            return new AgentCred(id, secret, token);
        }, ct);
        _agents.AddRange(fresh);
        await File.WriteAllTextAsync(_stateFile, JsonSerializer.Serialize(_agents), ct);
        Console.Error.WriteLine($"kai: provisioned {fresh.Length} agents in {Recorder.Ms(Clock.Now - started) / 1000:0.0} s");
    }

    private Uri AgentUri(string agentId, string token, int node = 0) => new(_wsBases[node], $"ws/agents/{agentId}?token={Uri.EscapeDataString(token)}");

    private Task<RawLink> AgentLinkAsync(int index, Action<RawLink, ReadOnlyMemory<byte>> onMessage, CancellationToken ct) =>
        RawLink.ConnectAsync(AgentUri(_agents[index].Id, _agents[index].Token, index % _wsBases.Length), onMessage, ct);

    /// <summary>The node a fan-out subscriber connects to: a peer when there are any, so every delivery crosses nodes.</summary>
    private Uri SubscriberBase(int i) => _wsBases.Length > 1 ? _wsBases[1 + (i % (_wsBases.Length - 1))] : _wsBase;

    public async Task<double> HeapBytesAsync(CancellationToken ct)
    {
        var text = await _http.GetStringAsync("metrics", ct);
        double sum = 0;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("dotnet_gc_last_collection_heap_size_bytes{", StringComparison.Ordinal))
            {
                sum += double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
            }
        }
        return sum;
    }

    /// <summary>A counter from /metrics (summed over labels), e.g. dotnet_gc_heap_total_allocated_bytes_total.</summary>
    public async Task<double> CounterAsync(string name, CancellationToken ct)
    {
        var text = await _http.GetStringAsync("metrics", ct);
        double sum = 0;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(name + " ", StringComparison.Ordinal) || line.StartsWith(name + "{", StringComparison.Ordinal))
            {
                sum += double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
            }
        }
        return sum;
    }

    public async Task<Held> HoldAsync(int n, CancellationToken ct)
    {
        await EnsureAgentsAsync(n, ct);
        var welcomed = 0;
        var links = await Parallel2.MapAsync(n, 32, async i =>
        {
            try
            {
                return await AgentLinkAsync(i, (_, m) =>
                {
                    if (m.Span.IndexOf("\"welcome\""u8) >= 0)
                    {
                        Interlocked.Increment(ref welcomed);
                    }
                }, ct);
            }
            catch (Exception ex) when (ex is WebSocketException or HttpRequestException or IOException)
            {
                Console.Error.WriteLine($"kai: link {i} failed: {ex.Message}");
                return null;
            }
        }, ct);
        // Every link is authenticated once the hub has sent its welcome frame; wait for them (bounded).
        var until = Clock.Now + TimeSpan.FromSeconds(30).Ticks * (System.Diagnostics.Stopwatch.Frequency / TimeSpan.TicksPerSecond);
        while (Volatile.Read(ref welcomed) < links.Count(l => l is not null) && Clock.Now < until)
        {
            await Task.Delay(50, ct);
        }
        var open = links.Count(l => l is { Open: true });
        return new Held(Math.Min(open, Volatile.Read(ref welcomed)), async () =>
        {
            await Parallel2.MapAsync(links.Length, 64, async i =>
            {
                if (links[i] is { } l)
                {
                    await l.DisposeAsync();
                }
                return 0;
            }, CancellationToken.None);
        });
    }

    private static readonly byte[] MsgHead = "{\"type\":\"agent_message\",\"timestamp\":\"2026-01-01T00:00:00.000Z\",\"payload\":{\"message_type\":\"bench\",\"to_agent\":\""u8.ToArray();

    private static byte[] AgentMessage(string to, long stamp, long seq) =>
        [.. MsgHead, .. Encoding.UTF8.GetBytes($"{to}\",\"content\":\"{Loopback.StampText(stamp, seq)}\"}}}}")];

    public async Task<IPairs> PairsAsync(int pairs, Action<long> onOneWay, Action<long> onRoundTrip, CancellationToken ct)
    {
        await EnsureAgentsAsync(pairs * 2, ct);
        var a = new RawLink[pairs];
        var b = new RawLink[pairs];
        for (var p = 0; p < pairs; p++)
        {
            var aId = _agents[2 * p].Id;
            a[p] = await AgentLinkAsync(2 * p, (_, m) =>
            {
                var stamp = Loopback.Stamp(m.Span, out long _);
                if (stamp > 0)
                {
                    onRoundTrip(Clock.Now - stamp);
                }
            }, ct);
            b[p] = await AgentLinkAsync(2 * p + 1, (link, m) =>
            {
                var stamp = Loopback.Stamp(m.Span, out var seq);
                if (stamp > 0)
                {
                    onOneWay(Clock.Now - stamp);
                    link.SendNow(AgentMessage(aId, stamp, seq));
                }
            }, ct);
        }
        await Task.Delay(300, ct); // let the welcome frames and presence writes settle
        return new KaiPairs(a, b, [.. Enumerable.Range(0, pairs).Select(p => _agents[2 * p + 1].Id)]);
    }

    private sealed class KaiPairs(RawLink[] a, RawLink[] b, string[] bIds) : IPairs
    {
        public void Send(int pair, long stamp, long seq) => a[pair].SendNow(AgentMessage(bIds[pair], stamp, seq));

        public async ValueTask DisposeAsync()
        {
            foreach (var l in a.Concat(b))
            {
                await l.DisposeAsync();
            }
        }
    }

    // S6: an AMRI request on /ws/rpc (docs/protocol.md "AMRI RPC"). The id is the stamp text, so the callee answers it without parsing
    // JSON and the caller finds the stamp in the response envelope; params carry the same text, echoed as the result.
    private static byte[] RpcRequest(string to, long stamp, long seq)
    {
        var text = Loopback.StampText(stamp, seq);
        return Encoding.UTF8.GetBytes($"{{\"id\":\"{text}\",\"destination\":\"{to}\",\"method\":\"bench.echo\",\"params\":{{\"content\":\"{text}\"}}}}");
    }

    // The callee's answer on its agent link: an rpc_response frame whose payload is the response envelope with the request's id.
    // No frame id, so the hub sends no ack (as S2's agent_messages ask for none).
    private static byte[] RpcResponse(long stamp, long seq)
    {
        var text = Loopback.StampText(stamp, seq);
        return Encoding.UTF8.GetBytes("{\"type\":\"rpc_response\",\"timestamp\":\"2026-01-01T00:00:00.000Z\",\"payload\":{\"id\":\"" + text
            + "\",\"result\":{\"content\":\"" + text + "\"},\"error\":null}}");
    }

    /// <summary>
    /// S6: <paramref name="pairs"/> pairs of agents from index <paramref name="firstAgent"/>: the caller's <c>/ws/rpc</c> link sends
    /// <c>bench.echo</c> requests with the callee as <c>destination</c>; the callee's agent link gets each as an <c>rpc_request</c>
    /// frame and answers an <c>rpc_response</c> at once. <paramref name="onAnswer"/> gets the round trip (ticks) of every response
    /// envelope without an error; <paramref name="onError"/> is called for every error envelope (the hub's or a refusal).
    /// </summary>
    public async Task<IPairs> RpcPairsAsync(int pairs, int firstAgent, Action<long> onAnswer, Action onError, CancellationToken ct)
    {
        await EnsureAgentsAsync(firstAgent + pairs * 2, ct);
        var callers = new RawLink[pairs];
        var callees = new RawLink[pairs];
        for (var p = 0; p < pairs; p++)
        {
            var caller = _agents[firstAgent + 2 * p];
            var callee = firstAgent + 2 * p + 1;
            callees[p] = await AgentLinkAsync(callee, (link, m) =>
            {
                var span = m.Span;
                if (span.IndexOf("\"rpc_request\""u8) >= 0 && Loopback.Stamp(span, out var seq) is var stamp and > 0)
                {
                    link.SendNow(RpcResponse(stamp, seq));
                }
            }, ct);
            callers[p] = await RawLink.ConnectAsync(new Uri(_wsBases[(firstAgent + 2 * p) % _wsBases.Length], $"ws/rpc?token={Uri.EscapeDataString(caller.Token)}"), (_, m) =>
            {
                var span = m.Span;
                var stamp = Loopback.Stamp(span, out long _);
                if (stamp > 0 && span.IndexOf("\"error\":null"u8) >= 0)
                {
                    onAnswer(Clock.Now - stamp);
                }
                else
                {
                    onError();
                }
            }, ct);
        }
        await Task.Delay(300, ct); // let the welcome frames and presence writes settle
        return new KaiRpcPairs(callers, callees, [.. Enumerable.Range(0, pairs).Select(p => _agents[firstAgent + 2 * p + 1].Id)]);
    }

    private sealed class KaiRpcPairs(RawLink[] callers, RawLink[] callees, string[] calleeIds) : IPairs
    {
        public void Send(int pair, long stamp, long seq) => callers[pair].SendNow(RpcRequest(calleeIds[pair], stamp, seq));

        public async ValueTask DisposeAsync()
        {
            foreach (var l in callers.Concat(callees))
            {
                await l.DisposeAsync();
            }
        }
    }

    public async Task<(IFanout? Fanout, string Note)> FanoutAsync(int subscribers, Action<long, long> onDelivery, CancellationToken ct)
    {
        await EnsureAgentsAsync(1, ct);
        // Topic pub/sub (/ws, issue 4) when this build has it; otherwise the observer path that exists today.
        var topics = await ProbeTopicsAsync(ct);
        if (topics)
        {
            return (await TopicFanoutAsync(subscribers, onDelivery, ct), "topic pub/sub on /ws");
        }
        var agentId = _agents[0].Id;
        var subs = await Parallel2.MapAsync(subscribers, 32, i => RawLink.ConnectAsync(AgentUri(agentId, _userToken), (_, m) =>
        {
            var stamp = Loopback.Stamp(m.Span, out var seq);
            if (stamp > 0)
            {
                onDelivery(Clock.Now - stamp, seq);
            }
        }, ct), ct);
        var publisher = await AgentLinkAsync(0, (_, _) => { }, ct);
        await Task.Delay(300, ct);
        return (new LogFanout(publisher, subs), "/ws topic pub/sub not available on this build (404): observer path, one agent's log frames to N observer links");
    }

    private async Task<bool> ProbeTopicsAsync(CancellationToken ct)
    {
        using var ws = new ClientWebSocket();
        ws.Options.CollectHttpResponseDetails = true;
        try
        {
            await ws.ConnectAsync(new Uri(_wsBase, $"ws?token={Uri.EscapeDataString(_userToken)}"), Loopback.Invoker, ct);
            await ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "probe", ct);
            return true;
        }
        catch (WebSocketException)
        {
            if (ws.HttpStatusCode != HttpStatusCode.NotFound)
            {
                Console.Error.WriteLine($"kai: /ws answered {(int)ws.HttpStatusCode}; treating topics as unavailable");
            }
            return false;
        }
    }

    private async Task<IFanout> TopicFanoutAsync(int subscribers, Action<long, long> onDelivery, CancellationToken ct)
    {
        var acked = 0;
        var subs = await Parallel2.MapAsync(subscribers, 32, async i =>
        {
            var link = await RawLink.ConnectAsync(new Uri(SubscriberBase(i), $"ws?token={Uri.EscapeDataString(_userToken)}"), (_, m) =>
            {
                var stamp = Loopback.Stamp(m.Span, out var seq);
                if (stamp > 0)
                {
                    onDelivery(Clock.Now - stamp, seq);
                }
                else if (m.Span.IndexOf("\"ack\""u8) >= 0)
                {
                    Interlocked.Increment(ref acked);
                }
            }, ct);
            await link.SendTextAsync("""{"type":"subscribe","id":"s1","timestamp":"2026-01-01T00:00:00.000Z","payload":{"events":["app.bench.fanout"]}}""");
            return link;
        }, ct);
        for (var i = 0; i < 200 && Volatile.Read(ref acked) < subscribers; i++)
        {
            await Task.Delay(50, ct);
        }
        // The publisher is an agent of the same owner (its events are stamped with that owner, so the user's subscribers
        // see them): with 10,000 subscribers the user holds the most links one principal may open.
        await EnsureAgentsAsync(1, ct);
        var publisher = await RawLink.ConnectAsync(new Uri(_wsBase, $"ws?token={Uri.EscapeDataString(_agents[0].Token)}"), (_, _) => { }, ct);
        return new TopicFanout(publisher, subs);
    }

    private sealed class LogFanout(RawLink publisher, RawLink[] subs) : IFanout
    {
        public void Publish(long stamp, long seq) => publisher.SendNow(Encoding.UTF8.GetBytes(
            "{\"type\":\"log\",\"timestamp\":\"2026-01-01T00:00:00.000Z\",\"payload\":{\"level\":\"info\",\"message\":\"" + Loopback.StampText(stamp, seq) + "\"}}"));

        public async ValueTask DisposeAsync()
        {
            await publisher.DisposeAsync();
            await Parallel2.MapAsync(subs.Length, 64, async i => { await subs[i].DisposeAsync(); return 0; }, CancellationToken.None);
        }
    }

    private sealed class TopicFanout(RawLink publisher, RawLink[] subs) : IFanout
    {
        public void Publish(long stamp, long seq) => publisher.SendNow(Encoding.UTF8.GetBytes(
            "{\"type\":\"publish\",\"timestamp\":\"2026-01-01T00:00:00.000Z\",\"payload\":{\"topic\":\"app.bench.fanout\",\"data\":{\"m\":\"" + Loopback.StampText(stamp, seq) + "\"}}}"));

        public async ValueTask DisposeAsync()
        {
            await publisher.DisposeAsync();
            await Parallel2.MapAsync(subs.Length, 64, async i => { await subs[i].DisposeAsync(); return 0; }, CancellationToken.None);
        }
    }

    public Func<int, Task>? RestRead(int agents, string mix)
    {
        var count = Math.Max(1, Math.Min(agents, _agents.Count));
        return async i =>
        {
            var path = mix == "list" || (mix == "both" && i % 2 == 0) ? "api/v1/agents?limit=20" : $"api/v1/agents/{_agents[i / 2 % count].Id}";
            using var req = new HttpRequestMessage(HttpMethod.Get, path);
            req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _userToken);
            using var res = await _http.SendAsync(req, HttpCompletionOption.ResponseContentRead);
            res.EnsureSuccessStatusCode();
        };
    }

    /// <summary>
    /// S5: <paramref name="workers"/> agents with capability <c>bench.work</c> complete each task as soon as its <c>task</c>
    /// frame arrives; <paramref name="concurrency"/> callers each POST a task and wait for its completion (the hub's ack of
    /// the agent's <c>task_update completed</c>, which the hub sends after the result is committed).
    /// </summary>
    public async Task<(double PerSecond, Percentiles Queue, Percentiles EndToEnd, int Failed)> TasksAsync(
        int workers, int concurrency, TimeSpan duration, string runTag, CancellationToken ct)
    {
        await EnsureAgentsAsync(workers, ct);
        var started = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        var done = new ConcurrentDictionary<string, TaskCompletionSource>(StringComparer.Ordinal);
        var queue = new Recorder(1_000_000);
        var e2e = new Recorder(1_000_000);
        var links = new RawLink[workers];
        for (var w = 0; w < workers; w++)
        {
            links[w] = await AgentLinkAsync(w, (link, m) =>
            {
                var span = m.Span;
                if (span.IndexOf("\"type\":\"task\""u8) >= 0)
                {
                    using var doc = JsonDocument.Parse(m);
                    var p = doc.RootElement.GetProperty("payload");
                    var taskId = p.GetProperty("task_id").GetString()!;
                    if (started.TryGetValue(taskId, out var t0))
                    {
                        queue.Record(Clock.Now - t0);
                    }
                    var fencing = p.GetProperty("fencing_token").GetInt64();
                    link.SendNow(Encoding.UTF8.GetBytes(
                        "{\"type\":\"task_update\",\"id\":\"u:" + taskId + "\",\"timestamp\":\"2026-01-01T00:00:00.000Z\",\"payload\":{\"task_id\":\"" + taskId
                        + "\",\"status\":\"completed\",\"result\":{\"ok\":true},\"fencing_token\":" + fencing.ToString(CultureInfo.InvariantCulture) + "}}"));
                }
                else if (span.IndexOf("\"type\":\"ack\""u8) >= 0 && span.IndexOf("\"u:"u8) >= 0)
                {
                    using var doc = JsonDocument.Parse(m);
                    var id = doc.RootElement.GetProperty("id").GetString()!;
                    if (done.TryRemove(id[2..], out var tcs))
                    {
                        tcs.TrySetResult();
                    }
                }
            }, ct);
        }
        await Task.Delay(300, ct);
        var completed = 0;
        var failed = 0;
        var t0 = Clock.Now;
        var end = t0 + (long)(duration.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        var seq = 0;
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            while (Clock.Now < end && !ct.IsCancellationRequested)
            {
                var id = string.Create(CultureInfo.InvariantCulture, $"bt-{runTag}-{Interlocked.Increment(ref seq)}");
                var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                done[id] = tcs;
                var s = Clock.Now;
                started[id] = s;
                using var req = new HttpRequestMessage(HttpMethod.Post, "api/v1/tasks")
                {
                    Content = new StringContent("{\"id\":\"" + id + "\",\"type\":\"bench.work\",\"input_data\":{\"n\":1}}", Encoding.UTF8, "application/json"),
                };
                req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _userToken);
                using var res = await _http.SendAsync(req, ct);
                if (!res.IsSuccessStatusCode)
                {
                    Interlocked.Increment(ref failed);
                    done.TryRemove(id, out var _);
                    continue;
                }
                if (await Task.WhenAny(tcs.Task, Task.Delay(TimeSpan.FromSeconds(10), ct)) != tcs.Task)
                {
                    Interlocked.Increment(ref failed);
                    continue;
                }
                e2e.Record(Clock.Now - s);
                Interlocked.Increment(ref completed);
            }
        }));
        var elapsed = Recorder.Ms(Clock.Now - t0) / 1000;
        foreach (var l in links)
        {
            await l.DisposeAsync();
        }
        return (completed / elapsed, queue.Summarize(), e2e.Summarize(), failed);
    }

    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }
}
