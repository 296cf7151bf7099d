using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Kai.Bench;

// Kai Hub load generator. `run` drives one server (kai, signalr or nats) through the scenarios and appends one JSON
// line per figure to --out; `report` turns those lines into the markdown table of docs/benchmarks.md.

// Pinned to one core the pool starts with one worker; receive loops and the open-loop sender's callers must never wait
// for the pool's slow thread injection.
ThreadPool.SetMinThreads(16, 16);

var target = new Option<string>("--target") { Description = "kai | signalr | nats", Required = true };
var url = new Option<string>("--url") { Description = "http://127.0.0.1:PORT (kai, signalr) or nats://127.0.0.1:PORT", Required = true };
var peers = new Option<string>("--peers") { Description = "kai only: comma-separated URLs of the other cluster nodes (agent links spread over all nodes; fan-out subscribers on the peers)", DefaultValueFactory = _ => "" };
var pid = new Option<int>("--server-pid") { Description = "the server's process id, for RSS and CPU (0: not measured)" };
var scenarios = new Option<string>("--scenarios") { Description = "comma-separated: s1,s2,s3,s4,s5,s6", DefaultValueFactory = _ => "s1,s2,s3,s4,s5,s6" };
var smoke = new Option<bool>("--smoke") { Description = "tiny N, one short run per scenario; exits 0 when every scenario ran (no timing assertions)" };
var runs = new Option<int>("--runs") { Description = "measured runs per figure (the report shows the median)", DefaultValueFactory = _ => 5 };
var duration = new Option<double>("--duration") { Description = "seconds per measured run", DefaultValueFactory = _ => 8 };
var state = new Option<string>("--state") { Description = "file caching kai agent credentials between invocations", DefaultValueFactory = _ => "bench-agents.json" };
var output = new Option<string>("--out") { Description = "JSON lines file to append results to", DefaultValueFactory = _ => "bench-results.jsonl" };
var s1 = new Option<string>("--s1-sizes") { DefaultValueFactory = _ => "10000,19500" };
var s2 = new Option<string>("--s2-rates") { Description = "messages routed per second (half as many round trips)", DefaultValueFactory = _ => "1000,5000,10000" };
var s3 = new Option<string>("--s3-sizes") { DefaultValueFactory = _ => "10,100,1000,10000" };
var s4Links = new Option<int>("--s4-links") { DefaultValueFactory = _ => 10000 };
var s4Rate = new Option<int>("--s4-rate") { DefaultValueFactory = _ => 2000 };
var s4Mix = new Option<string>("--s4-mix") { Description = "both | list | one", DefaultValueFactory = _ => "both" };
var s5 = new Option<string>("--s5-workers") { Description = "agents answering tasks, one run set per value", DefaultValueFactory = _ => "1,4,16" };
var s5Callers = new Option<int>("--s5-callers") { Description = "concurrent callers, each posting a task and waiting for its completion (closed loop)", DefaultValueFactory = _ => 16 };

var s6 = new Option<string>("--s6-rates") { Description = "kai only: RPC calls per second, and as many agent_message round trips per second beside them", DefaultValueFactory = _ => "1000,5000" };
var s6Pairs = new Option<int>("--s6-pairs") { Description = "kai only: RPC caller/callee pairs, and as many agent_message pairs", DefaultValueFactory = _ => 4 };

