using System.Collections.Concurrent;
using System.Diagnostics;
using Kai.Hub.Auth;
using Kai.Hub.Observability;
using Kai.Hub.Security;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Routing;

/// <summary>Times every route and counts what went out, by address kind and frame type (<c>kai_routing_duration_seconds</c>, <c>kai_frames_sent_total</c>).</summary>
internal sealed class MetricsFilter(HubMetrics metrics) : IRouteFilter
{
    public async ValueTask<RouteResult> InvokeAsync(Envelope envelope, RouteStep next, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        var result = await next(envelope, ct);
        metrics.RoutingDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, new KeyValuePair<string, object?>("kind", envelope.Target.KindLabel));
        if (result.Receivers > 0)
        {
            metrics.FramesOut.Add(result.Receivers, new KeyValuePair<string, object?>("type", envelope.Type));
        }
        return result;
    }
}

/// <summary>A span per durable or request envelope (live messages and events are too many to trace one by one), child of the sender's.</summary>
internal sealed class TraceFilter : IRouteFilter
{
    public async ValueTask<RouteResult> InvokeAsync(Envelope envelope, RouteStep next, CancellationToken ct)
    {
        if (envelope.Delivery == Delivery.Live || !HubMetrics.Activities.HasListeners())
        {
            return await next(envelope, ct);
        }
        using var activity = HubMetrics.Activities.StartActivity("kai.route " + envelope.Type, ActivityKind.Producer);
        activity?.SetTag("kai.address", envelope.Target.ToString());
        activity?.SetTag("kai.delivery", envelope.Delivery.ToString().ToLowerInvariant());
        activity?.SetTag("kai.correlation_id", envelope.CorrelationId);
        var result = await next(envelope, ct);
        activity?.SetTag("kai.route.status", result.Status.ToString());
        activity?.SetTag("kai.agent_id", result.AgentId);
        return result;
    }
}

/// <summary>Refuses an envelope whose deadline has passed (the sender learns it as <see cref="RouteStatus.Expired"/>).</summary>
internal sealed class DeadlineFilter(TimeProvider time) : IRouteFilter
{
    public ValueTask<RouteResult> InvokeAsync(Envelope envelope, RouteStep next, CancellationToken ct) =>
        envelope.Deadline is { } deadline && deadline <= time.GetUtcNow() ? ValueTask.FromResult(RouteResult.Expired) : next(envelope, ct);
}

/// <summary>
/// A token bucket per sender over everything it routes, on the hub's clock, so one principal cannot flood the router whatever edge
/// it uses (REST, frames, RPC). The per-link frame limit and the REST limits still apply at the edges; the hub itself is exempt.
/// </summary>
internal sealed class RateLimitFilter(TimeProvider time, IOptionsMonitor<RoutingOptions> options) : IRouteFilter
{
    // Read on each use: these settings may change at run time (/api/v1/config).
    private RoutingOptions _options => options.CurrentValue;
    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);

    public ValueTask<RouteResult> InvokeAsync(Envelope envelope, RouteStep next, CancellationToken ct)
    {
        if (_options.MaxPerSecondPerSender == 0 || envelope.Sender.IsSystem || envelope.FromBackplane)
        {
            return next(envelope, ct);
        }
        var bucket = _buckets.GetOrAdd(envelope.Sender.Id, _ => new Bucket(_options.Burst, time.GetTimestamp()));
        return bucket.TryTake(_options.MaxPerSecondPerSender, _options.Burst, time, out var retry)
            ? next(envelope, ct)
            : ValueTask.FromResult(new RouteResult(RouteStatus.RateLimited, RetryAfter: retry));
    }

    /// <summary>Forgets buckets that are full again (their senders are idle).</summary>
    public void Trim()
    {
        foreach (var (id, bucket) in _buckets)
        {
            if (bucket.IsFull(_options.MaxPerSecondPerSender, _options.Burst, time))
            {
                _buckets.TryRemove(id, out _);
            }
        }
    }

    private sealed class Bucket(double tokens, long at)
    {
        private readonly Lock _gate = new();
        private double _tokens = tokens;
        private long _at = at;

        public bool TryTake(int rate, int burst, TimeProvider time, out TimeSpan retry)
        {
            lock (_gate)
            {
                Refill(rate, burst, time);
                if (_tokens >= 1)
                {
                    _tokens -= 1;
                    retry = TimeSpan.Zero;
                    return true;
                }
                retry = TimeSpan.FromSeconds((1 - _tokens) / rate);
                return false;
            }
        }

        public bool IsFull(int rate, int burst, TimeProvider time)
        {
            lock (_gate)
            {
                Refill(rate, burst, time);
                return _tokens >= burst;
            }
        }

        private void Refill(int rate, int burst, TimeProvider time)
        {
            var now = time.GetTimestamp();
            _tokens = Math.Min(burst, _tokens + (time.GetElapsedTime(_at, now).TotalSeconds * rate));
            _at = now;
        }
    }
}

