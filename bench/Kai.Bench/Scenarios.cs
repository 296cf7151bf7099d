using System.Diagnostics;
using System.Globalization;

namespace Kai.Bench;

internal sealed record Settings(
    int ServerPid, int Runs, TimeSpan Duration, int[] S1Sizes, int[] S2Rates, int S2Pairs, int[] S3Sizes, int S4Links, int S4Rate, string S4Mix,
    int[] S5Workers, int S5Concurrency, int[] S6Rates, int S6Pairs, bool Smoke);

/// <summary>The six scenarios. Each sets up once, measures <see cref="Settings.Runs"/> times, and emits one <see cref="Result"/> per figure.</summary>
internal sealed class Scenarios(ITarget target, Settings s, Action<Result> emit)
{
    private static string F(FormattableString f) => f.ToString(CultureInfo.InvariantCulture);

    private void Emit(string scenario, string param, string metric, string unit, IEnumerable<double> runs, string? note = null) =>
        emit(new Result(target.Name, scenario, param, metric, unit, [.. runs], note));

    private static async Task SettleAsync() => await Task.Delay(TimeSpan.FromSeconds(1.5));

    /// <summary>S1: hold N links; server RSS and managed heap per link, baseline before connecting subtracted.</summary>
    public async Task S1Async(CancellationToken ct)
    {
        if (target is KaiTarget kai)
        {
            await kai.EnsureAgentsAsync(s.S1Sizes.Max(), ct); // provisioning is not part of the connect rate
        }
        foreach (var n in s.S1Sizes)
        {
            var rss = new List<double>();
            var heap = new List<double>();
            var open = new List<double>();
            var rate = new List<double>();
            for (var run = 0; run < s.Runs; run++)
            {
                await SettleAsync();
                var rss0 = s.ServerPid > 0 ? Proc.RssBytes(s.ServerPid) : double.NaN;
                var heap0 = await target.HeapBytesAsync(ct);
                var t0 = Stopwatch.GetTimestamp();
                await using var held = await target.HoldAsync(n, ct);
                var connectSeconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                await SettleAsync();
                var rss1 = s.ServerPid > 0 ? Proc.RssBytes(s.ServerPid) : double.NaN;
                var heap1 = await target.HeapBytesAsync(ct);
                var links = Math.Max(held.Open, 1);
                rss.Add((rss1 - rss0) / links / 1024);
                heap.Add((heap1 - heap0) / links / 1024);
                open.Add(held.Open);
                rate.Add(held.Open / connectSeconds);
                Console.Error.WriteLine(F($"{target.Name} s1 n={n} run {run + 1}: open {held.Open}, RSS {rss1 / 1048576:0} MiB (+{(rss1 - rss0) / links / 1024:0.0} KiB/link), heap +{(heap1 - heap0) / links / 1024:0.0} KiB/link, {held.Open / connectSeconds:0}/s"));
                if (double.TryParse(Environment.GetEnvironmentVariable("KAI_BENCH_S1_HOLD_SECONDS"), CultureInfo.InvariantCulture, out var hold) && hold > 0)
                {
                    // Keeps the links open so that a heap dump can be taken of them (docs/benchmarks.md "Idle link memory").
                    Console.Error.WriteLine(F($"{target.Name} s1 n={n}: holding {held.Open} links for {hold} s"));
                    await Task.Delay(TimeSpan.FromSeconds(hold), ct);
                }
            }
            var p = F($"N={n}");
            Emit("S1", p, "links open", "links", open);
            Emit("S1", p, "server RSS per link", "KiB", rss);
            Emit("S1", p, "managed heap per link", "KiB", heap, "heap after the server's last GC: may lag");
            Emit("S1", p, "connect rate", "links/s", rate);
        }
    }

