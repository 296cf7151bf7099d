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
var maxSeconds = new Option<int>("--max-seconds") { Description = "end the run after this many seconds and report what it reached (0: no limit)", DefaultValueFactory = _ => 0 };
var progressSeconds = new Option<int>("--progress-seconds") { Description = "seconds between progress lines on stderr", DefaultValueFactory = _ => 15 };
var output = new Option<string?>("--out") { Description = "where to write the JSON summary" };
var root = new RootCommand("Fuzz a running Kai Hub with malformed REST and WebSocket inputs. Exit code: 0 when the budget was sent and all " +
    "three figures are 0 (5xx other than documented 503s, crashes, links the hub dropped without a close frame); 1 when any of them is " +
    "not; 2 when the run did not complete (time limit, cancelled, set-up failed, stuck workers, driver errors) and found nothing.")
{
    url, pidOption, inputs, seed, restWorkers, wsWorkers, wsShare, maxSeconds, progressSeconds, output,
};
root.SetAction(async (parse, ct) =>
{
    // The workers are all asynchronous; a larger minimum only keeps a loaded 2-core machine from delaying their continuations.
    ThreadPool.GetMinThreads(out var workerThreads, out var ioThreads);
    ThreadPool.SetMinThreads(Math.Max(workerThreads, 64), Math.Max(ioThreads, 64));
    var run = new FuzzRun(new Uri(parse.GetValue(url)!.TrimEnd('/') + "/"), parse.GetValue(pidOption), parse.GetValue(seed),
        TimeSpan.FromSeconds(Math.Max(1, parse.GetValue(progressSeconds))));
    var total = parse.GetValue(inputs);
    var wsInputs = (long)(total * parse.GetValue(wsShare));
    var limit = parse.GetValue(maxSeconds) is > 0 and var s ? TimeSpan.FromSeconds(s) : Timeout.InfiniteTimeSpan;
    // ExecuteAsync never throws: whatever happens, there is a summary.
    var summary = await run.ExecuteAsync(total - wsInputs, wsInputs, parse.GetValue(restWorkers), parse.GetValue(wsWorkers), limit, ct);
    var json = JsonSerializer.Serialize(summary, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower });
    if (parse.GetValue(output) is { } path)
    {
        await File.WriteAllTextAsync(path, json, CancellationToken.None);
    }
    Console.Out.WriteLine(json);
    Console.Out.Flush();
    var findings = summary.ServerErrors > 0 || summary.Crashed || summary.HubDroppedWithoutCloseFrame > 0;
    var code = findings ? 1 : summary.Completed && summary.DriverErrors == 0 ? 0 : 2;
    Console.Error.WriteLine($"fuzz: {summary.EndReason}; {summary.Inputs:N0} inputs; 5xx {summary.ServerErrors}, crashed {summary.Crashed}, " +
        $"hub-side drops {summary.HubDroppedWithoutCloseFrame}, client aborts {summary.ClientAborts}, driver errors {summary.DriverErrors}: exit {code}");
    return code;
});
// On SIGINT/SIGTERM the run is cancelled and still writes its summary; give it the time to.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(30) });

internal sealed record Operation(HttpMethod Method, string Template, bool HasBody);

/// <summary>The run's result (bench/results/fuzz-*/summary.json; docs/security.md "Fuzzing").</summary>
/// <param name="HubDroppedWithoutCloseFrame">Links whose hub side ended (reset, premature end of stream) while the driver was reading,
/// with no close frame received, and the driver had not aborted the link itself.</param>
/// <param name="ClientAborts">Links the driver aborted itself (a send or the close answer ran past its timeout, or the link's lifetime
/// ran out): not a hub defect, but counted with <see cref="Timeouts"/>.</param>
internal sealed record Summary(
    bool Completed, string EndReason, long Inputs, long RestRequests, long WebSocketFrames, double Seconds, double InputsPerSecond,
    long ServerErrors, long Documented503, bool Crashed, long HubDroppedWithoutCloseFrame, long ClientAborts, long Timeouts,
    long TransportErrors, long DriverErrors, int StuckWorkers, long LinksOpened, SortedDictionary<string, long> LinkEnds,
    SortedDictionary<string, long> InputsByKind, SortedDictionary<string, long> StatusCounts, SortedDictionary<string, long> CloseCodes,
    IReadOnlyList<string> Examples);

