// Kai.Fuzz: the long fuzz bench of issue 10. Sends malformed REST requests and WebSocket frames to a running hub and
// counts what must never happen: 5xx answers (other than the documented 503s), a hub that stops answering (crash), and
// links the hub drops without a close frame. Not a test: bench/fuzz.sh runs it and docs/security.md keeps the figures.
using System.Collections.Concurrent;
using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kai.Protocol.Frames;

var url = new Option<string>("--url") { Description = "the hub's base URL", Required = true };
var pidOption = new Option<int>("--server-pid") { Description = "the hub's process id (a crash is a process that is gone)" };
var inputs = new Option<long>("--inputs") { Description = "malformed inputs in all (REST requests + WebSocket frames)", DefaultValueFactory = _ => 1_000_000 };
var seed = new Option<int>("--seed") { Description = "random seed (a run is reproducible per worker)", DefaultValueFactory = _ => 1 };
var restWorkers = new Option<int>("--rest-workers") { DefaultValueFactory = _ => 24 };
var wsWorkers = new Option<int>("--ws-workers") { DefaultValueFactory = _ => 8 };
var wsShare = new Option<double>("--ws-share") { Description = "the share of inputs sent as WebSocket frames", DefaultValueFactory = _ => 0.4 };
var output = new Option<string?>("--out") { Description = "where to write the JSON summary" };
var root = new RootCommand("Fuzz a running Kai Hub with malformed REST and WebSocket inputs") { url, pidOption, inputs, seed, restWorkers, wsWorkers, wsShare, output };
root.SetAction(async (parse, ct) =>
{
    var run = new FuzzRun(new Uri(parse.GetValue(url)!.TrimEnd('/') + "/"), parse.GetValue(pidOption), parse.GetValue(seed));
    await run.SetUpAsync(parse.GetValue(wsWorkers), ct);
    var total = parse.GetValue(inputs);
    var wsInputs = (long)(total * parse.GetValue(wsShare));
    var summary = await run.RunAsync(total - wsInputs, wsInputs, parse.GetValue(restWorkers), parse.GetValue(wsWorkers), ct);
    var json = JsonSerializer.Serialize(summary, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower });
    Console.WriteLine(json);
    if (parse.GetValue(output) is { } path)
    {
        await File.WriteAllTextAsync(path, json, ct);
    }
    return summary.ServerErrors == 0 && !summary.Crashed && summary.ClosedWithoutCloseFrame == 0 ? 0 : 1;
});
return await root.Parse(args).InvokeAsync();

internal sealed record Operation(HttpMethod Method, string Template, bool HasBody);

internal sealed record Summary(
    long Inputs, long RestRequests, long WebSocketFrames, double Seconds, long ServerErrors, long Documented503, bool Crashed,
    long ClosedWithoutCloseFrame, long Timeouts, long TransportErrors, long LinksOpened, SortedDictionary<string, long> StatusCounts,
    SortedDictionary<string, long> CloseCodes, IReadOnlyList<string> Examples);