    /// <summary>
    /// S2: open loop at a fixed rate of messages through the hub: rate/2 round trips per second, each two routed messages
    /// (A to B, B's echo to A). Latency from the scheduled send time.
    /// </summary>
    public async Task S2Async(CancellationToken ct)
    {
        foreach (var rate in s.S2Rates)
        {
            var trips = rate / 2.0;
            var capacity = (int)Math.Min(trips * s.Duration.TotalSeconds + 1000, 4_000_000);
            Recorder oneWay = new(capacity), roundTrip = new(capacity);
            await using var pairs = await target.PairsAsync(s.S2Pairs, t => oneWay.Record(t), t => roundTrip.Record(t), ct);
            // Warm up (JIT, connection buffers) at the same rate; not measured.
            await OpenLoop.RunAsync(trips, TimeSpan.FromSeconds(s.Smoke ? 0.5 : 2), (due, i) => pairs.Send((int)(i % s.S2Pairs), due, i), ct);
            await Task.Delay(200, ct);
            var m = new Dictionary<string, List<double>>();
            void Add(string k, double v) => (m.TryGetValue(k, out var l) ? l : m[k] = []).Add(v);
            for (var run = 0; run < s.Runs; run++)
            {
                oneWay = new Recorder(capacity);
                roundTrip = new Recorder(capacity);
                var alloc0 = target is KaiTarget k0 ? await k0.CounterAsync("dotnet_gc_heap_total_allocated_bytes_total", ct) : double.NaN;
                var gen0 = target is KaiTarget k1 ? await k1.CounterAsync("dotnet_gc_collections_total", ct) : double.NaN;
                var cpu = new CpuSpan(s.ServerPid);
                var lateness = await OpenLoop.RunAsync(trips, s.Duration, (due, i) => pairs.Send((int)(i % s.S2Pairs), due, i), ct);
                for (var i = 0; i < 100 && roundTrip.Count < lateness.Count; i++)
                {
                    await Task.Delay(20, ct);
                }
                var (serverCpu, genCpu) = cpu.Stop();
                var sent = lateness.Count;
                var ow = oneWay.Summarize();
                var rt = roundTrip.Summarize();
                Add("one-way p50", ow.P50);
                Add("one-way p99", ow.P99);
                Add("one-way p99.9", ow.P999);
                Add("round-trip p50", rt.P50);
                Add("round-trip p99", rt.P99);
                Add("round-trip p99.9", rt.P999);
                Add("lost round trips", sent - roundTrip.Count);
                Add("sender lateness p99", lateness.Summarize().P99);
                Add("server CPU", serverCpu * 100);
                Add("generator CPU", genCpu * 100);
                if (target is KaiTarget k)
                {
                    var routed = 2.0 * roundTrip.Count;
                    Add("allocated per message", (await k.CounterAsync("dotnet_gc_heap_total_allocated_bytes_total", ct) - alloc0) / Math.Max(routed, 1));
                    Add("GCs (all gens)", await k.CounterAsync("dotnet_gc_collections_total", ct) - gen0);
                }
                Console.Error.WriteLine(F($"{target.Name} s2 {rate} msg/s run {run + 1}: one-way p50 {ow.P50:0.000} p99 {ow.P99:0.000} p99.9 {ow.P999:0.000} ms; rtt p99 {rt.P99:0.000}; lost {sent - roundTrip.Count}; server CPU {serverCpu:P0}"));
            }
            var unit = new Dictionary<string, string>
            {
                ["lost round trips"] = "count", ["server CPU"] = "% core", ["generator CPU"] = "% core", ["allocated per message"] = "bytes",
                ["GCs (all gens)"] = "count",
            };
            foreach (var (k, v) in m)
            {
                Emit("S2", F($"{rate} msg/s"), k, unit.GetValueOrDefault(k, "ms"), v);
            }
        }
    }

