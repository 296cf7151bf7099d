using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;

namespace Kai.Hub.Routing;

/// <summary>The per-target circuit breaker's settings, section <c>Kai:Routing:CircuitBreaker</c> (seed 000 "Circuit breaker").</summary>
internal sealed class CircuitBreakerOptions
{
    public const string Section = "Kai:Routing:CircuitBreaker";

    /// <summary>Failures in a row (no success between them, within <see cref="SamplingSeconds"/>) that open a target's circuit. Seed 000: 5.</summary>
    [Range(2, 1000)]
    public int FailureThreshold { get; set; } = 5;

    /// <summary>How long an open circuit refuses calls before it lets trial calls through, seconds. Seed 000: 30.</summary>
    [Range(1, 3600)]
    public int BreakSeconds { get; set; } = 30;

    /// <summary>Calls let through at once when the break has passed (half-open); the first outcome closes or reopens it. Seed 000: 3.</summary>
    [Range(1, 100)]
    public int HalfOpenTrials { get; set; } = 3;

    /// <summary>The window the failures are counted in, seconds.</summary>
    [Range(1, 3600)]
    public int SamplingSeconds { get; set; } = 30;
}

/// <summary>The state of one target's circuit, as the routing table shows it.</summary>
internal enum CircuitStatus
{
    Closed,
    Open,
    HalfOpen,
}

/// <summary>
/// A circuit breaker per target (an agent id), on Polly's circuit breaker (seed 000: 5 failures open it, 30 s break, 3 half-open
/// trials). Callers outside a Polly pipeline use it in two steps: <see cref="TryAcquire"/> before routing to a target (false: its
/// circuit is open; skip it or refuse), then <see cref="Record"/> with the outcome. RPC uses it (src/Kai.Hub/Rpc/); invocations may too.
/// </summary>
/// <remarks>
/// Polly counts the outcomes: with <c>FailureRatio = 1</c> and <c>MinimumThroughput = FailureThreshold</c> the circuit opens when the
/// last <c>FailureThreshold</c> calls in the sampling window all failed. After the break, Polly's half-open state admits one probe per
/// execution; this class lets up to <see cref="CircuitBreakerOptions.HalfOpenTrials"/> calls through together and feeds their outcomes
/// to Polly, where the first one closes the circuit (success) or opens it for another break (failure). Time is the hub's
/// <see cref="TimeProvider"/>, so tests drive it with the fake clock.
/// </remarks>
internal sealed class CircuitBreakers(TimeProvider time, IOptions<CircuitBreakerOptions> options)
{
    private readonly CircuitBreakerOptions _options = options.Value;
    private readonly ConcurrentDictionary<string, Breaker> _breakers = new(StringComparer.Ordinal);

    /// <summary>Whether a call to <paramref name="target"/> may go now; a half-open trial slot is taken (give it back with <see cref="Record"/>).</summary>
    public bool TryAcquire(string target)
    {
        if (!_breakers.TryGetValue(target, out var b))
        {
            return true;
        }
        lock (b)
        {
            switch (b.State.CircuitState)
            {
                case CircuitState.Closed:
                    return true;
                case CircuitState.Open or CircuitState.HalfOpen when time.GetUtcNow() >= b.OpenUntil && b.Trials < _options.HalfOpenTrials:
                    b.Trials++;
                    return true;
                default:
                    return false;
            }
        }
    }

    /// <summary>Whether a call to <paramref name="target"/> would be refused now (its circuit is open and no trial slot is free).</summary>
    public bool IsOpen(string target)
    {
        if (!_breakers.TryGetValue(target, out var b))
        {
            return false;
        }
        lock (b)
        {
            return b.State.CircuitState switch
            {
                CircuitState.Closed => false,
                CircuitState.Open or CircuitState.HalfOpen => time.GetUtcNow() < b.OpenUntil || b.Trials >= _options.HalfOpenTrials,
                _ => true,
            };
        }
    }

    /// <summary>The circuit's state for display: open during the break, half-open after it until an outcome decides.</summary>
    public CircuitStatus Status(string target)
    {
        if (!_breakers.TryGetValue(target, out var b))
        {
            return CircuitStatus.Closed;
        }
        lock (b)
        {
            return b.State.CircuitState switch
            {
                CircuitState.Closed => CircuitStatus.Closed,
                CircuitState.Open when time.GetUtcNow() < b.OpenUntil => CircuitStatus.Open,
                CircuitState.Isolated => CircuitStatus.Open,
                _ => CircuitStatus.HalfOpen,
            };
        }
    }

    /// <summary>Feeds one call's outcome to the target's breaker (a failure is a timeout or a failed delivery, not an error the target answered).</summary>
    public void Record(string target, bool success)
    {
        var b = _breakers.GetOrAdd(target, _ => Create());
        lock (b)
        {
            if (b.Trials > 0)
            {
                b.Trials--;
            }
            try
            {
                b.Pipeline.Execute(static ok => ok, success);
            }
            catch (BrokenCircuitException)
            {
                // Still open (inside its break): the outcome changes nothing.
            }
        }
    }

    private Breaker Create()
    {
        var breaker = new Breaker { State = new CircuitBreakerStateProvider() };
        breaker.Pipeline = new ResiliencePipelineBuilder<bool> { TimeProvider = time }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<bool>
            {
                FailureRatio = 1.0,
                MinimumThroughput = _options.FailureThreshold,
                SamplingDuration = TimeSpan.FromSeconds(_options.SamplingSeconds),
                BreakDuration = TimeSpan.FromSeconds(_options.BreakSeconds),
                ShouldHandle = static args => ValueTask.FromResult(args.Outcome.Exception is not null || !args.Outcome.Result),
                StateProvider = breaker.State,
                OnOpened = args =>
                {
                    breaker.OpenUntil = time.GetUtcNow() + args.BreakDuration;
                    breaker.Trials = 0;
                    return default;
                },
                OnClosed = _ =>
                {
                    breaker.Trials = 0;
                    return default;
                },
            })
            .Build();
        return breaker;
    }

    private sealed class Breaker
    {
        public CircuitBreakerStateProvider State = null!;
        public ResiliencePipeline<bool> Pipeline = null!;
        public DateTimeOffset OpenUntil;
        public int Trials;
    }
}