internal sealed class FuzzRun(Uri baseUri, int serverPid, int seed)
{
    private const string Password = "fuzz-password-long-enough";
    private readonly HttpClient _http = new(new SocketsHttpHandler { MaxConnectionsPerServer = 256, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
    {
        BaseAddress = baseUri,
        Timeout = TimeSpan.FromSeconds(30),
    };
    private readonly ConcurrentDictionary<string, long> _status = new();
    private readonly ConcurrentDictionary<string, long> _closes = new();
    private readonly ConcurrentQueue<string> _examples = new();
    private readonly List<(string Id, string Token)> _agents = [];
    private List<Operation> _operations = [];
    private string[] _names = [];
    private string _userToken = "";
    private long _serverErrors, _documented503, _noCloseFrame, _timeouts, _transport, _links, _rest, _frames;

    public async Task SetUpAsync(int agentCount, CancellationToken ct)
    {
        var email = $"fuzz-{Guid.NewGuid():N}@example.com";
        (await _http.PostAsJsonAsync("api/v1/auth/register", new { email, password = Password, display_name = "Fuzz", terms_accepted = true }, ct)).EnsureSuccessStatusCode();
        var login = await _http.PostAsJsonAsync("api/v1/auth/login", new { email, password = Password }, ct);
        login.EnsureSuccessStatusCode();
        _userToken = (await login.Content.ReadFromJsonAsync<JsonObject>(ct))!["access_token"]!.GetValue<string>();
        for (var i = 0; i < Math.Max(2, agentCount); i++)
        {
            using var req = new HttpRequestMessage(HttpMethod.Post, "api/v1/agents/register")
            {
                Content = JsonContent.Create(new { id = $"fuzz-{Guid.NewGuid():N}"[..20], type = "worker", capabilities = new[] { "fuzz.work" } }),
            };
            req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _userToken);
            using var res = await _http.SendAsync(req, ct);
            res.EnsureSuccessStatusCode();
            var created = (await res.Content.ReadFromJsonAsync<JsonObject>(ct))!;
            var id = created["agent_id"]!.GetValue<string>();
            using var tok = await _http.PostAsync("api/v1/auth/token", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials", ["client_id"] = id, ["client_secret"] = created["client_secret"]!.GetValue<string>(),
            }), ct);
            tok.EnsureSuccessStatusCode();
            _agents.Add((id, (await tok.Content.ReadFromJsonAsync<JsonObject>(ct))!["access_token"]!.GetValue<string>()));
        }
        // Every operation of the API description, and every property name its schemas know: the fuzzer's dictionary.
        var doc = JsonNode.Parse(await _http.GetStringAsync("openapi.json", ct))!;
        // Left out: the routes that end the fuzzer's own credentials (logout, secret rotation, deleting its agents), which
        // would turn the rest of the run into 401s and measure nothing.
        _operations = [.. doc["paths"]!.AsObject().SelectMany(p => p.Value!.AsObject()
            .Where(m => m.Key is "get" or "post" or "put" or "patch" or "delete")
            .Select(m => new Operation(new HttpMethod(m.Key.ToUpperInvariant()), p.Key, m.Value!["requestBody"] is not null)))
            .Where(o => !o.Template.EndsWith("/logout", StringComparison.Ordinal) && !o.Template.Contains("rotate-secret", StringComparison.Ordinal)
                && !(o.Method == HttpMethod.Delete && o.Template.StartsWith("/api/v1/agents/{", StringComparison.Ordinal)))];
        var names = new HashSet<string>(StringComparer.Ordinal);
        Collect(doc["components"], names);
        _names = [.. names];
        Console.Error.WriteLine($"fuzz: {_operations.Count} operations, {_names.Length} property names, {_agents.Count} agents");
    }

    private static void Collect(JsonNode? node, HashSet<string> names)
    {
        if (node is JsonObject o)
        {
            if (o["properties"] is JsonObject props)
            {
                foreach (var (k, _) in props)
                {
                    names.Add(k);
                }
            }
            foreach (var (_, v) in o)
            {
                Collect(v, names);
            }
        }
        else if (node is JsonArray a)
        {
            foreach (var v in a)
            {
                Collect(v, names);
            }
        }
    }

    public async Task<Summary> RunAsync(long restInputs, long wsInputs, int restWorkers, int wsWorkers, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        using var progress = new Timer(_ => Console.Error.WriteLine(
            $"fuzz: {Interlocked.Read(ref _rest):N0} requests, {Interlocked.Read(ref _frames):N0} frames, {Interlocked.Read(ref _serverErrors)} 5xx, " +
            $"{Interlocked.Read(ref _noCloseFrame)} dropped links, {watch.Elapsed.TotalSeconds:0} s"), null, TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(15));
        var tasks = new List<Task>();
        for (var w = 0; w < restWorkers; w++)
        {
            var random = new Random(seed * 1000 + w);
            tasks.Add(Task.Run(() => RestWorkerAsync(random, restInputs, ct), ct));
        }
        for (var w = 0; w < wsWorkers; w++)
        {
            var random = new Random(seed * 1000 + 500 + w);
            var agent = _agents[w % _agents.Count];
            tasks.Add(Task.Run(() => WebSocketWorkerAsync(random, agent, wsInputs, ct), ct));
        }
        await Task.WhenAll(tasks);
        var crashed = !await AliveAsync(ct);
        return new Summary(_rest + _frames, _rest, _frames, Math.Round(watch.Elapsed.TotalSeconds, 1), _serverErrors, _documented503, crashed,
            _noCloseFrame, _timeouts, _transport, _links, new(_status.ToDictionary()), new(_closes.ToDictionary()), [.. _examples.Take(40)]);
    }

    private async Task<bool> AliveAsync(CancellationToken ct)
    {
        if (serverPid > 0 && !Directory.Exists($"/proc/{serverPid}"))
        {
            return false;
        }
        try
        {
            using var res = await _http.GetAsync("health", ct);
            return res.StatusCode == HttpStatusCode.OK;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    private void Example(string text)
    {
        if (_examples.Count < 10)
        {
            Console.Error.WriteLine("fuzz: example: " + (text.Length > 300 ? text[..300] : text));
        }
        if (_examples.Count < 40)
        {
            _examples.Enqueue(text.Length > 400 ? text[..400] : text);
        }
    }

    // ---- REST ----

    private async Task RestWorkerAsync(Random r, long budget, CancellationToken ct)
    {
        var gen = new Gen(r, _names);
        while (Interlocked.Increment(ref _rest) <= budget && !ct.IsCancellationRequested)
        {
            var op = _operations[r.Next(_operations.Count)];
            var method = r.Next(20) == 0 ? new HttpMethod(gen.Pick("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE")) : op.Method;
            var path = FillPath(op.Template, r, gen);
            using var req = new HttpRequestMessage(method, path.TrimStart('/') + gen.Query());
            switch (r.Next(10))
            {
                case < 4: req.Headers.TryAddWithoutValidation("Authorization", "Bearer " + _userToken); break;
                case < 6: req.Headers.TryAddWithoutValidation("Authorization", "Bearer " + _agents[r.Next(_agents.Count)].Token); break;
                case < 8: req.Headers.TryAddWithoutValidation("Authorization", gen.BadAuthorization(_userToken)); break;
                default: break;
            }
            if (r.Next(8) == 0)
            {
                req.Headers.TryAddWithoutValidation(gen.Pick("Idempotency-Key", "traceparent", "X-Correlation-ID", "Origin", "Last-Event-ID", "Accept"), gen.HeaderValue());
            }
            if (op.HasBody || r.Next(5) == 0)
            {
                var content = new ByteArrayContent(gen.Body());
                content.Headers.TryAddWithoutValidation("Content-Type", r.Next(6) == 0
                    ? gen.Pick("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=latin1", "")
                    : "application/json");
                req.Content = content;
            }
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(TimeSpan.FromSeconds(20));
                using var res = await _http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
                var status = (int)res.StatusCode;
                _status.AddOrUpdate(status.ToString(System.Globalization.CultureInfo.InvariantCulture), 1, (_, n) => n + 1);
                if (status >= 500)
                {
                    var body = await res.Content.ReadAsStringAsync(ct);
                    // 503 is documented for readiness and a store that cannot write (docs/operations.md "A full disk").
                    if (status == 503)
                    {
                        Interlocked.Increment(ref _documented503);
                    }
                    else
                    {
                        Interlocked.Increment(ref _serverErrors);
                        Example($"{status} {method} {path}: {body}");
                    }
                }
                else if (res.Content.Headers.ContentType?.MediaType == "text/event-stream")
                {
                    // An SSE stream that opened is an answer; it would run until the hub's shutdown. Not read.
                }
                else if (method != HttpMethod.Head)
                {
                    await res.Content.CopyToAsync(Stream.Null, timeout.Token);
                }
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                Interlocked.Increment(ref _timeouts);
                Example($"timeout {method} {path}");
            }
            catch (HttpRequestException e)
            {
                Interlocked.Increment(ref _transport);
                Example($"transport {method} {path}: {e.Message} {e.InnerException?.Message}");
            }
        }
    }

    private string FillPath(string template, Random r, Gen gen)
    {
        var sb = new StringBuilder();
        var i = 0;
        while (i < template.Length)
        {
            var open = template.IndexOf('{', i);
            if (open < 0)
            {
                sb.Append(template, i, template.Length - i);
                break;
            }
            sb.Append(template, i, open - i);
            var close = template.IndexOf('}', open);
            sb.Append(r.Next(3) == 0 ? _agents[r.Next(_agents.Count)].Id : gen.PathSegment());
            i = close + 1;
        }
        return sb.ToString();
    }

    // ---- WebSocket ----

    private async Task WebSocketWorkerAsync(Random r, (string Id, string Token) agent, long budget, CancellationToken ct)
    {
        var gen = new Gen(r, _names);
        var frameTypes = typeof(Frame).Assembly.GetTypes().Where(t => t.Name == "FrameTypes")
            .SelectMany(t => t.GetFields(BindingFlags.Public | BindingFlags.Static)).Where(f => f.IsLiteral)
            .Select(f => (string)f.GetRawConstantValue()!).Distinct().ToArray();
        while (Interlocked.Read(ref _frames) < budget && !ct.IsCancellationRequested)
        {
            var (path, token) = r.Next(4) switch
            {
                0 => ($"ws?token={Uri.EscapeDataString(_userToken)}", _userToken),
                1 => ($"ws/agents/{_agents[r.Next(_agents.Count)].Id}?token={Uri.EscapeDataString(_userToken)}", _userToken),
                _ => ($"ws/agents/{agent.Id}?token={Uri.EscapeDataString(agent.Token)}", agent.Token),
            };
            using var ws = new ClientWebSocket();
            ws.Options.KeepAliveInterval = TimeSpan.Zero;
            var wsUri = new Uri(baseUri, path);
            wsUri = new UriBuilder(wsUri) { Scheme = baseUri.Scheme == "https" ? "wss" : "ws" }.Uri;
            try
            {
                using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                connectTimeout.CancelAfter(TimeSpan.FromSeconds(20));
                await ws.ConnectAsync(wsUri, connectTimeout.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                Interlocked.Increment(ref _timeouts);
                Example($"ws connect {path.Split('?')[0]}: no handshake answer in 20 s");
                continue;
            }
            catch (WebSocketException e)
            {
                Interlocked.Increment(ref _transport);
                Example($"ws connect {path.Split('?')[0]}: {e.Message}");
                if (e.Message.Contains("'5", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref _serverErrors);
                }
                continue;
            }
            Interlocked.Increment(ref _links);
            using var linkCt = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var aborted = new StrongBox<bool>();
            var last = new StrongBox<string>("none");
            var receive = ReceiveAsync(ws, path.Split('?')[0], aborted, last, linkCt.Token);
            var frames = r.Next(20, 400);
            for (var i = 0; i < frames && !receive.IsCompleted && Interlocked.Increment(ref _frames) <= budget; i++)
            {
                try
                {
                    var (bytes, type, fragmented) = gen.Frame(frameTypes);
                    last.Value = $"{type} {(fragmented ? "fragmented " : "")}{bytes.Length} B: {Encoding.UTF8.GetString(bytes.AsSpan(0, Math.Min(bytes.Length, 80)))}";
                    // A hub that neither reads nor closes a link would block the send forever: 20 s is a stall, counted.
                    using var sendTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    sendTimeout.CancelAfter(TimeSpan.FromSeconds(20));
                    if (fragmented && bytes.Length > 1)
                    {
                        var half = bytes.Length / 2;
                        await ws.SendAsync(bytes.AsMemory(0, half), type, false, sendTimeout.Token);
                        await ws.SendAsync(bytes.AsMemory(half), type, true, sendTimeout.Token);
                    }
                    else
                    {
                        await ws.SendAsync(bytes, type, true, sendTimeout.Token);
                    }
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    Interlocked.Increment(ref _timeouts);
                    Example($"ws {path.Split('?')[0]}: a send did not complete in 20 s (the hub stopped reading)");
                    aborted.Value = true; // a cancelled send aborts the socket: not the hub's doing
                    break;
                }
                catch (WebSocketException)
                {
                    break; // the hub closed the link; ReceiveAsync tells whether it said so with a close frame
                }
                catch (ObjectDisposedException)
                {
                    break;
                }
            }
            if (!receive.IsCompleted && ws.State == WebSocketState.Open)
            {
                try
                {
                    await ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "fuzz done", ct);
                }
                catch (WebSocketException)
                {
                }
            }
            if (await Task.WhenAny(receive, Task.Delay(TimeSpan.FromSeconds(15), ct)) != receive)
            {
                Interlocked.Increment(ref _timeouts);
                Example($"ws {path.Split('?')[0]}: no close within 15 s after ours");
                aborted.Value = true;
                linkCt.Cancel();
            }
            await receive.ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private async Task ReceiveAsync(ClientWebSocket ws, string path, StrongBox<bool> aborted, StrongBox<string> last, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var result = await ws.ReceiveAsync(buffer, ct);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    var code = ((int?)result.CloseStatus)?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none";
                    _closes.AddOrUpdate(code, 1, (_, n) => n + 1);
                    if (code is "1011")
                    {
                        Interlocked.Increment(ref _serverErrors);
                        Example($"ws {path}: closed 1011 {result.CloseStatusDescription}");
                    }
                    return;
                }
            }
        }
        catch (WebSocketException) when (aborted.Value)
        {
        }
        catch (WebSocketException e)
        {
            Interlocked.Increment(ref _noCloseFrame);
            Example($"ws {path}: dropped without a close frame ({e.Message}); the last frame sent: {last.Value}");
        }
        catch (OperationCanceledException)
        {
        }
    }
}