    /// <summary>
    /// S3: one publisher, N subscribers. Closed loop with a window: at most W messages are in flight (not yet received
    /// by every subscriber), W = 20,000 / N clamped to [4, 500], so send queues stay far below the hub's slow-consumer
    /// cap. Reports deliveries per second and publish-to-receive latency (which includes the window's queueing).
    /// </summary>
    public async Task S3Async(CancellationToken ct)
    {
        foreach (var n in s.S3Sizes)
        {
            var window = Math.Clamp(20_000 / n, 4, 500);
            var ring = new int[window * 4];
            using var credits = new SemaphoreSlim(window);
            long deliveries = 0;
            Recorder latency = new(4_000_000);
            void OnDelivery(long ticks, long seq)
            {
                latency.Record(ticks);
                Interlocked.Increment(ref deliveries);
                ref var slot = ref ring[seq % ring.Length];
                if (Interlocked.Increment(ref slot) == n)
                {
                    Volatile.Write(ref slot, 0);
                    credits.Release();
                }
            }
            var setup = Stopwatch.GetTimestamp();
            var (fanout, note) = await target.FanoutAsync(n, OnDelivery, ct);
            Console.Error.WriteLine(F($"{target.Name} s3 n={n}: set up in {Stopwatch.GetElapsedTime(setup).TotalSeconds:0.0} s ({note})"));
            if (fanout is null)
            {
                Emit("S3", F($"N={n}"), "deliveries/s", "1/s", [double.NaN], note);
                continue;
            }
            await using var _ = fanout;
            List<double> rates = [], p50 = [], p99 = [], stalls = [], serverCpus = [], genCpus = [];
            long seq = 0;
            // Run -1 is a warm-up, not measured (as S2's): the fan-out path is only partly JIT-tiered when N changes, and
            // the first measured run would otherwise time the tier-up rather than the server (docs/benchmarks.md, run 6).
            for (var run = -1; run < s.Runs; run++)
            {
                latency = new Recorder(4_000_000);
                Interlocked.Exchange(ref deliveries, 0);
                var cpu = new CpuSpan(s.ServerPid);
                var t0 = Stopwatch.GetTimestamp();
                var seconds = run < 0 ? (s.Smoke ? 0.5 : 3) : s.Duration.TotalSeconds;
                var end = t0 + (long)(seconds * Stopwatch.Frequency);
                long published = 0, stalled = 0;
                while (Stopwatch.GetTimestamp() < end)
                {
                    if (!await credits.WaitAsync(TimeSpan.FromSeconds(2), ct))
                    {
                        stalled++; // a message never reached every subscriber (a link dropped?): stop this run
                        break;
                    }
                    fanout.Publish(Stopwatch.GetTimestamp(), seq++);
                    published++;
                }
                for (var i = 0; i < 150 && Interlocked.Read(ref deliveries) < published * n; i++)
                {
                    await Task.Delay(20, ct);
                }
                var elapsed = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                var (serverCpu, genCpu) = cpu.Stop();
                var got = Interlocked.Read(ref deliveries);
                if (s.Smoke && got == 0)
                {
                    // Not a timing check: a fan-out that delivers nothing is broken (for example a topic the hub refuses).
                    throw new InvalidOperationException($"{target.Name} S3 delivered nothing to {n} subscribers");
                }
                // Put the window back to full for the next run, whatever was lost.
                while (credits.CurrentCount < window)
                {
                    credits.Release();
                }
                Array.Clear(ring);
                if (run < 0)
                {
                    continue;
                }
                var l = latency.Summarize();
                rates.Add(got / elapsed);
                p50.Add(l.P50);
                p99.Add(l.P99);
                stalls.Add(published * n - got);
                serverCpus.Add(serverCpu * 100);
                genCpus.Add(genCpu * 100);
                Console.Error.WriteLine(F($"{target.Name} s3 n={n} run {run + 1}: {got / elapsed:0} deliveries/s, p50 {l.P50:0.00} p99 {l.P99:0.00} ms, missing {published * n - got}, server CPU {serverCpu:P0}"));
            }
            var p = F($"N={n}");
            Emit("S3", p, "deliveries/s", "1/s", rates, note);
            Emit("S3", p, "publish-to-receive p50", "ms", p50);
            Emit("S3", p, "publish-to-receive p99", "ms", p99);
            Emit("S3", p, "missing deliveries", "count", stalls);
            Emit("S3", p, "server CPU", "% core", serverCpus);
            Emit("S3", p, "generator CPU", "% core", genCpus, "near 100: the generator, not the server, limits the figure");
        }
    }

