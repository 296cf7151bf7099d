using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.RateLimiting;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Protocol;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Security;

/// <summary>Rate-limit categories. A route opts into one with <c>.RequireRateLimiting(RateLimitCategories.Auth)</c>; every request also
/// passes the global per-principal (or per-IP) limit.</summary>
internal static class RateLimitCategories
{
    public const string Auth = "auth";
    public const string TokenVerify = "token_verify";
    public const string SessionCreate = "session_create";
    public const string AgentOperations = "agent_operations";
    public const string SessionQuery = "session_query";
    public const string Anonymous = "anonymous";
    public const string Authenticated = "authenticated";

    public static readonly string[] EndpointCategories = [Auth, TokenVerify, SessionCreate, AgentOperations, SessionQuery];
}

/// <summary>
/// A fixed-window counter on the hub's <see cref="TimeProvider"/> (the framework's window limiters read the system clock, so tests could
/// not move time). It exposes what <c>X-RateLimit-*</c> needs: the limit, what is left, and when the window resets.
/// </summary>
internal sealed class WindowLimiter(int limit, TimeSpan window, TimeProvider time) : RateLimiter
{
    private readonly Lock _gate = new();
    private DateTimeOffset _windowStart = time.GetUtcNow();
    private int _used;

    public int Limit => limit;

    /// <summary>Applies a changed limit or window (runtime settings) from now on; what was used in this window still counts.</summary>
    public void Reconfigure(int newLimit, TimeSpan newWindow)
    {
        lock (_gate)
        {
            limit = newLimit;
            window = newWindow;
        }
    }

    public (int Limit, int Remaining, DateTimeOffset Reset) Snapshot()
    {
        lock (_gate)
        {
            Roll(time.GetUtcNow());
            return (limit, Math.Max(0, limit - _used), _windowStart + window);
        }
    }

    /// <summary>Takes one permit; false (with the wait) when the window is used up.</summary>
    public bool TryTake(out TimeSpan retryAfter)
    {
        lock (_gate)
        {
            var now = time.GetUtcNow();
            Roll(now);
            if (_used < limit)
            {
                _used++;
                retryAfter = TimeSpan.Zero;
                return true;
            }
            retryAfter = _windowStart + window - now;
            return false;
        }
    }

    private void Roll(DateTimeOffset now)
    {
        if (now >= _windowStart + window)
        {
            // Align to whole windows since the first, so Reset is stable for every caller in a window.
            var elapsed = (now - _windowStart).Ticks / window.Ticks;
            _windowStart += TimeSpan.FromTicks(elapsed * window.Ticks);
            _used = 0;
        }
    }

    public override TimeSpan? IdleDuration
    {
        get
        {
            lock (_gate)
            {
                var end = _windowStart + window;
                var now = time.GetUtcNow();
                return now >= end ? now - end : null;
            }
        }
    }

    public override RateLimiterStatistics? GetStatistics()
    {
        var (_, remaining, _) = Snapshot();
        return new RateLimiterStatistics { CurrentAvailablePermits = remaining };
    }

    protected override RateLimitLease AttemptAcquireCore(int permitCount)
    {
        if (permitCount == 0)
        {
            return new Lease(true, TimeSpan.Zero);
        }
        return TryTake(out var retry) ? new Lease(true, TimeSpan.Zero) : new Lease(false, retry);
    }

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken) =>
        ValueTask.FromResult(AttemptAcquireCore(permitCount));

    private sealed class Lease(bool acquired, TimeSpan retryAfter) : RateLimitLease
    {
        public override bool IsAcquired => acquired;

        public override IEnumerable<string> MetadataNames => acquired ? [] : [MetadataName.RetryAfter.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            if (!acquired && metadataName == MetadataName.RetryAfter.Name)
            {
                metadata = retryAfter;
                return true;
            }
            metadata = null;
            return false;
        }
    }
}