/// <summary>Malformed inputs: random JSON, known names with wrong types, byte mutations, invalid UTF-8, deep nesting.</summary>
internal sealed class Gen(Random r, string[] names)
{
    private static readonly string[] Strings =
    [
        "", " ", "null", "\u0000", "\ud7ff\ue000", "😀", "../../etc/passwd", "%00", "'; DROP TABLE agents;--", "<script>alert(1)</script>",
        "kah:agent.local.x", "kah:", "agent.*", "#", "*.*.*", "\r\nX-Injected: 1", "2026-13-45T25:61:61Z", "-1", "1e309", "NaN",
        "00000000-0000-0000-0000-000000000000", "eyJhbGciOiJub25lIn0.e30.", "${jndi:ldap://x}", "\\u0000",
    ];

    public string Pick(params string[] options) => options[r.Next(options.Length)];

    public string Name() => r.Next(5) == 0 ? Pick(Strings) : names.Length == 0 ? "x" : names[r.Next(names.Length)];

    public string Scalar() => r.Next(12) switch
    {
        0 => "null",
        1 => "true",
        2 => "false",
        3 => r.Next(int.MinValue, int.MaxValue).ToString(System.Globalization.CultureInfo.InvariantCulture),
        4 => Pick("1e309", "-0", "0.0000000000000000000001", "99999999999999999999999999999", "-9223372036854775809", "1.5", "1E+2"),
        5 => JsonSerializer.Serialize(new string('a', r.Next(0, 70_000))),
        6 => "\"" + Pick("\\ud800", "\\udc00x", "\\u0000", "\\/", "\\x41") + "\"",
        _ => JsonSerializer.Serialize(Pick(Strings)),
    };