    /// <summary>S4: REST reads at a fixed rate (open loop, latency from the scheduled time) while N links are held.</summary>
    public async Task S4Async(CancellationToken ct)
    {
        if (target is KaiTarget kai)
        {
            await kai.EnsureAgentsAsync(s.S4Links, ct);
        }
        await using var held = await target.HoldAsync(s.S4Links, ct);
        var read = target.RestRead(held.Open, s.S4Mix);
        var p = F($"{s.S4Rate} req/s, {held.Open} links{(s.S4Mix == "both" ? "" : ", " + s.S4Mix)}");
        if (read is null)
        {
            Emit("S4", p, "p99", "ms", [double.NaN], "no REST API");
            return;
        }
        List<double> p50 = [], p99 = [], p999 = [], errors = [], serverCpus = [];
        // Warm up (JIT, the HTTP connection pool) with a short burst; not measured.
        await Parallel2.MapAsync(s.Smoke ? 50 : 2000, 16, async i => { await read(i); return 0; }, ct);
        for (var run = 0; run < s.Runs; run++)
        {
            var latency = new Recorder((int)(s.S4Rate * s.Duration.TotalSeconds) + 100);
            long failed = 0, inflight = 0;
            var pending = new List<Task>();
            var cpu = new CpuSpan(s.ServerPid);
            async Task One(int i, long due)
            {
                try
                {
                    await read(i);
                    latency.Record(Stopwatch.GetTimestamp() - due);
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                    Interlocked.Increment(ref failed);
                }
                finally
                {
                    Interlocked.Decrement(ref inflight);
                }
            }
            await OpenLoop.RunAsync(s.S4Rate, s.Duration, (due, i) =>
            {
                if (Interlocked.Increment(ref inflight) > 4000)
                {
                    // Bounded: past 4,000 outstanding requests the server is not keeping up; count, don't queue.
                    Interlocked.Decrement(ref inflight);
                    Interlocked.Increment(ref failed);
                    return;
                }
                pending.Add(One((int)i, due));
            }, ct);
            await Task.WhenAny(Task.WhenAll(pending), Task.Delay(TimeSpan.FromSeconds(30), ct));
            var (serverCpu, _) = cpu.Stop();
            var l = latency.Summarize();
            p50.Add(l.P50);
            p99.Add(l.P99);
            p999.Add(l.P999);
            errors.Add(Interlocked.Read(ref failed));
            serverCpus.Add(serverCpu * 100);
            Console.Error.WriteLine(F($"{target.Name} s4 run {run + 1}: p50 {l.P50:0.00} p99 {l.P99:0.00} p99.9 {l.P999:0.00} ms, failed {failed}, server CPU {serverCpu:P0}"));
        }
        Emit("S4", p, "p50", "ms", p50);
        Emit("S4", p, "p99", "ms", p99);
        Emit("S4", p, "p99.9", "ms", p999);
        Emit("S4", p, "failed or shed", "count", errors);
        Emit("S4", p, "server CPU", "% core", serverCpus);
    }

