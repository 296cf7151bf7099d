using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Kai.Client;
using Kai.Protocol.Chat;

// Chat benchmarks (issue 12), driven through Kai.Client against a hub whose provider is scripted-llm.js (bench/chat.sh starts both):
//   latency   one human_agent session, sequential turns: the time to the first streamed chunk and to the whole answer through the
//             hub's chat WebSocket, beside the same streamed request sent to the LLM server directly (same history, same answer).
//   sessions  K human_agent sessions, each with its chat link open and idle: the hub's RSS and managed heap per session.
//   links     the baseline for "sessions": K idle event links (/ws) of the same user on a fresh hub.
// Loopback only. Prints one markdown table row per figure; no timing assertions.
var hub = new Option<string>("--hub") { Required = true };
var llm = new Option<string>("--llm") { Description = "the LLM server's API root, http://127.0.0.1:PORT/v1" };
var pid = new Option<int>("--pid") { Description = "the hub's process id (RSS)" };
var part = new Option<string>("--part") { Description = "latency | sessions | links", Required = true };
var turns = new Option<int>("--turns") { DefaultValueFactory = _ => 300 };
var count = new Option<int>("--count") { Description = "sessions or links held", DefaultValueFactory = _ => 1000 };
var answer = new Option<int>("--answer-chars") { Description = "characters of each answer (scripted-llm streams 5 per chunk)", DefaultValueFactory = _ => 200 };
var root = new RootCommand("Kai Hub chat benchmarks") { hub, llm, pid, part, turns, count, answer };
root.SetAction(async (parse, ct) =>
{
    var hubUri = new Uri(parse.GetRequiredValue(hub));
    if (!IPAddress.TryParse(hubUri.Host, out var ip) || !IPAddress.IsLoopback(ip))
    {
        Console.Error.WriteLine("The benchmark only talks to loopback addresses.");
        return 2;
    }
    using var client = new HubClient(hubUri);
    var email = $"chat-bench-{Guid.NewGuid():N}@example.com";
    await client.RegisterAsync(email, "correct-horse-battery", "bench", ct);
    await client.LoginAsync(email, "correct-horse-battery", ct);
    switch (parse.GetRequiredValue(part))
    {
        case "latency":
            await LatencyAsync(client, new Uri(parse.GetRequiredValue(llm)!.TrimEnd('/') + "/"), parse.GetValue(turns), parse.GetValue(answer), ct);
            break;
        case "sessions":
        case "links":
            await HoldAsync(client, hubUri, parse.GetValue(pid), parse.GetValue(count), parse.GetRequiredValue(part) == "sessions", ct);
            break;
        default:
            Console.Error.WriteLine("--part: latency | sessions | links");
            return 2;
    }
    return 0;
});
return await root.Parse(args).InvokeAsync();