    public string Json(int depth)
    {
        if (depth <= 0 || r.Next(3) == 0)
        {
            return Scalar();
        }
        var n = r.Next(0, 6);
        if (r.Next(2) == 0)
        {
            return "[" + string.Join(",", Enumerable.Range(0, n).Select(_ => Json(depth - 1))) + "]";
        }
        return "{" + string.Join(",", Enumerable.Range(0, n).Select(_ => JsonSerializer.Serialize(Name()) + ":" + Json(depth - 1))) + "}";
    }

    public byte[] Body() => r.Next(10) switch
    {
        0 => Mutate(Encoding.UTF8.GetBytes(Json(3))),
        1 => RandomBytes(r.Next(0, 2048)),
        2 => [0x7B, 0x22, 0xC3, 0x28, 0x22, 0x3A, 0x31, 0x7D], // {"\xC3(":1} invalid UTF-8
        3 => Encoding.UTF8.GetBytes(new string('[', r.Next(65, 5000)) + new string(']', r.Next(0, 5000))),
        4 => Truncated(Json(3)),
        5 => [],
        _ => Encoding.UTF8.GetBytes("{" + string.Join(",", Enumerable.Range(0, r.Next(1, 8)).Select(_ => JsonSerializer.Serialize(Name()) + ":" + Json(2))) + "}"),
    };