    /// <summary>S5: durable tasks, enqueue (POST) to completion (ack of the agent's result), with 1 and several agents.</summary>
    public async Task S5Async(CancellationToken ct)
    {
        if (target is not KaiTarget kai)
        {
            Emit("S5", "-", "tasks/s", "1/s", [double.NaN], "no durable task queue in this baseline");
            return;
        }
        foreach (var workers in s.S5Workers)
        {
            List<double> rate = [], q50 = [], q99 = [], e99 = [], failed = [], serverCpus = [];
            for (var run = 0; run < s.Runs; run++)
            {
                var cpu = new CpuSpan(s.ServerPid);
                var (perSecond, queue, e2e, fail) = await kai.TasksAsync(workers, s.S5Concurrency, s.Duration, F($"{Environment.ProcessId}-{workers}-{run}"), ct);
                var (serverCpu, _) = cpu.Stop();
                if (s.Smoke && perSecond <= 0)
                {
                    throw new InvalidOperationException($"{target.Name} S5 completed no task with {workers} agents");
                }
                rate.Add(perSecond);
                q50.Add(queue.P50);
                q99.Add(queue.P99);
                e99.Add(e2e.P99);
                failed.Add(fail);
                serverCpus.Add(serverCpu * 100);
                Console.Error.WriteLine(F($"kai s5 workers={workers} run {run + 1}: {perSecond:0} tasks/s, queue p50 {queue.P50:0.00} p99 {queue.P99:0.00} ms, end-to-end p99 {e2e.P99:0.00} ms, failed {fail}"));
            }
            var p = F($"{workers} agent(s), {s.S5Concurrency} callers");
            Emit("S5", p, "tasks completed/s", "1/s", rate);
            Emit("S5", p, "queue latency p50", "ms", q50, "POST sent to task frame received");
            Emit("S5", p, "queue latency p99", "ms", q99);
            Emit("S5", p, "enqueue-to-completion p99", "ms", e99);
            Emit("S5", p, "failed", "count", failed);
            Emit("S5", p, "server CPU", "% core", serverCpus);
        }
    }