/// <summary>
/// The one reach check, for REST, frames and services alike (<see cref="Access.MayReach"/>): the sender may route to targets of its
/// own tenant only, admins and the hub anywhere. A denied target looks exactly like a missing one (<see cref="RouteStatus.NotFound"/>),
/// so other tenants' ids cannot be probed; the denial is audited. Topic publications must stay in the sender's tenant and namespaces.
/// </summary>
internal sealed class AuthorizeFilter(AgentDirectory directory, AuditLog audit, IOptions<InvocationPolicyOptions> invocations) : IRouteFilter
{
    public async ValueTask<RouteResult> InvokeAsync(Envelope envelope, RouteStep next, CancellationToken ct)
    {
        var sender = envelope.Sender;
        if (Access.IsUnrestricted(sender) || envelope.FromBackplane)
        {
            return await next(envelope, ct);
        }
        if (envelope.Intent is { } intent && envelope.Target.Kind is AddressKind.Agent or AddressKind.Kah)
        {
            return await InvocationAsync(envelope, intent, next, ct);
        }
        var allowed = envelope.Target.Kind switch
        {
            // One agent: a tenant cached for an agent on another node will do, because the node that holds its link checks again.
            AddressKind.Agent => await directory.TenantOfAsync(envelope.Target.Id, ct, cached: true) is { } t && Access.MayReach(sender, t),
            AddressKind.Observers => await directory.TenantOfAsync(envelope.Target.Id, ct) is { } t1 && Access.MayReach(sender, t1),
            AddressKind.Kah => await directory.ResolveHandleAsync(envelope.Target.Id, ct) is { } id
                && await directory.TenantOfAsync(id, ct, cached: true) is { } t2 && Access.MayReach(sender, t2),
            AddressKind.Capability or AddressKind.User or AddressKind.Session or AddressKind.Stream =>
                envelope.Target.Tenant is { } tenant && Access.MayReach(sender, tenant),
            AddressKind.Topic => envelope.Publication is { } p && Access.MayPublish(sender, envelope.Target.Id, p.OwnerId),
            _ => false,
        };
        if (allowed)
        {
            return await next(envelope, ct);
        }
        await audit.WriteAsync(sender.Id, sender.Role, AuditActions.PermissionDenied, $"route {envelope.Type} to {envelope.Target}", AuditOutcomes.Denied, null,
            new { kind = envelope.Target.KindLabel });
        return RouteResult.NotFound;
    }

    /// <summary>A KAIL invocation of one agent: the invocation policy decides (the intent, the grants of <c>Kai:Kail:Permissions</c>).</summary>
    private async ValueTask<RouteResult> InvocationAsync(Envelope envelope, string intent, RouteStep next, CancellationToken ct)
    {
        var sender = envelope.Sender;
        var agentId = envelope.Target.Kind == AddressKind.Agent ? envelope.Target.Id : await directory.ResolveHandleAsync(envelope.Target.Id, ct);
        var tenant = agentId is null ? null : await directory.TenantOfAsync(agentId, ct);
        var verdict = agentId is null || tenant is null ? InvokeVerdict.Hidden : Access.MayInvoke(sender, tenant, agentId, intent, invocations.Value);
        if (verdict == InvokeVerdict.Allowed)
        {
            return await next(envelope, ct);
        }
        if (tenant is not null)
        {
            await audit.WriteAsync(sender.Id, sender.Role, AuditActions.PermissionDenied, $"invoke {intent} of {envelope.Target}", AuditOutcomes.Denied, null,
                new { kind = envelope.Target.KindLabel, intent });
        }
        return verdict == InvokeVerdict.Forbidden ? new RouteResult(RouteStatus.Forbidden, AgentId: agentId) : RouteResult.NotFound;
    }
}