    public (byte[] Bytes, WebSocketMessageType Type, bool Fragmented) Frame(string[] frameTypes)
    {
        var type = r.Next(10) == 0 ? Pick(Strings) : frameTypes[r.Next(frameTypes.Length)];
        var frame = "{\"type\":" + JsonSerializer.Serialize(type) + (r.Next(3) == 0 ? "" : ",\"id\":" + Scalar()) + ",\"payload\":" +
            (r.Next(2) == 0 ? Json(3) : "{" + string.Join(",", Enumerable.Range(0, r.Next(1, 6)).Select(_ => JsonSerializer.Serialize(Name()) + ":" + Json(2))) + "}") + "}";
        var bytes = Encoding.UTF8.GetBytes(frame);
        return r.Next(12) switch
        {
            0 => (Mutate(bytes), WebSocketMessageType.Text, false),
            1 => (RandomBytes(r.Next(1, 512)), WebSocketMessageType.Binary, false),
            2 => ([0x7B, 0xFF, 0xFE, 0x7D], WebSocketMessageType.Text, false),
            3 => (bytes, WebSocketMessageType.Text, true),
            4 when r.Next(200) == 0 => (new byte[(1024 * 1024) + 17], WebSocketMessageType.Text, false),
            5 => (Encoding.UTF8.GetBytes(Json(4)), WebSocketMessageType.Text, false),
            _ => (bytes, WebSocketMessageType.Text, false),
        };
    }