static async Task LatencyAsync(HubClient client, Uri llm, int turns, int answerChars, CancellationToken ct)
{
    var prompt = $"fixed:{answerChars}";
    var warmup = Math.Min(20, turns);
    // Direct: the request the hub's OpenAI client sends (stream: true), with the history a session of that many turns carries.
    using var http = new HttpClient { BaseAddress = llm };
    var history = new List<object>();
    var directFirst = new List<double>();
    var directAll = new List<double>();
    for (var i = 0; i < warmup + turns; i++)
    {
        history.Add(new { role = "user", content = prompt });
        var body = JsonSerializer.Serialize(new { model = "m1", stream = true, messages = history.TakeLast(40) });
        var started = Stopwatch.GetTimestamp();
        using var request = new HttpRequestMessage(HttpMethod.Post, "chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        response.EnsureSuccessStatusCode();
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        var buffer = new byte[16 * 1024];
        double? first = null;
        var text = new StringBuilder();
        int n;
        while ((n = await stream.ReadAsync(buffer, ct)) > 0)
        {
            first ??= Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            text.Append(Encoding.UTF8.GetString(buffer, 0, n));
        }
        if (i >= warmup)
        {
            directFirst.Add(first ?? 0);
            directAll.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        history.Add(new { role = "assistant", content = new string('x', answerChars) });
    }

    // Through the hub: one session, one chat link, a turn at a time.
    var session = await client.CreateChatSessionAsync(new CreateChatSessionRequest(ChatSessionTypes.HumanAgent,
        new() { ["ai_agent"] = new ChatParticipantRequest("bench") }), ct);
    var ai = session.Agents["ai_agent"].AgentId;
    var hubFirst = new List<double>();
    var hubAll = new List<double>();
    await using (var link = await client.ConnectChatAsync(session.SessionId, ct: ct))
    {
        await using var frames = link.ReadAllAsync(ct).GetAsyncEnumerator(ct);
        while (await frames.MoveNextAsync() && frames.Current.Type != ChatFrameTypes.System)
        {
        }
        for (var i = 0; i < warmup + turns; i++)
        {
            var started = Stopwatch.GetTimestamp();
            await link.SendTextAsync(prompt, ct: ct);
            double? first = null;
            while (true)
            {
                if (!await frames.MoveNextAsync())
                {
                    throw new InvalidOperationException($"the chat link closed ({link.CloseCode}): {link.CloseReason}");
                }
                var m = frames.Current;
                if (m.Type == ChatFrameTypes.Info && m.Sender == ai)
                {
                    first ??= Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                }
                else if (m.Type == ChatFrameTypes.Text && m.Sender == ai)
                {
                    if (m.Content?.Length != answerChars)
                    {
                        throw new InvalidOperationException($"turn {i}: the answer has {m.Content?.Length} characters, not {answerChars}: {m.Content}");
                    }
                    break;
                }
                else if (m.Type is ChatFrameTypes.Error or ChatFrameTypes.Cooldown)
                {
                    throw new InvalidOperationException($"turn {i}: {m.Type} {m.Content}");
                }
            }
            if (i >= warmup)
            {
                hubFirst.Add(first ?? 0);
                hubAll.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        }
    }
    await client.EndChatSessionAsync(session.SessionId, ct);
    Console.WriteLine($"| path (n={turns} turns, sequential, {answerChars}-character answers in {(answerChars + 4) / 5} chunks) | first chunk p50 ms | p99 ms | whole answer p50 ms | p99 ms |");
    Console.WriteLine("| --- | --- | --- | --- | --- |");
    Console.WriteLine($"| LLM server directly (streamed) | {Q(directFirst, 0.5)} | {Q(directFirst, 0.99)} | {Q(directAll, 0.5)} | {Q(directAll, 0.99)} |");
    Console.WriteLine($"| chat turn through the hub (`/api/chat/ws`) | {Q(hubFirst, 0.5)} | {Q(hubFirst, 0.99)} | {Q(hubAll, 0.5)} | {Q(hubAll, 0.99)} |");
    Console.WriteLine($"| added by the hub | {D(hubFirst, directFirst, 0.5)} | {D(hubFirst, directFirst, 0.99)} | {D(hubAll, directAll, 0.5)} | {D(hubAll, directAll, 0.99)} |");
}

static async Task HoldAsync(HubClient client, Uri hubUri, int pid, int count, bool sessions, CancellationToken ct)
{
    using var metrics = new HttpClient { BaseAddress = hubUri };
    var rssBefore = Rss(pid);
    var heapBefore = await HeapAsync(metrics, ct);
    var held = new List<IAsyncDisposable>();
    var started = Stopwatch.GetTimestamp();
    for (var i = 0; i < count; i += 50)
    {
        var batch = Enumerable.Range(i, Math.Min(50, count - i)).Select(async _ =>
        {
            if (!sessions)
            {
                return (IAsyncDisposable)await client.ConnectEventsAsync(ct);
            }
            var session = await client.CreateChatSessionAsync(new CreateChatSessionRequest(ChatSessionTypes.HumanAgent,
                new() { ["ai_agent"] = new ChatParticipantRequest("bench") }), ct);
            var link = await client.ConnectChatAsync(session.SessionId, ct: ct);
            await foreach (var m in link.ReadAllAsync(ct))
            {
                if (m.Type == ChatFrameTypes.System)
                {
                    return link;
                }
            }
            throw new InvalidOperationException($"session {session.SessionId}: the link closed ({link.CloseCode}): {link.CloseReason}");
        });
        held.AddRange(await Task.WhenAll(batch));
    }
    var openedIn = Stopwatch.GetElapsedTime(started).TotalSeconds;
    // Let the connect-time garbage be collected before reading: a few seconds idle (every link pings on its own timer meanwhile).
    await Task.Delay(TimeSpan.FromSeconds(5), ct);
    var rss = Rss(pid) - rssBefore;
    var heap = await HeapAsync(metrics, ct) - heapBefore;
    var what = sessions ? "idle chat sessions (a session + its open `/api/chat/ws` link)" : "idle event links (`/ws`), the baseline";
    Console.WriteLine($"| {count} {what} | {openedIn:F1} s to open | RSS {rss / 1024.0 / count:F1} KiB each | managed heap {heap / 1024.0 / count:F1} KiB each |");
    foreach (var h in held)
    {
        await h.DisposeAsync();
    }
}

static string Q(List<double> xs, double p)
{
    var sorted = xs.Order().ToList();
    return sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))].ToString("F2", CultureInfo.InvariantCulture);
}

static string D(List<double> a, List<double> b, double p) =>
    (double.Parse(Q(a, p), CultureInfo.InvariantCulture) - double.Parse(Q(b, p), CultureInfo.InvariantCulture)).ToString("F2", CultureInfo.InvariantCulture);

static long Rss(int pid)
{
    if (pid <= 0)
    {
        return 0;
    }
    var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
    return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
}

static async Task<double> HeapAsync(HttpClient http, CancellationToken ct)
{
    var text = await http.GetStringAsync("metrics", ct);
    return text.Split('\n').Where(l => l.StartsWith("dotnet_gc_last_collection_heap_size_bytes{", StringComparison.Ordinal))
        .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
}