/// <summary>What one link's driver saw; classified once the link is over (so a late flag cannot race the receive loop).</summary>
internal sealed class LinkState
{
    public int? CloseCode;
    public string? CloseReason;
    public Exception? ReceiveError;
    public string? ClientAbort;
    public string Last = "none";
    public readonly long Opened = Environment.TickCount64;
    public long LastSendAt, LastReceiveAt, Failed;
    public int FramesSent, MessagesReceived;
    public bool Sending;
    public string LastReceived = "nothing";

    /// <summary>What the driver knew when the link ended, for an example line.</summary>
    public string Describe() =>
        $"link age {Failed - Opened} ms, {FramesSent} frames sent, {(Sending ? "a send in flight" : "no send in flight")}, last send began " +
        $"{(LastSendAt == 0 ? "never" : $"{Failed - LastSendAt} ms")} before, {MessagesReceived} hub messages, the last {(LastReceiveAt == 0 ? "" : $"{Failed - LastReceiveAt} ms before")}: {LastReceived}";

    public void Abort(string reason) => ClientAbort ??= reason;
}

internal sealed class FuzzRun(Uri baseUri, int serverPid, int seed, TimeSpan progressEvery)
{
    private const string Password = "fuzz-password-long-enough";
    // Every WebSocket operation has its bound: a hub that stops reading or answering is a timeout (and a client abort), never a stall.
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan CloseSendTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan CloseAnswerTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan LinkLifetime = TimeSpan.FromSeconds(180);
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan WorkerExitGrace = TimeSpan.FromSeconds(60);
    private readonly HttpClient _http = new(new SocketsHttpHandler { MaxConnectionsPerServer = 256, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
    {
        BaseAddress = baseUri,
        Timeout = TimeSpan.FromSeconds(30),
    };
    private readonly ConcurrentDictionary<string, long> _status = new();
    private readonly ConcurrentDictionary<string, long> _closes = new();
    private readonly ConcurrentDictionary<string, long> _kinds = new();
    private readonly ConcurrentDictionary<string, long> _linkEnds = new();
    private readonly ConcurrentQueue<string> _examples = new();
    // Swapped whole by the credential refresher (access tokens live 15 minutes; a long run outlives them).
    private volatile (string Id, string Token)[] _agents = [];
    private readonly List<(string Id, string Secret)> _agentSecrets = [];
    private string _email = "";
    private List<Operation> _operations = [];
    private string[] _names = [];
    private volatile string _userToken = "";
    private string[] _wsState = [];
    private long[] _wsSince = [];
    private int _examplesShown;
    private int _routineExamples;
    private long _serverErrors, _documented503, _hubDrops, _clientAborts, _timeouts, _transport, _driverErrors, _links;
    private long _rest, _restReserved, _frames, _framesReserved;
    private volatile bool _crashed;

    public async Task<Summary> ExecuteAsync(long restInputs, long wsInputs, int restWorkers, int wsWorkers, TimeSpan limit, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        using var run = CancellationTokenSource.CreateLinkedTokenSource(ct);
        run.CancelAfter(limit);
        var stuck = 0;
        string reason;
        try
        {
            await SetUpAsync(wsWorkers, run.Token).WaitAsync(TimeSpan.FromMinutes(2), run.Token);
        }
        catch (Exception e)
        {
            Interlocked.Increment(ref _driverErrors);
            Example($"set-up failed: {e.GetType().Name}: {e.Message}");
            return Summarize(false, $"set-up failed ({e.GetType().Name})", watch, 0);
        }
        watch.Restart();
        _wsState = [.. Enumerable.Repeat("starting", wsWorkers)];
        _wsSince = new long[wsWorkers];
        using var progressStop = new CancellationTokenSource();
        var progress = ProgressAsync(watch, restInputs, wsInputs, run, progressStop.Token);
        var refresh = RefreshCredentialsAsync(progressStop.Token);
        var tasks = new List<Task>();
        for (var w = 0; w < restWorkers; w++)
        {
            var random = new Random(seed * 1000 + w);
            tasks.Add(Task.Run(() => RestWorkerAsync(random, restInputs, run.Token), CancellationToken.None));
        }
        for (var w = 0; w < wsWorkers; w++)
        {
            var random = new Random(seed * 1000 + 500 + w);
            var worker = w;
            tasks.Add(Task.Run(() => WebSocketWorkerAsync(worker, random, wsInputs, run.Token), CancellationToken.None));
        }
        var all = Task.WhenAll(tasks);
        // The workers end on their own when the budget is spent; a time limit, a signal or a crash cancels them, and they then get a
        // bounded while to return (every operation they run is bounded too, so this only catches a driver bug).
        await Task.WhenAny(all, Task.Delay(Timeout.Infinite, run.Token));
        if (!all.IsCompleted)
        {
            try
            {
                await all.WaitAsync(WorkerExitGrace, CancellationToken.None);
            }
            catch (TimeoutException)
            {
                stuck = tasks.Count(t => !t.IsCompleted);
                Example($"{stuck} workers did not end {WorkerExitGrace.TotalSeconds:0} s after the run was cancelled: {string.Join("; ", WorkerStates())}");
            }
            catch (Exception e)
            {
                Interlocked.Increment(ref _driverErrors);
                Example($"driver error: {e}");
            }
        }
        await progressStop.CancelAsync();
        await progress;
        await refresh;
        reason = _crashed ? "the hub crashed"
            : Interlocked.Read(ref _rest) >= restInputs && Interlocked.Read(ref _frames) >= wsInputs ? "budget sent"
            : ct.IsCancellationRequested ? "cancelled (signal)"
            : run.IsCancellationRequested ? $"time limit ({limit.TotalSeconds:0} s)"
            : "workers ended before the budget";
        if (!_crashed && !await AliveAsync())
        {
            _crashed = true;
        }
        return Summarize(reason == "budget sent" && stuck == 0, reason, watch, stuck);
    }

    private Summary Summarize(bool completed, string reason, Stopwatch watch, int stuck)
    {
        var rest = Math.Min(Interlocked.Read(ref _rest), Interlocked.Read(ref _restReserved));
        var frames = Interlocked.Read(ref _frames);
        var seconds = watch.Elapsed.TotalSeconds;
        return new Summary(completed, reason, rest + frames, rest, frames, Math.Round(seconds, 1), Math.Round((rest + frames) / Math.Max(seconds, 0.001), 1),
            _serverErrors, _documented503, _crashed, _hubDrops, _clientAborts, _timeouts, _transport, _driverErrors, stuck, _links,
            new(_linkEnds.ToDictionary()), new(_kinds.ToDictionary()), new(_status.ToDictionary()), new(_closes.ToDictionary()), [.. _examples.Take(60)]);
    }

    private async Task ProgressAsync(Stopwatch watch, long restBudget, long wsBudget, CancellationTokenSource run, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(progressEvery);
        long lastInputs = 0, lastFrames = 0;
        var lastAt = TimeSpan.Zero;
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                var rest = Interlocked.Read(ref _rest);
                var frames = Interlocked.Read(ref _frames);
                var now = watch.Elapsed;
                var rate = (rest + frames - lastInputs) / Math.Max((now - lastAt).TotalSeconds, 0.001);
                var alive = serverPid <= 0 || Directory.Exists($"/proc/{serverPid}");
                Console.Error.WriteLine(
                    $"fuzz: {now.TotalSeconds:0} s: {rest + frames:N0} inputs ({rest:N0}/{restBudget:N0} REST, {frames:N0}/{wsBudget:N0} frames), " +
                    $"{rate:N0}/s; 5xx {Interlocked.Read(ref _serverErrors)}, hub-side drops {Interlocked.Read(ref _hubDrops)}, " +
                    $"client aborts {Interlocked.Read(ref _clientAborts)}, timeouts {Interlocked.Read(ref _timeouts)}, " +
                    $"driver errors {Interlocked.Read(ref _driverErrors)}, hub {(alive ? "up" : "GONE")}");
                if (frames == lastFrames && frames < wsBudget)
                {
                    // No frame went out in a whole interval: say where each WebSocket worker is waiting.
                    Console.Error.WriteLine("fuzz: no WebSocket frame sent in the last interval; workers: " + string.Join("; ", WorkerStates()));
                }
                if (!alive)
                {
                    _crashed = true;
                    Example($"the hub process {serverPid} is gone after {now.TotalSeconds:0} s");
                    await run.CancelAsync();
                }
                (lastInputs, lastFrames, lastAt) = (rest + frames, frames, now);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private IEnumerable<string> WorkerStates()
    {
        var now = Environment.TickCount64;
        return _wsState.Select((s, i) => $"ws{i}: {s} ({(now - Volatile.Read(ref _wsSince[i])) / 1000} s)");
    }

    private void State(int worker, string text)
    {
        Volatile.Write(ref _wsState[worker], text);
        Volatile.Write(ref _wsSince[worker], Environment.TickCount64);
    }

    private void Count(ConcurrentDictionary<string, long> counts, string key) => counts.AddOrUpdate(key, 1, (_, n) => n + 1);

    public async Task SetUpAsync(int agentCount, CancellationToken ct)
    {
        var email = _email = $"fuzz-{Guid.NewGuid():N}@example.com";
        (await _http.PostAsJsonAsync("api/v1/auth/register", new { email, password = Password, display_name = "Fuzz", terms_accepted = true }, ct)).EnsureSuccessStatusCode();
        await LoginAsync(ct);
        var agents = new List<(string Id, string Token)>();
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
            var secret = created["client_secret"]!.GetValue<string>();
            _agentSecrets.Add((id, secret));
            agents.Add((id, await AgentTokenAsync(id, secret, ct)));
        }
        _agents = [.. agents];
        // Every operation of the API description, and every property name its schemas know: the fuzzer's dictionary.
        var doc = JsonNode.Parse(await _http.GetStringAsync("openapi.json", ct))!;
        // Left out: the routes that end the fuzzer's own credentials (logout, secret rotation, signing-key rotation (the fuzzer's user is
        // the hub's first, so an admin), deleting its agents, on /api/v1 and
        // the older /api aliases), which would turn the rest of the run into 401s and refused links and measure nothing. Refused
        // links are fuzzed on purpose instead (a bad token, an unknown agent), a twentieth of them.
        _operations = [.. doc["paths"]!.AsObject().SelectMany(p => p.Value!.AsObject()
            .Where(m => m.Key is "get" or "post" or "put" or "patch" or "delete")
            .Select(m => new Operation(new HttpMethod(m.Key.ToUpperInvariant()), p.Key, m.Value!["requestBody"] is not null)))
            .Where(o => !o.Template.EndsWith("/logout", StringComparison.Ordinal) && !o.Template.Contains("rotate-secret", StringComparison.Ordinal)
                && !o.Template.EndsWith("/keys/rotate", StringComparison.Ordinal)
                && !(o.Method == HttpMethod.Delete && o.Template.Contains("/agents/{", StringComparison.Ordinal)))];
        var names = new HashSet<string>(StringComparer.Ordinal);
        Collect(doc["components"], names);
        _names = [.. names];
        Console.Error.WriteLine($"fuzz: {_operations.Count} operations, {_names.Length} property names, {_agents.Length} agents");
    }

    private static (string Id, string Token) Pick((string Id, string Token)[] agents, Random r) => agents[r.Next(agents.Length)];

    private async Task LoginAsync(CancellationToken ct)
    {
        using var login = await _http.PostAsJsonAsync("api/v1/auth/login", new { email = _email, password = Password }, ct);
        login.EnsureSuccessStatusCode();
        _userToken = (await login.Content.ReadFromJsonAsync<JsonObject>(ct))!["access_token"]!.GetValue<string>();
    }

    private async Task<string> AgentTokenAsync(string id, string secret, CancellationToken ct)
    {
        using var tok = await _http.PostAsync("api/v1/auth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = id, ["client_secret"] = secret,
        }), ct);
        tok.EnsureSuccessStatusCode();
        return (await tok.Content.ReadFromJsonAsync<JsonObject>(ct))!["access_token"]!.GetValue<string>();
    }