var run = new Command("run", "drive one server through the scenarios") { target, url, peers, pid, scenarios, smoke, runs, duration, state, output, s1, s2, s3, s4Links, s4Rate, s4Mix, s5, s5Callers, s6, s6Pairs };
run.SetAction(async (parse, ct) =>
{
    static int[] Ints(string csv) => [.. csv.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(x => int.Parse(x, CultureInfo.InvariantCulture))];
    var isSmoke = parse.GetValue(smoke);
    var settings = isSmoke
        ? new Settings(parse.GetValue(pid), 1, TimeSpan.FromSeconds(1.5), [20], [200], 2, [5], 10, 100, "both", [1, 2], 4, [200], 2, true)
        : new Settings(parse.GetValue(pid), parse.GetValue(runs), TimeSpan.FromSeconds(parse.GetValue(duration)), Ints(parse.GetValue(s1)!),
            Ints(parse.GetValue(s2)!), 4, Ints(parse.GetValue(s3)!), parse.GetValue(s4Links), parse.GetValue(s4Rate), parse.GetValue(s4Mix)!, Ints(parse.GetValue(s5)!), parse.GetValue(s5Callers),
            Ints(parse.GetValue(s6)!), parse.GetValue(s6Pairs), false);
    var uri = new Uri(parse.GetValue(url)!);
    if (!IPAddress.TryParse(uri.Host, out var ip) || !IPAddress.IsLoopback(ip))
    {
        Console.Error.WriteLine("The benchmark only talks to loopback addresses (127.0.0.0/8).");
        return 2;
    }
    if (parse.GetValue(peers)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Any(p => !Uri.TryCreate(p, UriKind.Absolute, out var u) || !IPAddress.TryParse(u.Host, out var a) || !IPAddress.IsLoopback(a)))
    {
        Console.Error.WriteLine("--peers: the benchmark only talks to loopback addresses (127.0.0.0/8).");
        return 2;
    }
    await using ITarget server = parse.GetValue(target) switch
    {
        "kai" => new KaiTarget(uri, parse.GetValue(state)!,
            [.. parse.GetValue(peers)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(p => new Uri(p))]),
        "signalr" => new SignalRTarget(uri),
        "nats" => new NatsTarget(new IPEndPoint(ip, uri.Port)),
        var other => throw new ArgumentException($"unknown target '{other}'"),
    };
    if (server is KaiTarget kai)
    {
        await kai.InitAsync(ct);
    }
    var outFile = parse.GetValue(output)!;
    var ran = new List<string>();
    void Emit(Result r)
    {
        Console.WriteLine(r);
        File.AppendAllText(outFile, JsonSerializer.Serialize(r, Report.Json) + "\n");
    }
    var sc = new Scenarios(server, settings, Emit);
    foreach (var name in parse.GetValue(scenarios)!.Split(',', StringSplitOptions.RemoveEmptyEntries))
    {
        var task = name switch
        {
            "s1" => sc.S1Async(ct),
            "s2" => sc.S2Async(ct),
            "s3" => sc.S3Async(ct),
            "s4" => sc.S4Async(ct),
            "s5" => sc.S5Async(ct),
            "s6" => sc.S6Async(ct),
            _ => throw new ArgumentException($"unknown scenario '{name}'"),
        };
        await task;
        ran.Add(name);
    }
    Console.Error.WriteLine($"{server.Name}: ran {string.Join(", ", ran)}");
    return 0;
});

var input = new Option<string>("--in") { Description = "JSON lines written by run", Required = true };
var report = new Command("report", "markdown table of medians with ratios to the SignalR baseline") { input };
report.SetAction(parse =>
{
    var results = File.ReadLines(parse.GetValue(input)!).Where(l => l.Length > 0).Select(l => JsonSerializer.Deserialize<Result>(l, Report.Json)!).ToList();
    Console.Write(Report.Markdown(results));
    return 0;
});

var root = new RootCommand("Kai Hub benchmark load generator") { run, report };
return await root.Parse(args).InvokeAsync();

internal static class Report
{
    public static readonly JsonSerializerOptions Json = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public static string Markdown(List<Result> results)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| scenario | parameters | figure | unit | Kai Hub | SignalR | NATS | Kai / SignalR |");
        sb.AppendLine("| --- | --- | --- | --- | ---: | ---: | ---: | ---: |");
        // Lines for the same figure from several invocations (S1 runs each on a fresh server) are one figure with all runs.
        results = [.. results.GroupBy(r => (r.Target, r.Scenario, r.Param, r.Metric, r.Unit))
            .Select(g => g.First() with { Runs = [.. g.SelectMany(r => r.Runs)] })];
        var keys = results.Select(r => (r.Scenario, r.Param, r.Metric, r.Unit)).Distinct();
        foreach (var k in keys.OrderBy(k => k.Scenario, StringComparer.Ordinal))
        {
            Result? Of(string t) => results.LastOrDefault(r => r.Target == t && (r.Scenario, r.Param, r.Metric, r.Unit) == k);
            var (kai, sr, nats) = (Of("kai"), Of("signalr"), Of("nats"));
            string Cell(Result? r) => r is null ? "" : double.IsNaN(r.Median) ? "n/a" : r.Median.ToString(r.Median >= 100 ? "N0" : "0.###", CultureInfo.InvariantCulture)
                + (r.Runs.Length > 1 ? "" : "¹");
            var ratio = kai is not null && sr is not null && sr.Median != 0 && !double.IsNaN(kai.Median) && !double.IsNaN(sr.Median)
                ? (kai.Median / sr.Median).ToString("0.00", CultureInfo.InvariantCulture) + "×" : "";
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {k.Scenario} | {k.Param} | {k.Metric} | {k.Unit} | {Cell(kai)} | {Cell(sr)} | {Cell(nats)} | {ratio} |");
        }
        var notes = results.Where(r => r.Note is not null).Select(r => $"{r.Target} {r.Scenario} {r.Metric}: {r.Note}").Distinct().ToList();
        if (notes.Count > 0)
        {
            sb.AppendLine().AppendLine("Notes:").AppendLine();
            foreach (var n in notes)
            {
                sb.AppendLine("- " + n);
            }
        }
        sb.AppendLine().AppendLine("¹ a single run (smoke mode or a reduced run count), not a median.");
        return sb.ToString();
    }
}
