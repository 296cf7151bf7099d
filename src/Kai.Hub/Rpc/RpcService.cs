using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Kai.Hub.Agents;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Observability;
using Kai.Hub.Routing;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;
using Kai.Protocol.Rpc;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;

namespace Kai.Hub.Rpc;

/// <summary>
/// AMRI (seed 001): every transport (<c>POST /api/v1/rpc</c>, <c>/ws/rpc</c>, JSON-RPC) hands its request here, and this ends in the
/// router's request/response call. It validates the envelope, serves the hub's own methods (<c>agent.register</c>), picks the target
/// (the <c>destination</c>, or the routing table), applies the method's deadline and retry policy (Polly retries; another instance of the
/// capability on each retry; the per-target circuit breaker), caps it all by <c>ttl</c>, and answers one response envelope. Every call is
/// a span in the caller's W3C trace and an event on topic <c>telemetry.rpc</c>.
/// </summary>
internal sealed partial class RpcService(
    Router router, AgentDirectory directory, CapabilityResolver resolver, CircuitBreakers breakers, RpcRouteTable routes,
    IOptions<RpcOptions> options, IOptions<HubOptions> hub, IServiceProvider services, IHostEnvironment environment, TimeProvider time,
    ILogger<RpcService> logger)
{
    /// <summary>The topic of per-call telemetry events (seed 001 §8, <c>kOS.telemetry.bus</c>).</summary>
    public const string TelemetryTopic = "telemetry.rpc";

    private readonly RpcOptions _options = options.Value;
    private readonly ConcurrentDictionary<string, InFlight> _inFlight = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ResiliencePipeline<Attempt>> _pipelines = new(StringComparer.Ordinal);
    private readonly bool _development = environment.IsDevelopment();

    [GeneratedRegex(@"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")]
    private static partial Regex MethodName();

    /// <summary>Whether responses carry <c>stack</c> (the Development environment only).</summary>
    public bool IncludeStack => _development;

    /// <summary>Runs one AMRI request for <paramref name="caller"/> and answers its response envelope; never throws for bad input.</summary>
    public async Task<RpcResponse> CallAsync(KaiPrincipal caller, RpcRequest request, string backend, CancellationToken ct)
    {
        var started = time.GetTimestamp();
        var received = time.GetUtcNow();
        if (Validate(request) is { } invalid)
        {
            return Fail(request, caller, ErrorCodes.ValidationError, invalid, started, 0, backend);
        }
        var method = request.Method!;
        var headers = request.Headers ?? new RpcHeaders();
        DateTimeOffset? ttlDeadline = null;
        if (headers.Ttl is { } ttl)
        {
            // The timestamp has whole seconds: it counts from the end of its second, and never from later than the hub received it.
            var sent = request.Timestamp > 0 ? DateTimeOffset.FromUnixTimeSeconds(request.Timestamp).AddMilliseconds(999) : received;
            ttlDeadline = (sent < received ? sent : received).AddMilliseconds(ttl);
            if (ttlDeadline <= received)
            {
                return Fail(request, caller, ErrorCodes.TtlExpired,
                    $"The request expired before it arrived (timestamp {request.Timestamp} + ttl {ttl} ms is past); it was not routed.", started, 0, backend);
            }
        }

        using var activity = StartActivity(caller, request, method, headers);
        var traceId = headers.TraceId ?? (activity is null ? Guid.NewGuid().ToString() : AsUuid(activity.TraceId.ToHexString()));
        RpcResponse response;
        string? target = null;
        var retries = 0;
        try
        {
            if (request.Destination == RpcMethods.Hub || (request.Destination is null && method == RpcMethods.AgentRegister))
            {
                response = await ServeAsync(caller, request, method, started, backend, ct);
            }
            else
            {
                (response, target, retries) = await RouteAsync(caller, request, method, headers with { TraceId = traceId }, ttlDeadline, started, backend, ct);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.Failed(logger, e, method, request.Id!, traceId);
            response = Fail(request, caller, ErrorCodes.InternalError, "The request could not be processed.", started, retries, backend, e.ToString());
        }
        await ReportAsync(caller, request, method, traceId, target, response, activity);
        return response;
    }

    /// <summary>
    /// An agent's <c>rpc_response</c> (from its live link or a hosted agent): handed to the router's waiter when that request is in flight
    /// and this agent may answer it (the agent it was delivered to; for a capability call, an agent of the caller's tenant). False otherwise.
    /// </summary>
    public bool Accept(KaiPrincipal responder, RpcResponse response)
    {
        if (response.Id is not { Length: > 0 } id || !_inFlight.TryGetValue(id, out var entry))
        {
            return false;
        }
        var allowed = entry.AgentId is { } expected
            ? expected == responder.Id
            : responder.IsSystem || Access.MayReach(entry.Caller, responder.OwnerId);
        return allowed && router.Complete(CorrelationKey(id), new Reply(responder.Id, response));
    }

    private async Task<(RpcResponse, string?, int)> RouteAsync(
        KaiPrincipal caller, RpcRequest request, string method, RpcHeaders headers, DateTimeOffset? ttlDeadline, long started, string backend, CancellationToken ct)
    {
        RpcTarget target;
        if (request.Destination is { } destination)
        {
            target = new RpcTarget(false, destination);
        }
        else if (routes.Resolve(caller.OwnerId, method) is { } route)
        {
            target = route.Target;
        }
        else
        {
            return (Fail(request, caller, ErrorCodes.MethodNotFound,
                $"No route serves method '{method}': give a destination, or register an agent with a matching capability (GET /api/v1/rpc/routes shows the table).",
                started, 0, backend), null, 0);
        }
        var id = request.Id!;
        var entry = new InFlight(caller, target.IsCapability || target.Name.StartsWith(AgentDirectory.HandlePrefix, StringComparison.Ordinal) ? null : target.Name);
        if (!_inFlight.TryAdd(id, entry))
        {
            return (Fail(request, caller, ErrorCodes.Conflict, $"A request with id '{id}' is already in flight; ids must be unique.", started, 0, backend), null, 0);
        }
        try
        {
            var (pattern, policy) = PolicyFor(method);
            var failed = new HashSet<string>(StringComparer.Ordinal);
            var attempts = 0;
            var pipeline = _pipelines.GetOrAdd(pattern, _ => Build(policy));
            var outcome = await pipeline.ExecuteAsync(async token =>
            {
                attempts++;
                return await AttemptAsync(caller, request, method, headers, target, policy, ttlDeadline, failed, entry, token);
            }, ct);
            var retries = attempts - 1;
            if (outcome.Reply is { } reply)
            {
                var answer = reply.Response;
                var error = answer.Error is { } e ? e with { Stack = _development ? e.Stack : null } : null;
                return (new RpcResponse(id, reply.AgentId, request.Origin ?? caller.Id, time.GetUtcNow().ToUnixTimeSeconds(),
                    error is null ? answer.Result ?? NullJson : null, error, Metrics(started, retries, backend)), reply.AgentId, retries);
            }
            return (Fail(request, caller, outcome.Code!, outcome.Message!, started, retries, backend), outcome.AgentId, retries);
        }
        finally
        {
            _inFlight.TryRemove(new KeyValuePair<string, InFlight>(id, entry));
        }
    }

    private async ValueTask<Attempt> AttemptAsync(
        KaiPrincipal caller, RpcRequest request, string method, RpcHeaders headers, RpcTarget target, RpcMethodPolicy policy,
        DateTimeOffset? ttlDeadline, HashSet<string> failed, InFlight entry, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        if (ttlDeadline is { } end && end <= now)
        {
            return Attempt.Fail(ErrorCodes.DeadlineExceeded, $"The request's ttl ran out before an agent answered '{method}'.", retryable: false);
        }
        var deadline = now.AddMilliseconds(policy.TimeoutMs);
        if (ttlDeadline < deadline)
        {
            deadline = ttlDeadline.Value;
        }
        Address address;
        HashSet<string>? exclude = null;
        if (target.IsCapability)
        {
            exclude = new HashSet<string>(failed, StringComparer.Ordinal);
            foreach (var c in await directory.CandidatesAsync(caller.OwnerId, target.Name, ct))
            {
                if (breakers.IsOpen(c.AgentId))
                {
                    exclude.Add(c.AgentId);
                }
            }
            address = Address.Capability(target.Name, caller.OwnerId);
        }
        else
        {
            if (!breakers.TryAcquire(target.Name))
            {
                return Attempt.Fail(ErrorCodes.CircuitOpen, $"Agent '{target.Name}' failed repeatedly; its circuit is open. Retry after the break.", retryable: false, target.Name);
            }
            address = target.Name.StartsWith(AgentDirectory.HandlePrefix, StringComparison.Ordinal) ? Address.Kah(target.Name) : Address.Agent(target.Name);
        }
        var delivered = new RpcRequest(request.Id, caller.Id, target.IsCapability ? target.ToString() : target.Name,
            request.Timestamp > 0 ? request.Timestamp : now.ToUnixTimeSeconds(), method, request.Params ?? EmptyObject,
            new RpcHeaders(headers.TraceId, null, caller.OwnerId, (long)(deadline - now).TotalMilliseconds, headers.CorrelationId,
                caller.IsAgent ? caller.Id : null, target.IsCapability ? null : target.Name));
        var envelope = new Envelope(FrameTypes.RpcRequest, address, Frame.Encode(FrameTypes.RpcRequest, delivered, timestamp: now), caller)
        {
            Delivery = Delivery.Request,
            Deadline = deadline,
            CorrelationId = CorrelationKey(request.Id!),
            TraceParent = Activity.Current?.Id,
            Exclude = exclude,
        };
        var attemptStarted = time.GetTimestamp();
        string? agentId = null;
        try
        {
            var (route, reply) = await router.RequestAsync(envelope, ct);
            agentId = route.AgentId;
            switch (route.Status)
            {
                case RouteStatus.Delivered when reply is Reply r:
                    breakers.Record(r.AgentId, success: true);
                    resolver.RecordSuccess(r.AgentId, time.GetElapsedTime(attemptStarted));
                    return new Attempt(r, null, null, false, r.AgentId);
                case RouteStatus.NotFound:
                    return target.IsCapability
                        ? Attempt.Fail(ErrorCodes.AgentUnavailable, $"No agent with capability '{target.Name}' is registered for method '{method}'.", retryable: false)
                        : Attempt.Fail(ErrorCodes.AgentNotFound, $"Agent '{target.Name}' was not found.", retryable: false);
                case RouteStatus.Unavailable:
                    if (agentId is not null)
                    {
                        failed.Add(agentId);
                    }
                    return Attempt.Fail(ErrorCodes.AgentUnavailable, target.IsCapability
                        ? $"No agent with capability '{target.Name}' can take '{method}' now."
                        : $"Agent '{target.Name}' is offline (no live link); RPC requests are not stored.", retryable: true, agentId);
                case RouteStatus.RateLimited:
                    return Attempt.Fail(ErrorCodes.RateLimitExceeded, "This principal routes more than its budget; slow down.", retryable: false);
                case RouteStatus.Expired:
                    return Attempt.Fail(ErrorCodes.DeadlineExceeded, $"The deadline of '{method}' passed before it could be routed.", retryable: false);
                default:
                    return Attempt.Fail(ErrorCodes.InternalError, "The request got an unexpected reply.", retryable: false, agentId);
            }
        }
        catch (TimeoutException)
        {
            var who = agentId ?? entry.AgentId;
            if (who is not null)
            {
                breakers.Record(who, success: false);
                resolver.RecordFailure(who);
                failed.Add(who);
            }
            return Attempt.Fail(ErrorCodes.DeadlineExceeded,
                $"No answer to '{method}' within {(long)(deadline - now).TotalMilliseconds} ms{(who is null ? "" : $" from agent '{who}'")}.", retryable: true, who);
        }
    }

    private ResiliencePipeline<Attempt> Build(RpcMethodPolicy policy)
    {
        var builder = new ResiliencePipelineBuilder<Attempt> { TimeProvider = time };
        if (policy.Retries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions<Attempt>
            {
                MaxRetryAttempts = policy.Retries,
                BackoffType = policy.Backoff == RpcBackoff.Exponential ? DelayBackoffType.Exponential
                    : policy.Backoff == RpcBackoff.Linear ? DelayBackoffType.Linear : DelayBackoffType.Constant,
                Delay = policy.Backoff == RpcBackoff.None ? TimeSpan.Zero : TimeSpan.FromMilliseconds(policy.DelayMs),
                UseJitter = false,
                ShouldHandle = static args => ValueTask.FromResult(args.Outcome.Result is { Retryable: true }),
            });
        }
        return builder.Build();
    }

    /// <summary>The policy of the longest pattern matching <paramref name="method"/> (<c>*</c> last).</summary>
    public (string Pattern, RpcMethodPolicy Policy) PolicyFor(string method)
    {
        string? best = null;
        foreach (var pattern in _options.Methods.Keys)
        {
            var matches = pattern == "*" || pattern == method
                || (pattern.EndsWith(".*", StringComparison.Ordinal) && RpcRouteTable.Matches(pattern[..^2], method) && method.Length > pattern.Length - 2);
            if (matches && (best is null || best == "*" || (pattern != "*" && pattern.Length > best.Length)))
            {
                best = pattern;
            }
        }
        return best is null ? ("*", new RpcMethodPolicy()) : (best, _options.Methods[best]);
    }

    // ---- methods the hub serves ----

    private async Task<RpcResponse> ServeAsync(KaiPrincipal caller, RpcRequest request, string method, long started, string backend, CancellationToken ct)
    {
        if (method != RpcMethods.AgentRegister)
        {
            return Fail(request, caller, ErrorCodes.MethodNotFound, $"The hub serves '{RpcMethods.AgentRegister}' only; '{method}' is not one of its methods.", started, 0, backend);
        }
        if (!caller.IsAgent)
        {
            return Fail(request, caller, ErrorCodes.Forbidden,
                "agent.register is called by an agent with its own token; create agents with POST /api/v1/agents.", started, 0, backend);
        }
        AgentRegisterParams? p;
        try
        {
            p = request.Params is { ValueKind: JsonValueKind.Object } o ? o.Deserialize<AgentRegisterParams>(KaiJson.Options) : null;
        }
        catch (JsonException e)
        {
            return Fail(request, caller, ErrorCodes.ValidationError, $"agent.register params are malformed: {ClientErrors.Describe(e)}.", started, 0, backend);
        }
        var capabilities = p?.Capabilities ?? [];
        var intents = p?.Intents ?? [];
        var problems = new List<string>();
        if (p is null)
        {
            problems.Add("params must be an object {capabilities, intents, metadata{hostname, version, load}}");
        }
        if (capabilities.Count > 64 || capabilities.Any(c => c is null || c.Length > 64 || !MethodName().IsMatch(c)))
        {
            problems.Add("capabilities must be at most 64 names of 1 to 64 characters (letters, digits, '_', '-', dot-separated)");
        }
        if (intents.Count > 32 || intents.Any(i => i is null || i.Length is 0 or > 64))
        {
            problems.Add("intents must be at most 32 strings of 1 to 64 characters");
        }
        if (p?.Metadata is { } m && (m.Hostname?.Length > 255 || m.Version?.Length > 64 || m.Load is < 0 or > 1000))
        {
            problems.Add("metadata: hostname at most 255 characters, version at most 64, load from 0 to 1000");
        }
        if (problems.Count > 0)
        {
            return Fail(request, caller, ErrorCodes.ValidationError, "agent.register: " + string.Join("; ", problems) + ".", started, 0, backend);
        }
        try
        {
            await services.GetRequiredService<AgentService>().UpdateAsync(caller, caller.Id,
                new UpdateAgentRequest(null, null, [.. capabilities.Distinct(StringComparer.Ordinal)], Version: p!.Metadata?.Version), ct);
            if (p.Metadata is { } meta)
            {
                await services.GetRequiredService<AgentPresence>().HeartbeatAsync(caller.Id, null, null,
                    JsonSerializer.Serialize(new { load = meta.Load, hostname = meta.Hostname }, KaiJson.Options), viaLink: false, ct);
            }
        }
        catch (ApiException e)
        {
            return Fail(request, caller, e.Code, e.Message, started, 0, backend);
        }
        routes.Register(caller.OwnerId, caller.Id, capabilities, intents);
        var result = new AgentRegisterResult(caller.Id, true, (int)hub.Value.Links.HeartbeatInterval.TotalSeconds);
        return new RpcResponse(request.Id, RpcMethods.Hub, request.Origin ?? caller.Id, time.GetUtcNow().ToUnixTimeSeconds(),
            JsonSerializer.SerializeToElement(result, KaiJson.Options), null, Metrics(started, 0, backend));
    }

    // ---- envelope checks, errors, telemetry ----

    private string? Validate(RpcRequest r)
    {
        var problems = new List<string>();
        if (r.Id is not { Length: > 0 and <= 128 })
        {
            problems.Add("id is required, a string of 1 to 128 characters");
        }
        if (r.Method is not { Length: > 0 and <= 128 } m || !MethodName().IsMatch(m))
        {
            problems.Add("method is required: dot-separated names of letters, digits, '_' and '-', at most 128 characters");
        }
        if (r.Destination is { } d && d.Length is 0 or > 200)
        {
            problems.Add("destination must be an agent id or kah: handle of 1 to 200 characters");
        }
        if (r.Origin is { Length: > 200 })
        {
            problems.Add("origin must be at most 200 characters");
        }
        if (r.Timestamp < 0)
        {
            problems.Add("timestamp must be Unix seconds (0 or more)");
        }
        if (r.Params is { } p && p.ValueKind is not (JsonValueKind.Object or JsonValueKind.Array or JsonValueKind.Null))
        {
            problems.Add("params must be an object or an array");
        }
        if (r.Headers is { } h)
        {
            if (h.Ttl is { } ttl && (ttl < 1 || ttl > _options.MaxTtlMs))
            {
                problems.Add($"headers.ttl must be from 1 to {_options.MaxTtlMs} milliseconds");
            }
            if (h.TraceId is { Length: 0 or > 128 } || h.CorrelationId is { Length: 0 or > 128 } || h.UserId is { Length: > 128 })
            {
                problems.Add("headers.trace_id, correlation_id and user_id must be 1 to 128 characters");
            }
        }
        return problems.Count == 0 ? null : "Malformed AMRI request envelope: " + string.Join("; ", problems) + ".";
    }

    /// <summary>An error response from the hub (seed 001 §5); <paramref name="stack"/> is kept only in Development.</summary>
    public RpcResponse Fail(RpcRequest? request, KaiPrincipal? caller, string type, string message, long started, int retries, string backend, string? stack = null) =>
        new(request?.Id, RpcMethods.Hub, request?.Origin ?? caller?.Id, time.GetUtcNow().ToUnixTimeSeconds(), null,
            new RpcError(ErrorCodes.HttpStatus(type), message, type, _development ? stack ?? new StackTrace(1, false).ToString() : null),
            Metrics(started, retries, backend));

    private RpcMetrics Metrics(long started, int retries, string backend) =>
        new((long)time.GetElapsedTime(started).TotalMilliseconds, retries, backend);

    private static Activity? StartActivity(KaiPrincipal caller, RpcRequest request, string method, RpcHeaders headers)
    {
        if (!HubMetrics.Activities.HasListeners())
        {
            return null;
        }
        // A trace_id that is a UUID or 32 hex digits becomes the W3C trace-id (RFC: W3C Trace Context §3.2.2.3); the caller's span is unknown.
        ActivityContext parent = default;
        if (headers.TraceId?.Replace("-", "", StringComparison.Ordinal) is { Length: 32 } hex && hex.All(char.IsAsciiHexDigit) && hex.Any(c => c != '0'))
        {
            parent = new ActivityContext(ActivityTraceId.CreateFromString(hex.ToLowerInvariant()), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded, isRemote: true);
        }
        var activity = HubMetrics.Activities.StartActivity("kai.rpc " + method, ActivityKind.Server, parent);
        activity?.SetTag("rpc.system", "amri");
        activity?.SetTag("rpc.method", method);
        activity?.SetTag("kai.rpc.id", request.Id);
        activity?.SetTag("kai.trace_id", headers.TraceId);
        activity?.SetTag("kai.user_id", caller.OwnerId);
        activity?.SetTag("kai.correlation_id", headers.CorrelationId);
        activity?.SetTag("kai.source_agent", caller.IsAgent ? caller.Id : null);
        activity?.SetTag("kai.target_agent", request.Destination);
        return activity;
    }

    private async Task ReportAsync(KaiPrincipal caller, RpcRequest request, string method, string traceId, string? target, RpcResponse response, Activity? activity)
    {
        var outcome = response.Error is null ? "ok" : response.Error.Type ?? "agent_error";
        activity?.SetTag("kai.target_agent", target ?? request.Destination);
        activity?.SetTag("kai.rpc.outcome", outcome);
        activity?.SetTag("kai.rpc.retries", response.Metrics?.Retries);
        if (response.Error is { } error)
        {
            activity?.SetStatus(ActivityStatusCode.Error, error.Type);
            if (error.Type is not null)
            {
                Log.CallFailed(logger, method, request.Id ?? "", traceId, error.Type, caller.Id, target ?? request.Destination ?? "", response.Metrics?.Retries ?? 0);
            }
        }
        try
        {
            await router.PublishAsync(new SystemEvent(TelemetryTopic, null, new
            {
                id = request.Id,
                method,
                latency_ms = response.Metrics?.LatencyMs,
                retries = response.Metrics?.Retries,
                backend = response.Metrics?.Backend,
                outcome,
                trace_id = traceId,
                user_id = caller.OwnerId,
                correlation_id = request.Headers?.CorrelationId,
                source_agent = caller.IsAgent ? caller.Id : null,
                target_agent = target,
            }, caller.OwnerId, caller.IsAgent ? caller.Id : null, target, request.Headers?.CorrelationId, TelemetryTopic), KaiPrincipal.System);
        }
        catch (ApiException)
        {
            // Telemetry never fails the call.
        }
    }

    private static string AsUuid(string hex) => $"{hex[..8]}-{hex[8..12]}-{hex[12..16]}-{hex[16..20]}-{hex[20..]}";

    /// <summary>The router correlation id of an RPC (its own namespace, apart from command ids).</summary>
    private static string CorrelationKey(string id) => "rpc:" + id;

    private static readonly JsonElement NullJson = JsonDocument.Parse("null").RootElement.Clone();
    private static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement.Clone();

    /// <summary>A reply handed to the router's waiter: who answered, and what.</summary>
    private sealed record Reply(string AgentId, RpcResponse Response);

    private sealed record InFlight(KaiPrincipal Caller, string? AgentId);

    /// <summary>One attempt's outcome: a reply, or an error and whether another attempt may help.</summary>
    private sealed record Attempt(Reply? Reply, string? Code, string? Message, bool Retryable, string? AgentId)
    {
        public static Attempt Fail(string code, string message, bool retryable, string? agentId = null) => new(null, code, message, retryable, agentId);
    }

    private static partial class Log
    {
        [LoggerMessage(1301, LogLevel.Error, "RPC {Method} ({Id}, trace {TraceId}) failed in the hub")]
        public static partial void Failed(ILogger logger, Exception e, string method, string id, string traceId);

        [LoggerMessage(1302, LogLevel.Information, "RPC {Method} ({Id}, trace {TraceId}) failed: {Type}; source {Source}, target {Target}, retries {Retries}")]
        public static partial void CallFailed(ILogger logger, string method, string id, string traceId, string type, string source, string target, int retries);
    }
}