    /// <summary>New user and agent tokens every 5 minutes: the hub's access tokens live 15, and a long run must not turn into 401s.</summary>
    private async Task RefreshCredentialsAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(5));
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                try
                {
                    await LoginAsync(stop);
                    var agents = new List<(string Id, string Token)>();
                    foreach (var (id, secret) in _agentSecrets)
                    {
                        agents.Add((id, await AgentTokenAsync(id, secret, stop)));
                    }
                    _agents = [.. agents];
                }
                catch (Exception e) when (e is HttpRequestException or IOException or JsonException)
                {
                    Interlocked.Increment(ref _driverErrors);
                    Example($"driver error: the credential refresh failed: {e.Message}");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
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

    private async Task<bool> AliveAsync()
    {
        if (serverPid > 0 && !Directory.Exists($"/proc/{serverPid}"))
        {
            return false;
        }
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            using var res = await _http.GetAsync("health", timeout.Token);
            return res.StatusCode == HttpStatusCode.OK;
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
        {
            return false;
        }
    }

    /// <summary>
    /// Keeps an example for the summary (60 at most). <paramref name="routine"/> ones (transport errors: the hub closing a
    /// connection on a malformed request, which is not a finding) get 10 of those places, so they cannot crowd out the findings
    /// and driver errors that come later in a long run.
    /// </summary>
    private void Example(string text, bool routine = false)
    {
        if (routine && Interlocked.Increment(ref _routineExamples) > 10)
        {
            return;
        }
        if (Interlocked.Increment(ref _examplesShown) <= 10)
        {
            Console.Error.WriteLine("fuzz: example: " + (text.Length > 600 ? text[..600] : text));
        }
        if (_examples.Count < 60)
        {
            _examples.Enqueue(text.Length > 800 ? text[..800] : text);
        }
    }

    // ---- REST ----

    private async Task RestWorkerAsync(Random r, long budget, CancellationToken run)
    {
        var gen = new Gen(r, _names);
        while (!run.IsCancellationRequested && Interlocked.Increment(ref _restReserved) <= budget)
        {
            try
            {
                await RequestAsync(r, gen, run);
            }
            catch (OperationCanceledException) when (run.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                Interlocked.Increment(ref _driverErrors);
                Example($"driver error (REST worker): {e}");
            }
        }
    }

    private async Task RequestAsync(Random r, Gen gen, CancellationToken run)
    {
        var op = _operations[r.Next(_operations.Count)];
        var wrongMethod = r.Next(20) == 0;
        var method = wrongMethod ? new HttpMethod(gen.Pick("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE")) : op.Method;
        var path = FillPath(op.Template, r, gen);
        using var req = new HttpRequestMessage(method, path.TrimStart('/') + gen.Query());
        string auth;
        switch (r.Next(10))
        {
            case < 4: req.Headers.TryAddWithoutValidation("Authorization", "Bearer " + _userToken); auth = "user token"; break;
            case < 6: req.Headers.TryAddWithoutValidation("Authorization", "Bearer " + Pick(_agents, r).Token); auth = "agent token"; break;
            case < 8: req.Headers.TryAddWithoutValidation("Authorization", gen.BadAuthorization(_userToken)); auth = "bad token"; break;
            default: auth = "no token"; break;
        }
        if (r.Next(8) == 0)
        {
            req.Headers.TryAddWithoutValidation(gen.Pick("Idempotency-Key", "traceparent", "X-Correlation-ID", "Origin", "Last-Event-ID", "Accept"), gen.HeaderValue());
        }
        var kind = "no body";
        if (op.HasBody || r.Next(5) == 0)
        {
            var (body, bodyKind) = gen.Body();
            kind = bodyKind;
            var content = new ByteArrayContent(body);
            var wrongType = r.Next(6) == 0;
            content.Headers.TryAddWithoutValidation("Content-Type", wrongType
                ? gen.Pick("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=latin1", "")
                : "application/json");
            if (wrongType)
            {
                Count(_kinds, "rest: wrong content type");
            }
            req.Content = content;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(run);
        timeout.CancelAfter(RequestTimeout);
        try
        {
            using var res = await _http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var status = (int)res.StatusCode;
            Count(_status, status.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (status >= 500)
            {
                var body = await res.Content.ReadAsStringAsync(timeout.Token);
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
        catch (OperationCanceledException) when (!run.IsCancellationRequested)
        {
            Interlocked.Increment(ref _timeouts);
            Example($"timeout {method} {path}");
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            Interlocked.Increment(ref _transport);
            Example($"transport {method} {path}: {e.Message} {e.InnerException?.Message}", routine: true);
        }
        Interlocked.Increment(ref _rest);
        Count(_kinds, "rest body: " + kind);
        Count(_kinds, "rest auth: " + auth);
        if (wrongMethod)
        {
            Count(_kinds, "rest: random method");
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
            sb.Append(r.Next(3) == 0 ? Pick(_agents, r).Id : gen.PathSegment());
            i = close + 1;
        }
        return sb.ToString();
    }

    // ---- WebSocket ----

    private async Task WebSocketWorkerAsync(int worker, Random r, long budget, CancellationToken run)
    {
        var gen = new Gen(r, _names);
        var frameTypes = typeof(Frame).Assembly.GetTypes().Where(t => t.Name == "FrameTypes")
            .SelectMany(t => t.GetFields(BindingFlags.Public | BindingFlags.Static)).Where(f => f.IsLiteral)
            .Select(f => (string)f.GetRawConstantValue()!).Distinct().ToArray();
        while (!run.IsCancellationRequested && Interlocked.Read(ref _framesReserved) < budget)
        {
            try
            {
                var agents = _agents;
                await LinkAsync(worker, r, gen, frameTypes, agents, agents[worker % agents.Length], budget, run);
            }
            catch (OperationCanceledException) when (run.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                Interlocked.Increment(ref _driverErrors);
                Example($"driver error (WebSocket worker {worker}): {e}");
            }
        }
        State(worker, "done");
    }

    private async Task LinkAsync(int worker, Random r, Gen gen, string[] frameTypes, (string Id, string Token)[] agents, (string Id, string Token) agent,
        long budget, CancellationToken run)
    {
        var path = r.Next(20) switch
        {
            0 => $"ws/agents/{Pick(agents, r).Id}?token={Uri.EscapeDataString(gen.BadAuthorization(_userToken)[6..].Trim())}",
            < 5 => $"ws?token={Uri.EscapeDataString(_userToken)}",
            < 10 => $"ws/agents/{Pick(agents, r).Id}?token={Uri.EscapeDataString(_userToken)}",
            _ => $"ws/agents/{agent.Id}?token={Uri.EscapeDataString(agent.Token)}",
        };
        var route = path.Split('?')[0];
        using var ws = new ClientWebSocket();
        ws.Options.KeepAliveInterval = TimeSpan.Zero;
        ws.Options.CollectHttpResponseDetails = true;
        var wsUri = new UriBuilder(new Uri(baseUri, path)) { Scheme = baseUri.Scheme == "https" ? "wss" : "ws" }.Uri;
        State(worker, $"connect {route}");
        using (var connect = CancellationTokenSource.CreateLinkedTokenSource(run))
        {
            connect.CancelAfter(ConnectTimeout);
            try
            {
                await ws.ConnectAsync(wsUri, connect.Token);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or HttpRequestException or IOException && !run.IsCancellationRequested)
            {
                var status = (int)ws.HttpStatusCode;
                if (status > 0)
                {
                    Count(_status, "ws " + status.ToString(System.Globalization.CultureInfo.InvariantCulture));
                }
                if (status == 503)
                {
                    Interlocked.Increment(ref _documented503);
                }
                else if (status >= 500)
                {
                    Interlocked.Increment(ref _serverErrors);
                    Example($"ws connect {route}: {status}");
                }
                else if (connect.IsCancellationRequested)
                {
                    Interlocked.Increment(ref _timeouts);
                    Example($"ws connect {route}: no handshake answer in {ConnectTimeout.TotalSeconds:0} s");
                }
                else
                {
                    Interlocked.Increment(ref _transport);
                    Example($"ws connect {route}: {status} {e.Message}", routine: true);
                }
                return;
            }
        }
        Interlocked.Increment(ref _links);
        var state = new LinkState();
        using var link = CancellationTokenSource.CreateLinkedTokenSource(run);
        link.CancelAfter(LinkLifetime);
        var receive = ReceiveAsync(ws, state, link.Token);
        var frames = r.Next(20, 400);
        for (var i = 0; i < frames && !receive.IsCompleted; i++)
        {
            if (Interlocked.Increment(ref _framesReserved) > budget)
            {
                Interlocked.Decrement(ref _framesReserved); // over: give the place back, in case a failed send returns one
                break;
            }
            var (bytes, type, fragmented, kind) = gen.Frame(frameTypes);
            state.Last = $"{kind}: {(fragmented ? "fragmented " : "")}{bytes.Length} B: {Encoding.UTF8.GetString(bytes.AsSpan(0, Math.Min(bytes.Length, 80)))}";
            State(worker, $"send {route} {kind} {bytes.Length} B");
            state.LastSendAt = Environment.TickCount64;
            state.Sending = true;
            using var send = CancellationTokenSource.CreateLinkedTokenSource(link.Token);
            send.CancelAfter(SendTimeout);
            try
            {
                if (fragmented && bytes.Length > 1)
                {
                    var half = bytes.Length / 2;
                    await ws.SendAsync(bytes.AsMemory(0, half), type, false, send.Token);
                    await ws.SendAsync(bytes.AsMemory(half), type, true, send.Token);
                }
                else
                {
                    await ws.SendAsync(bytes, type, true, send.Token);
                }
                state.Sending = false;
                state.FramesSent++;
                Interlocked.Increment(ref _frames);
                Count(_kinds, "ws frame: " + kind);
            }
            catch (OperationCanceledException) when (!run.IsCancellationRequested)
            {
                // A cancelled send aborts the socket: the driver ended this link, not the hub.
                Interlocked.Decrement(ref _framesReserved);
                state.Abort(link.IsCancellationRequested ? "link lifetime ran out" : "a send did not complete in time");
                Interlocked.Increment(ref _timeouts);
                Example($"ws {route}: a send did not complete in {SendTimeout.TotalSeconds:0} s (the hub stopped reading): {state.Last}");
                break;
            }
            catch (Exception e) when (e is WebSocketException or ObjectDisposedException or IOException)
            {
                // The link ended under the send (the receive side tells whether the hub said so with a close frame). The frame did not
                // go out: its place in the budget goes back, for another link.
                Interlocked.Decrement(ref _framesReserved);
                break;
            }
        }
        if (!receive.IsCompleted && ws.State == WebSocketState.Open)
        {
            // The driver ends the link: its close frame, then the hub's answer.
            State(worker, $"close {route}");
            await CloseOutputAsync(ws, state, link.Token, run);
        }
        State(worker, $"await close {route}");
        if (await Task.WhenAny(receive, Task.Delay(CloseAnswerTimeout, link.Token)) != receive)
        {
            if (!run.IsCancellationRequested)
            {
                state.Abort(link.IsCancellationRequested ? "link lifetime ran out" : "no close answer in time");
                Interlocked.Increment(ref _timeouts);
                Example($"ws {route}: no close within {CloseAnswerTimeout.TotalSeconds:0} s after the driver's; the last frame sent: {state.Last}");
            }
            await link.CancelAsync(); // aborts the socket, which ends the receive
        }
        try
        {
            await receive.WaitAsync(TimeSpan.FromSeconds(30), CancellationToken.None);
        }
        catch (TimeoutException)
        {
            state.Abort("receive did not end after the abort");
            ws.Abort();
            Interlocked.Increment(ref _driverErrors);
            Example($"ws {route}: the receive did not end 30 s after the link was aborted (a driver bug)");
        }
        if (state.CloseCode is not null && ws.State == WebSocketState.CloseReceived)
        {
            // The hub closed first: answer its close frame (RFC 6455 §5.5.1), so its side of the handshake completes too.
            State(worker, $"answer close {route}");
            await CloseOutputAsync(ws, state, CancellationToken.None, run);
        }
        Classify(route, state, run);
    }

    private static async Task CloseOutputAsync(ClientWebSocket ws, LinkState state, CancellationToken link, CancellationToken run)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(link);
        timeout.CancelAfter(CloseSendTimeout);
        try
        {
            await ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "fuzz done", timeout.Token);
        }
        catch (OperationCanceledException) when (!run.IsCancellationRequested)
        {
            state.Abort("the close frame did not go out in time");
        }
        catch (Exception e) when (e is WebSocketException or ObjectDisposedException or IOException)
        {
            // The link is already gone; the receive side tells how.
        }
    }

    private void Classify(string route, LinkState state, CancellationToken run)
    {
        if (state.CloseCode is { } code)
        {
            var text = code.ToString(System.Globalization.CultureInfo.InvariantCulture);
            Count(_closes, text);
            Count(_linkEnds, "hub close frame");
            if (code == 1011)
            {
                Interlocked.Increment(ref _serverErrors);
                Example($"ws {route}: closed 1011 {state.CloseReason}");
            }
        }
        else if (state.ClientAbort is { } reason)
        {
            Interlocked.Increment(ref _clientAborts);
            Count(_linkEnds, "client abort: " + reason);
        }
        else if (run.IsCancellationRequested)
        {
            // The run was cancelled (time limit, signal, crash), which ended the link: the driver's doing.
            Count(_linkEnds, "run ended");
        }
        else
        {
            // The driver did not abort, and the receive ended without a close frame: the hub's side went (a reset, or the stream ended).
            Interlocked.Increment(ref _hubDrops);
            var e = state.ReceiveError;
            var detail = e is WebSocketException wse ? $"{wse.WebSocketErrorCode}: {wse.Message}" : $"{e?.GetType().Name}: {e?.Message}";
            Count(_linkEnds, "hub-side drop: " + (e is WebSocketException w ? w.WebSocketErrorCode.ToString() : e?.GetType().Name ?? "none"));
            Example($"ws {route}: the hub's side ended without a close frame ({detail}; {e?.InnerException?.Message}); {state.Describe()}; the last frame sent: {state.Last}");
        }
    }

    private static async Task ReceiveAsync(ClientWebSocket ws, LinkState state, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var result = await ws.ReceiveAsync(buffer, ct);
                state.LastReceiveAt = Environment.TickCount64;
                state.MessagesReceived++;
                if (result.MessageType != WebSocketMessageType.Close)
                {
                    state.LastReceived = Encoding.UTF8.GetString(buffer, 0, Math.Min(result.Count, 160));
                }
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    state.CloseReason = result.CloseStatusDescription;
                    state.CloseCode = (int?)result.CloseStatus ?? 1005;
                    return;
                }
            }
        }
        catch (Exception e)
        {
            state.Failed = Environment.TickCount64;
            state.ReceiveError = e;
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

    public (byte[] Bytes, string Kind) Body() => r.Next(10) switch
    {
        0 => (Mutate(Encoding.UTF8.GetBytes(Json(3))), "byte-mutated JSON"),
        1 => (RandomBytes(r.Next(0, 2048)), "random bytes"),
        2 => ([0x7B, 0x22, 0xC3, 0x28, 0x22, 0x3A, 0x31, 0x7D], "invalid UTF-8"), // {"\xC3(":1}
        3 => (Encoding.UTF8.GetBytes(new string('[', r.Next(65, 5000)) + new string(']', r.Next(0, 5000))), "deep nesting"),
        4 => (Truncated(Json(3)), "truncated JSON"),
        5 => ([], "empty"),
        _ => (Encoding.UTF8.GetBytes("{" + string.Join(",", Enumerable.Range(0, r.Next(1, 8)).Select(_ => JsonSerializer.Serialize(Name()) + ":" + Json(2))) + "}"), "random JSON over schema names"),
    };

    public (byte[] Bytes, WebSocketMessageType Type, bool Fragmented, string Kind) Frame(string[] frameTypes)
    {
        var junkType = r.Next(10) == 0;
        var type = junkType ? Pick(Strings) : frameTypes[r.Next(frameTypes.Length)];
        var frame = "{\"type\":" + JsonSerializer.Serialize(type) + (r.Next(3) == 0 ? "" : ",\"id\":" + Scalar()) + ",\"payload\":" +
            (r.Next(2) == 0 ? Json(3) : "{" + string.Join(",", Enumerable.Range(0, r.Next(1, 6)).Select(_ => JsonSerializer.Serialize(Name()) + ":" + Json(2))) + "}") + "}";
        var bytes = Encoding.UTF8.GetBytes(frame);
        var framed = junkType ? "junk type, random payload" : "known type, random payload";
        return r.Next(12) switch
        {
            0 => (Mutate(bytes), WebSocketMessageType.Text, false, "byte-mutated frame"),
            1 => (RandomBytes(r.Next(1, 512)), WebSocketMessageType.Binary, false, "binary message"),
            2 => ([0x7B, 0xFF, 0xFE, 0x7D], WebSocketMessageType.Text, false, "invalid UTF-8"),
            3 => (bytes, WebSocketMessageType.Text, true, "fragmented, " + framed),
            4 when r.Next(200) == 0 => (new byte[(1024 * 1024) + 17], WebSocketMessageType.Text, false, "over the size limit (1 MiB + 17 B)"),
            5 => (Encoding.UTF8.GetBytes(Json(4)), WebSocketMessageType.Text, false, "random JSON (no envelope)"),
            _ => (bytes, WebSocketMessageType.Text, false, framed),
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
