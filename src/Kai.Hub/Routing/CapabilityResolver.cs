using System.Collections.Concurrent;
using System.Text.Json;
using Kai.Protocol.Frames;

namespace Kai.Hub.Routing;

/// <summary>An agent that has a capability, as the resolver sees it.</summary>
/// <param name="AgentId">The agent.</param>
/// <param name="MaxConcurrent">Its <c>max_concurrent_tasks</c> (from its configuration, or the default).</param>
/// <param name="InFlight">Work it holds now (leased tasks, open requests).</param>
/// <param name="Status">Its registry status; <c>error</c> is unhealthy.</param>
/// <param name="Connections">Live links it has (0 when reached another way).</param>
internal sealed record Candidate(string AgentId, int MaxConcurrent, int InFlight, string Status, int Connections = 1);

/// <summary>
/// Seed 000's load balancing, used by tasks, commands, RPC and invocations alike: least connections against
/// <c>max_concurrent_tasks</c> (a full agent is never chosen), weighted round robin over a health score (response time,
/// load, recent failures), and failover (an unhealthy agent is chosen only when no healthy one is left).
/// </summary>
/// <remarks>
/// The score of a candidate is <c>free × speed × reliability</c>: <c>free = 1 − in_flight/max</c>, <c>speed = 1/(1 + ewma_ms/100)</c>
/// with an exponentially weighted mean of its response times, <c>reliability = 1/(1 + recent_failures)</c>. Smooth weighted round
/// robin (as nginx does it) spreads choices in proportion to the scores, so a fast idle agent gets more work without starving others.
/// An agent with 3 failures in a row inside 30 s is unhealthy until it succeeds again or the 30 s pass.
/// </remarks>
internal sealed class CapabilityResolver(TimeProvider time)
{
    private const int UnhealthyAfterFailures = 3;
    private static readonly TimeSpan FailureMemory = TimeSpan.FromSeconds(30);
    private readonly ConcurrentDictionary<string, Health> _health = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Dictionary<string, long>> _wrr = new(StringComparer.Ordinal);

    /// <summary>Chooses one candidate, or null when every candidate is excluded, full or in <c>error</c>.</summary>
    public Candidate? Choose(string tenant, string capability, IReadOnlyList<Candidate> candidates, IReadOnlySet<string>? exclude = null)
    {
        var now = time.GetUtcNow();
        List<(Candidate C, double Score)>? healthy = null;
        List<(Candidate C, double Score)>? unhealthy = null;
        foreach (var c in candidates)
        {
            if (exclude?.Contains(c.AgentId) == true || c.Status == AgentStatuses.Error || c.InFlight >= c.MaxConcurrent)
            {
                continue;
            }
            var h = _health.GetValueOrDefault(c.AgentId);
            var recentFailures = h is not null && now - h.LastFailure < FailureMemory ? h.Failures : 0;
            var score = Math.Max(0.02, 1 - ((double)c.InFlight / c.MaxConcurrent))
                * (1 / (1 + ((h?.LatencyMs ?? 0) / 100)))
                * (1.0 / (1 + recentFailures));
            var list = recentFailures >= UnhealthyAfterFailures ? unhealthy ??= [] : healthy ??= [];
            list.Add((c, score));
        }
        var pool = healthy ?? unhealthy;
        if (pool is null)
        {
            return null;
        }
        if (pool.Count == 1)
        {
            return pool[0].C;
        }
        var state = _wrr.GetOrAdd(tenant + "\n" + capability, _ => new Dictionary<string, long>(StringComparer.Ordinal));
        lock (state)
        {
            long total = 0;
            Candidate? best = null;
            long bestCurrent = long.MinValue;
            foreach (var (c, score) in pool)
            {
                var weight = Math.Max(1, (long)Math.Round(score * 1000));
                total += weight;
                var current = state.GetValueOrDefault(c.AgentId) + weight;
                state[c.AgentId] = current;
                if (current > bestCurrent)
                {
                    best = c;
                    bestCurrent = current;
                }
            }
            state[best!.AgentId] = bestCurrent - total;
            if (state.Count > pool.Count * 4)
            {
                // Agents that left the pool: forget their counters.
                foreach (var gone in state.Keys.Where(id => pool.All(p => p.C.AgentId != id)).ToList())
                {
                    state.Remove(gone);
                }
            }
            return best;
        }
    }

    /// <summary>A reply came back after <paramref name="latency"/>: feeds the response-time score and clears failures.</summary>
    public void RecordSuccess(string agentId, TimeSpan latency)
    {
        var h = _health.GetOrAdd(agentId, _ => new Health());
        lock (h)
        {
            h.LatencyMs = h.Samples == 0 ? latency.TotalMilliseconds : (0.8 * h.LatencyMs) + (0.2 * latency.TotalMilliseconds);
            h.Samples++;
            h.Failures = 0;
        }
    }

    /// <summary>A delivery failed or a request timed out on this agent.</summary>
    public void RecordFailure(string agentId)
    {
        var h = _health.GetOrAdd(agentId, _ => new Health());
        lock (h)
        {
            h.Failures++;
            h.LastFailure = time.GetUtcNow();
        }
    }

    /// <summary>Whether the agent is unhealthy now (for the routing table's health column).</summary>
    public bool IsHealthy(string agentId) =>
        !_health.TryGetValue(agentId, out var h) || h.Failures < UnhealthyAfterFailures || time.GetUtcNow() - h.LastFailure >= FailureMemory;

    /// <summary>An agent's <c>max_concurrent_tasks</c> from its configuration JSON, or <paramref name="fallback"/>.</summary>
    public static int MaxConcurrent(string configJson, int fallback)
    {
        try
        {
            using var config = JsonDocument.Parse(configJson);
            if (config.RootElement.ValueKind == JsonValueKind.Object
                && config.RootElement.TryGetProperty("max_concurrent_tasks", out var max) && max.TryGetInt32(out var value) && value > 0)
            {
                return value;
            }
        }
        catch (JsonException)
        {
            // A malformed configuration falls back to the default.
        }
        return fallback;
    }

    private sealed class Health
    {
        public double LatencyMs;
        public long Samples;
        public int Failures;
        public DateTimeOffset LastFailure;
    }
}