    /// <summary>
    /// S6 (issue 11): AMRI RPC round trips through the hub beside agent_message round trips, at the same number of round trips per
    /// second, in one run. RPC: <see cref="Settings.S6Pairs"/> caller <c>/ws/rpc</c> links each call one callee agent link
    /// (<c>bench.echo</c>, answered at once). agent_message: as many S2 pairs (A to B, B's echo to A), at rate round trips per second
    /// (twice as many routed messages). Open loop, latency from the scheduled send time; within each run the two paths are measured
    /// one after the other, in alternating order, so load on the machine falls on both alike. Kai Hub only.
    /// </summary>
    public async Task S6Async(CancellationToken ct)
    {
        if (target is not KaiTarget kai)
        {
            Emit("S6", "-", "RPC round-trip p50", "ms", [double.NaN], "no request/response RPC in this baseline");
            return;
        }
        var pairs = s.S6Pairs;
        await kai.EnsureAgentsAsync(4 * pairs, ct);
        foreach (var rate in s.S6Rates)
        {
            var capacity = (int)Math.Min(rate * s.Duration.TotalSeconds + 1000, 4_000_000);
            Recorder rpcTrip = new(capacity), amTrip = new(capacity);
            long rpcErrors = 0;
            // S2's pairs on agents 0..2K-1, the RPC callers and callees on 2K..4K-1: every link stays open for the whole rate.
            await using var am = await target.PairsAsync(pairs, _ => { }, t => amTrip.Record(t), ct);
            await using var rpc = await kai.RpcPairsAsync(pairs, 2 * pairs, t => rpcTrip.Record(t), () => Interlocked.Increment(ref rpcErrors), ct);
            // Warm up both paths (JIT, buffers, the RPC method's pipeline) at the same rate; not measured.
            var warm = TimeSpan.FromSeconds(s.Smoke ? 0.5 : 2);
            await OpenLoop.RunAsync(rate, warm, (due, i) => rpc.Send((int)(i % pairs), due, i), ct);
            await OpenLoop.RunAsync(rate, warm, (due, i) => am.Send((int)(i % pairs), due, i), ct);
            await Task.Delay(200, ct);
            var m = new Dictionary<string, List<double>>();
            void Add(string k, double v) => (m.TryGetValue(k, out var l) ? l : m[k] = []).Add(v);
            for (var run = 0; run < s.Runs; run++)
            {
                var rpcFirst = run % 2 == 0;
                for (var leg = 0; leg < 2; leg++)
                {
                    var isRpc = (leg == 0) == rpcFirst;
                    IPairs path = isRpc ? rpc : am;
                    var trips = new Recorder(capacity);
                    if (isRpc)
                    {
                        rpcTrip = trips;
                        Interlocked.Exchange(ref rpcErrors, 0);
                    }
                    else
                    {
                        amTrip = trips;
                    }
                    var alloc0 = await kai.CounterAsync("dotnet_gc_heap_total_allocated_bytes_total", ct);
                    var gc0 = await kai.CounterAsync("dotnet_gc_collections_total", ct);
                    var cpu = new CpuSpan(s.ServerPid);
                    var lateness = await OpenLoop.RunAsync(rate, s.Duration, (due, i) => path.Send((int)(i % pairs), due, i), ct);
                    long Answered() => trips.Count + (isRpc ? Interlocked.Read(ref rpcErrors) : 0);
                    for (var i = 0; i < 100 && Answered() < lateness.Count; i++)
                    {
                        await Task.Delay(20, ct);
                    }
                    var (serverCpu, genCpu) = cpu.Stop();
                    var sent = lateness.Count;
                    var rt = trips.Summarize();
                    var errors = isRpc ? Interlocked.Read(ref rpcErrors) : 0;
                    var allocated = await kai.CounterAsync("dotnet_gc_heap_total_allocated_bytes_total", ct) - alloc0;
                    var gcs = await kai.CounterAsync("dotnet_gc_collections_total", ct) - gc0;
                    if (s.Smoke && trips.Count == 0)
                    {
                        // Not a timing check: a path that answers nothing is broken (a wrong frame shape gets error frames).
                        throw new InvalidOperationException($"{target.Name} S6 {(isRpc ? "RPC" : "agent_message")}: no round trip completed ({errors} errors)");
                    }
                    var name = isRpc ? "RPC" : "agent_message";
                    Add($"{name} round-trip p50", rt.P50);
                    Add($"{name} round-trip p99", rt.P99);
                    Add($"{name} round-trip p99.9", rt.P999);
                    Add($"{name} lost", sent - trips.Count - errors);
                    Add($"{name} errors", errors);
                    Add($"{name} sender lateness p99", lateness.Summarize().P99);
                    Add($"{name} server CPU", serverCpu * 100);
                    Add($"{name} generator CPU", genCpu * 100);
                    Add($"{name} allocated per round trip", allocated / Math.Max(trips.Count, 1));
                    Add($"{name} GCs (all gens)", gcs);
                    Console.Error.WriteLine(F($"{target.Name} s6 {rate} req/s run {run + 1} {name}: rtt p50 {rt.P50:0.000} p99 {rt.P99:0.000} p99.9 {rt.P999:0.000} ms; lost {sent - trips.Count - errors}; errors {errors}; server CPU {serverCpu:P0}; {allocated / Math.Max(trips.Count, 1):0} B per round trip"));
                }
            }
            // RPC beside agent_message, figure by figure.
            var figures = new[] { "round-trip p50", "round-trip p99", "round-trip p99.9", "lost", "errors", "sender lateness p99", "server CPU", "generator CPU", "allocated per round trip", "GCs (all gens)" };
            var unit = new Dictionary<string, string>
            {
                ["lost"] = "count", ["errors"] = "count", ["server CPU"] = "% core", ["generator CPU"] = "% core", ["allocated per round trip"] = "bytes",
                ["GCs (all gens)"] = "count",
            };
            foreach (var f in figures)
            {
                foreach (var name in new[] { "RPC", "agent_message" })
                {
                    if (f == "errors" && name == "agent_message")
                    {
                        continue; // agent_messages without an id get no answer from the hub but the echo
                    }
                    Emit("S6", F($"{rate} round trips/s, {pairs} pairs"), $"{name} {f}", unit.GetValueOrDefault(f, "ms"), m[$"{name} {f}"]);
                }
            }
        }
    }
}