/// <summary>Window limiters by key (for limits that are not per route, such as magic links per email). Expired windows are dropped.</summary>
internal sealed class KeyedLimiter(int limit, TimeSpan window, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, WindowLimiter> _limiters = new(StringComparer.Ordinal);

    public bool TryTake(string key, out TimeSpan retryAfter)
    {
        if (_limiters.Count > 100_000)
        {
            foreach (var (k, l) in _limiters)
            {
                if (l.IdleDuration is not null)
                {
                    _limiters.TryRemove(k, out _);
                }
            }
        }
        return _limiters.GetOrAdd(key, _ => new WindowLimiter(limit, window, time)).TryTake(out retryAfter);
    }
}

/// <summary>
/// The hub's use of ASP.NET Core's rate limiter: one global limit (per principal when the token is valid, else per IP) and the endpoint
/// categories. Partition keys are "category|subject"; the limiter that decided a request is remembered for the response headers.
/// </summary>
internal sealed class KaiRateLimits
{
    public const string HeaderLimit = "X-RateLimit-Limit";
    public const string HeaderRemaining = "X-RateLimit-Remaining";
    public const string HeaderReset = "X-RateLimit-Reset";
    private const string ItemKey = "kai.ratelimit";
    private const string RetryAfterKey = "kai.retry_after";
    private readonly TimeProvider time;
    private readonly ConcurrentDictionary<string, WindowLimiter> _limiters = new(StringComparer.Ordinal);
    private RateLimitOptions _o;

    public KaiRateLimits(IOptionsMonitor<RateLimitOptions> options, TimeProvider time)
    {
        this.time = time;
        _o = options.CurrentValue;
        // Limits may change at run time (/api/v1/config "rate_limits"): the limiters the framework holds are changed in place.
        options.OnChange(o =>
        {
            _o = o;
            foreach (var (key, limiter) in _limiters)
            {
                limiter.Reconfigure(LimitOf(key[..key.IndexOf('|')]), o.Window);
            }
        });
    }

    public int LimitOf(string category) => category switch
    {
        RateLimitCategories.Auth => _o.Auth,
        RateLimitCategories.TokenVerify => _o.TokenVerify,
        RateLimitCategories.SessionCreate => _o.SessionCreate,
        RateLimitCategories.AgentOperations => _o.AgentOperations,
        RateLimitCategories.SessionQuery => _o.SessionQuery,
        RateLimitCategories.Anonymous => _o.Anonymous,
        _ => _o.Authenticated,
    };

    public static string SubjectOf(HttpContext context) =>
        KaiPrincipal.From(context.User) is { } p ? "p:" + p.Id : "ip:" + (context.Connection.RemoteIpAddress?.ToString() ?? "unknown");

    /// <summary>The global limiter of a request: per principal when its token is valid, else per IP.</summary>
    public WindowLimiter Global(HttpContext context) =>
        Limiter(KaiPrincipal.From(context.User) is null ? RateLimitCategories.Anonymous : RateLimitCategories.Authenticated, context);

    /// <summary>An endpoint category's partition (the framework's policy limiter caches it by key).</summary>
    public RateLimitPartition<string> Partition(string category, HttpContext context)
    {
        var limiter = Limiter(category, context);
        return RateLimitPartition.Get(category + "|" + SubjectOf(context), _ => limiter);
    }

    private WindowLimiter Limiter(string category, HttpContext context)
    {
        var key = category + "|" + SubjectOf(context);
        if (_limiters.Count > MaxLimiters)
        {
            Prune();
        }
        var limiter = _limiters.AddOrUpdate(key, _ => new WindowLimiter(LimitOf(category), _o.Window, time),
            (_, existing) => existing.IdleDuration is null ? existing : new WindowLimiter(LimitOf(category), _o.Window, time));
        // Global runs first, then the endpoint's category: the last one (the narrower) is what the headers report.
        var first = !context.Items.ContainsKey(ItemKey);
        context.Items[ItemKey] = limiter;
        if (first)
        {
            context.Response.OnStarting(static state =>
            {
                var ctx = (HttpContext)state;
                if (ctx.Items[ItemKey] is WindowLimiter l)
                {
                    WriteHeaders(ctx.Response, l);
                }
                // Set here, not when rejecting: the error envelope is written after a Response.Clear().
                if (ctx.Items[RetryAfterKey] is int seconds)
                {
                    ctx.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                }
                return Task.CompletedTask;
            }, context);
        }
        return limiter;
    }