    public string PathSegment() => Uri.EscapeDataString(r.Next(6) switch
    {
        0 => new string('x', r.Next(200, 5000)),
        1 => Pick(Strings),
        2 => "",
        _ => Guid.NewGuid().ToString("N")[..r.Next(1, 32)],
    }).Replace("%2F", r.Next(2) == 0 ? "/" : "%2F", StringComparison.Ordinal);

    public string Query() => r.Next(3) != 0 ? "" : "?" + string.Join("&", Enumerable.Range(0, r.Next(1, 5)).Select(_ =>
        Pick("limit", "offset", "since", "status", "wait", "topics", "action", "from", "to", "cursor", "capability", Name()) + "=" +
        Uri.EscapeDataString(Pick("-1", "0", "abc", "99999999999999", "1e3", "", "true", "%", Pick(Strings)))));

    public string HeaderValue() => new([.. Enumerable.Range(0, r.Next(0, 300)).Select(_ => (char)r.Next(0x20, 0x7F))]);

    public string BadAuthorization(string valid) => r.Next(6) switch
    {
        0 => "Bearer " + new string([.. Mutate(Encoding.ASCII.GetBytes(valid)).Select(b => (char)(0x21 + (b % 0x5E)))]),
        1 => "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhZG1pbiJ9.",
        2 => "Basic " + Convert.ToBase64String(RandomBytes(24)),
        3 => "Bearer",
        4 => "Bearer " + valid[..(valid.Length / 2)],
        _ => "Bearer " + HeaderValue(),
    };

    private byte[] Truncated(string json) => Encoding.UTF8.GetBytes(json[..r.Next(0, json.Length + 1)]);

    private byte[] RandomBytes(int n)
    {
        var b = new byte[n];
        r.NextBytes(b);
        return b;
    }

    private byte[] Mutate(byte[] input)
    {
        var list = new List<byte>(input);
        for (var k = r.Next(1, 6); k > 0; k--)
        {
            var at = list.Count == 0 ? 0 : r.Next(list.Count);
            switch (r.Next(4))
            {
                case 0 when list.Count > 0: list[at] ^= (byte)(1 << r.Next(8)); break;
                case 1: list.Insert(at, (byte)r.Next(256)); break;
                case 2 when list.Count > 0: list.RemoveAt(at); break;
                default: list.InsertRange(at, Encoding.UTF8.GetBytes(Pick("\"", "{", "}", "[", "]", ",", ":", "\\", "\u0000"))); break;
            }
        }
        return [.. list];
    }
}