    // One limiter per principal or address that sent a request in the last window; the idle ones go when the table is large, so
    // a flood of distinct addresses costs a bounded table, not a growing one.
    private const int MaxLimiters = 50_000;

    private void Prune()
    {
        foreach (var (key, limiter) in _limiters)
        {
            if (limiter.IdleDuration is not null)
            {
                _limiters.TryRemove(key, out _);
            }
        }
    }

    private static void WriteHeaders(HttpResponse response, WindowLimiter limiter)
    {
        var (limit, remaining, reset) = limiter.Snapshot();
        response.Headers[HeaderLimit] = limit.ToString(CultureInfo.InvariantCulture);
        response.Headers[HeaderRemaining] = remaining.ToString(CultureInfo.InvariantCulture);
        response.Headers[HeaderReset] = reset.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Asks for a <c>Retry-After</c> header on this response (written when the response starts).</summary>
    public static int SetRetryAfter(HttpContext http, TimeSpan wait)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
        http.Items[RetryAfterKey] = seconds;
        return seconds;
    }

    public static ValueTask OnRejectedAsync(OnRejectedContext rejected, CancellationToken ct)
    {
        var http = rejected.HttpContext;
        var retry = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
        var seconds = SetRetryAfter(http, retry);
        // Not audited: an attacker hammering a limit would otherwise turn each refused request into a database write.
        throw new ApiException(ErrorCodes.RateLimitExceeded, $"Too many requests; retry after {seconds} s.",
            new Dictionary<string, object> { ["retry_after"] = seconds });
    }
}

internal static class RateLimitingExtensions
{
    public static IServiceCollection AddKaiRateLimiting(this IServiceCollection services)
    {
        services.AddOptions<RateLimitOptions>().BindConfiguration(RateLimitOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<KaiRateLimits>();
        services.AddOptions<RateLimiterOptions>().Configure<KaiRateLimits>((o, limits) => o.GlobalLimiter = new GlobalRateLimiter(limits));
        services.AddRateLimiter(o =>
        {
            foreach (var category in RateLimitCategories.EndpointCategories)
            {
                o.AddPolicy(category, ctx => ctx.RequestServices.GetRequiredService<KaiRateLimits>().Partition(category, ctx));
            }
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.OnRejected = KaiRateLimits.OnRejectedAsync;
        });
        return services;
    }
}

/// <summary>
/// The global limit, straight on <see cref="KaiRateLimits"/>' own table. <c>PartitionedRateLimiter.Create</c> would keep a second
/// table of the same limiters and walk all of it ten times a second for idle ones: with 10,000 agent links (each upgrade request
/// makes a partition for its principal) that walk alone took about 6 % of the hub's core in the REST-read benchmark (S4). Window
/// limiters need no replenishing timer: each one rolls its window when it is asked.
/// </summary>
internal sealed class GlobalRateLimiter(KaiRateLimits limits) : PartitionedRateLimiter<HttpContext>
{
    public override RateLimiterStatistics? GetStatistics(HttpContext resource) => limits.Global(resource).GetStatistics();

    protected override RateLimitLease AttemptAcquireCore(HttpContext resource, int permitCount) => limits.Global(resource).AttemptAcquire(permitCount);

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(HttpContext resource, int permitCount, CancellationToken cancellationToken) =>
        ValueTask.FromResult(AttemptAcquireCore(resource, permitCount));
}
