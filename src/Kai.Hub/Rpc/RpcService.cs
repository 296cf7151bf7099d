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
    Schemas.SchemaCatalog catalog, RpcResultCache cache, IBackplane backplane, IOptions<RpcOptions> options, IOptions<HubOptions> hub, IServiceProvider services, IHostEnvironment environment, TimeProvider time,
    IFileReferences files, ILogger<RpcService> logger)
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
        if (response.Id is not { Length: > 0 } id)
        {
            return false;
        }
        if (!_inFlight.TryGetValue(id, out var entry))
        {
            if (!backplane.HasPeers)
            {
                return false;
            }
            // The caller may wait on another node (the request came through the backplane): the reply goes there under both keys
            // it could wait on (a plain call, or this agent's part of a scatter), and that node checks the responder
            // (AdmitRemote). Accepted here means forwarded.
            var forwarded = new Reply(responder.Id, response, responder.OwnerId);
            router.Complete(CorrelationKey(id), forwarded);
            router.Complete(ScatterKey(id, responder.Id), forwarded);
            return true;
        }
        if (entry.Scatter is { } asked)
        {
            // A scatter-gather request waits for each agent it went to under its own key.
            return asked.Contains(responder.Id) && router.Complete(ScatterKey(id, responder.Id), new Reply(responder.Id, response));
        }
        var allowed = entry.AgentId is { } expected
            ? expected == responder.Id
            : responder.IsSystem || Access.MayReach(entry.Caller, responder.OwnerId);
        return allowed && router.Complete(CorrelationKey(id), new Reply(responder.Id, response));
    }

    /// <summary>
    /// A reply that came from another node through the backplane (RpcReplyCodec): handed on when a request of this node waits
    /// under <paramref name="correlationId"/> and the responder may answer it (the same rule as <see cref="Accept"/>); null otherwise.
    /// </summary>
    public object? AdmitRemote(string correlationId, Reply reply)
    {
        if (reply.Response.Id is not { Length: > 0 } id || !_inFlight.TryGetValue(id, out var entry))
        {
            return null;
        }
        if (entry.Scatter is { } asked)
        {
            return correlationId == ScatterKey(id, reply.AgentId) && asked.Contains(reply.AgentId) ? reply : null;
        }
        var allowed = correlationId == CorrelationKey(id) && (entry.AgentId is { } expected
            ? expected == reply.AgentId
            : reply.OwnerId is { } owner && Access.MayReach(entry.Caller, owner));
        return allowed ? reply : null;
    }

    private async Task<(RpcResponse, string?, int)> RouteAsync(
        KaiPrincipal caller, RpcRequest request, string method, RpcHeaders headers, DateTimeOffset? ttlDeadline, long started, string backend, CancellationToken ct)
    {
        RpcTarget target;
        if (request.Destination is { } destination)
        {
            target = destination.StartsWith("capability:", StringComparison.Ordinal) && RpcTarget.Parse(destination) is { } capability
                ? capability : new RpcTarget(false, destination);
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
        var declared = await catalog.FindAsync(caller.OwnerId, Schemas.SchemaKind.Method, method, ct);
        if (declared?.Params is { } paramsSchema && Schemas.SchemaCatalog.Check(paramsSchema, request.Params ?? EmptyObject, "params") is { Count: > 0 } invalid)
        {
            // Seed 000 "JSON schema validation for all commands": refused before anything is routed.
            return (Fail(request, caller, ErrorCodes.ValidationError,
                $"The params of '{method}' do not match the schema agent '{declared.AgentId}' declared: {Schemas.SchemaCatalog.Describe(invalid)}.", started, 0, backend), null, 0);
        }
        if (headers.Aggregate is { } aggregate)
        {
            if (!target.IsCapability)
            {
                return (Fail(request, caller, ErrorCodes.ValidationError,
                    $"headers.aggregate needs a capability target (destination 'capability:<name>' or a capability route), not agent '{target.Name}'.", started, 0, backend), null, 0);
            }
            return await ScatterAsync(caller, request, method, headers, aggregate, target, ttlDeadline, started, backend, ct);
        }
        var callback = headers.Callback ?? (headers.CallbackUrl is not null ? "topic:" + CallbackTopic : null);
        var entry = new InFlight(caller, target.IsCapability || target.Name.StartsWith(AgentDirectory.HandlePrefix, StringComparison.Ordinal) ? null : target.Name);
        if (await BeginAsync(caller, request, entry, started, backend, ct) is { } refused)
        {
            return (refused, null, 0);
        }
        if (callback is not null)
        {
            return (StartCallback(caller, request, method, headers, callback, target, ttlDeadline, entry, started, backend), null, 0);
        }
        var cacheTtl = declared?.CacheTtlMs ?? PolicyFor(method).Policy.CacheTtlMs;
        var cacheKey = cacheTtl > 0 ? RpcResultCache.Key(caller.OwnerId, target.ToString(), method, request.Params) : null;
        if (cacheKey is not null && cache.Get(cacheKey) is { } hit)
        {
            await EndAsync(id, entry);
            var now = time.GetUtcNow();
            return (new RpcResponse(id, hit.AgentId, request.Origin ?? caller.Id, now.ToUnixTimeSeconds(), hit.Result, null,
                Metrics(started, 0, backend) with { Cache = "hit", CacheAgeMs = (long)(now - hit.StoredAt).TotalMilliseconds }), hit.AgentId, 0);
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
                var result = error is null ? answer.Result ?? NullJson : (JsonElement?)null;
                if (result is { } r && declared?.Result is { } resultSchema && Schemas.SchemaCatalog.Check(resultSchema, r, "result") is { Count: > 0 } wrong)
                {
                    return (Fail(request, caller, ErrorCodes.ResultSchemaMismatch,
                        $"Agent '{reply.AgentId}' answered '{method}' with a result that does not match the schema agent '{declared.AgentId}' declared: {Schemas.SchemaCatalog.Describe(wrong)}.",
                        started, retries, backend), reply.AgentId, retries);
                }
                var metrics = Metrics(started, retries, backend);
                if (cacheKey is not null)
                {
                    metrics = metrics with { Cache = "miss" };
                    if (result is { } ok)
                    {
                        cache.Put(cacheKey, reply.AgentId, ok, cacheTtl);
                    }
                }
                return (new RpcResponse(id, reply.AgentId, request.Origin ?? caller.Id, time.GetUtcNow().ToUnixTimeSeconds(),
                    result, error, metrics), reply.AgentId, retries);
            }
            return (Fail(request, caller, outcome.Code!, outcome.Message!, started, retries, backend), outcome.AgentId, retries);
        }
        finally
        {
            await EndAsync(id, entry);
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
            OnAgentChosen = entry.WorkId is null ? null : entry.Hold,
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

    // ---- scatter-gather (headers.aggregate) ----

    private async Task<(RpcResponse, string?, int)> ScatterAsync(
        KaiPrincipal caller, RpcRequest request, string method, RpcHeaders headers, string aggregate, RpcTarget target,
        DateTimeOffset? ttlDeadline, long started, string backend, CancellationToken ct)
    {
        var id = request.Id!;
        var candidates = (await directory.CandidatesAsync(caller.OwnerId, target.Name, ct))
            .Where(c => !breakers.IsOpen(c.AgentId) && resolver.IsHealthy(c.AgentId))
            .Select(c => c.AgentId).Distinct(StringComparer.Ordinal).Take(_options.MaxScatter).ToList();
        var asked = candidates.Count;
        var needed = aggregate switch { Aggregates.First => 1, Aggregates.Quorum => headers.Quorum ?? asked / 2 + 1, _ => asked };
        if (asked == 0 || needed > asked)
        {
            return (Fail(request, caller, ErrorCodes.AgentUnavailable, asked == 0
                ? $"No healthy agent with capability '{target.Name}' can take '{method}' now."
                : $"A quorum of {needed} needs {needed} agents; only {asked} healthy agents have capability '{target.Name}'.", started, 0, backend), null, 0);
        }
        var entry = new InFlight(caller, null, candidates.ToHashSet(StringComparer.Ordinal));
        if (await BeginAsync(caller, request, entry, started, backend, ct) is { } refused)
        {
            return (refused, null, 0);
        }
        var now = time.GetUtcNow();
        var deadline = now.AddMilliseconds(PolicyFor(method).Policy.TimeoutMs);
        if (ttlDeadline < deadline)
        {
            deadline = ttlDeadline.Value;
        }
        using var gather = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var replies = new List<RpcGatherReply>();
        var succeeded = 0;
        try
        {
            var pending = candidates.Select(agentId => AskOneAsync(caller, request, method, headers, target, agentId, deadline, now, gather.Token)).ToList();
            while (pending.Count > 0)
            {
                var done = await Task.WhenAny(pending);
                pending.Remove(done);
                if (await done is { } reply)
                {
                    replies.Add(reply);
                    succeeded += reply.Error is null ? 1 : 0;
                }
                if (aggregate != Aggregates.All && succeeded >= needed)
                {
                    break;
                }
            }
            await gather.CancelAsync(); // the rest are not waited for
            await Task.WhenAll(pending);
        }
        finally
        {
            await EndAsync(id, entry);
        }
        var complete = aggregate == Aggregates.All ? replies.Count == asked : succeeded >= needed;
        if (!complete && (aggregate != Aggregates.All || replies.Count == 0))
        {
            return (Fail(request, caller, ErrorCodes.DeadlineExceeded,
                $"{succeeded} of {asked} agents with capability '{target.Name}' answered '{method}' within the deadline; aggregate '{aggregate}' needs {needed}.",
                started, 0, backend), null, 0);
        }
        var result = JsonSerializer.SerializeToElement(new RpcGatherResult(aggregate, asked, replies.Count, complete, replies), KaiJson.Options);
        return (new RpcResponse(id, target.ToString(), request.Origin ?? caller.Id, time.GetUtcNow().ToUnixTimeSeconds(), result, null,
            Metrics(started, 0, backend)), null, 0);
    }

    /// <summary>One agent's part of a scatter: its reply, or null when it was not reached, timed out or was no longer waited for.</summary>
    private async Task<RpcGatherReply?> AskOneAsync(
        KaiPrincipal caller, RpcRequest request, string method, RpcHeaders headers, RpcTarget target, string agentId,
        DateTimeOffset deadline, DateTimeOffset now, CancellationToken ct)
    {
        var envelope = new Envelope(FrameTypes.RpcRequest, Address.Agent(agentId),
            Frame.Encode(FrameTypes.RpcRequest, Delivered(caller, request, method, headers, target.ToString(), agentId, deadline, now), timestamp: now), caller)
        {
            Delivery = Delivery.Request,
            Deadline = deadline,
            CorrelationId = ScatterKey(request.Id!, agentId),
            TraceParent = Activity.Current?.Id,
        };
        var asked = time.GetTimestamp();
        try
        {
            var (route, reply) = await router.RequestAsync(envelope, ct);
            if (route.Status != RouteStatus.Delivered || reply is not Reply r)
            {
                return null;
            }
            breakers.Record(agentId, success: true);
            resolver.RecordSuccess(agentId, time.GetElapsedTime(asked));
            var error = r.Response.Error is { } e ? e with { Stack = _development ? e.Stack : null } : null;
            return new RpcGatherReply(agentId, error is null ? r.Response.Result ?? NullJson : null, error, (long)time.GetElapsedTime(asked).TotalMilliseconds);
        }
        catch (TimeoutException)
        {
            breakers.Record(agentId, success: false);
            resolver.RecordFailure(agentId);
            return null;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    // ---- callbacks (headers.callback, seed 004 callback_url) ----

    private RpcResponse StartCallback(
        KaiPrincipal caller, RpcRequest request, string method, RpcHeaders headers, string callback, RpcTarget target,
        DateTimeOffset? ttlDeadline, InFlight entry, long started, string backend)
    {
        var id = request.Id!;
        var now = time.GetUtcNow();
        var deadline = ttlDeadline ?? now.AddMilliseconds(_options.CallbackWindowMs);
        var url = CallbackPath(id);
        _ = Task.Run(async () =>
        {
            RpcResponse response;
            try
            {
                Address address = target.IsCapability ? Address.Capability(target.Name, caller.OwnerId)
                    : target.Name.StartsWith(AgentDirectory.HandlePrefix, StringComparison.Ordinal) ? Address.Kah(target.Name) : Address.Agent(target.Name);
                var envelope = new Envelope(FrameTypes.RpcRequest, address, Frame.Encode(FrameTypes.RpcRequest,
                    Delivered(caller, request, method, headers with { CallbackUrl = url }, target.IsCapability ? target.ToString() : target.Name,
                        target.IsCapability ? null : target.Name, deadline, now), timestamp: now), caller)
                {
                    Delivery = Delivery.Request,
                    Deadline = deadline,
                    CorrelationId = CorrelationKey(id),
                    OnAgentChosen = entry.WorkId is null ? null : entry.Hold,
                };
                var (route, reply) = await router.RequestAsync(envelope, CancellationToken.None);
                response = route.Status == RouteStatus.Delivered && reply is Reply r
                    ? new RpcResponse(id, r.AgentId, request.Origin ?? caller.Id, time.GetUtcNow().ToUnixTimeSeconds(),
                        r.Response.Error is null ? r.Response.Result ?? NullJson : null,
                        r.Response.Error is { } e ? e with { Stack = _development ? e.Stack : null } : null, Metrics(started, 0, backend))
                    : Fail(request, caller, route.Status == RouteStatus.NotFound ? ErrorCodes.AgentNotFound : ErrorCodes.AgentUnavailable,
                        $"'{method}' could not be delivered to {target} ({route.Status}).", started, 0, backend);
            }
            catch (TimeoutException)
            {
                response = Fail(request, caller, ErrorCodes.DeadlineExceeded, $"No answer to '{method}' before the callback window closed.", started, 0, backend);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Log.Failed(logger, e, method, id, headers.TraceId ?? "");
                response = Fail(request, caller, ErrorCodes.InternalError, "The request could not be processed.", started, 0, backend, e.ToString());
            }
            finally
            {
                await EndAsync(id, entry);
            }
            await DeliverCallbackAsync(caller, callback, response, headers);
        });
        var accepted = new RpcCallbackAccepted("accepted", id, callback, url, deadline.ToUnixTimeSeconds());
        return new RpcResponse(id, RpcMethods.Hub, request.Origin ?? caller.Id, now.ToUnixTimeSeconds(),
            JsonSerializer.SerializeToElement(accepted, KaiJson.Options), null, Metrics(started, 0, backend));
    }

    private async Task DeliverCallbackAsync(KaiPrincipal caller, string callback, RpcResponse response, RpcHeaders headers)
    {
        try
        {
            if (callback.StartsWith("topic:", StringComparison.Ordinal))
            {
                // Owned by the caller's tenant: only its subscribers see it.
                await router.PublishAsync(new SystemEvent(CallbackTopic, response.Id, response, caller.OwnerId, SourceAgent: response.Origin,
                    CorrelationId: headers.CorrelationId, Topic: callback["topic:".Length..]), KaiPrincipal.System);
                return;
            }
            var name = callback.StartsWith("agent:", StringComparison.Ordinal) ? callback["agent:".Length..] : callback;
            var address = name.StartsWith(AgentDirectory.HandlePrefix, StringComparison.Ordinal) ? Address.Kah(name) : Address.Agent(name);
            // Routed as the caller: the authorize filter decides whether it may reach that agent (another tenant's is NotFound).
            var result = await router.RouteAsync(new Envelope(FrameTypes.RpcResponse, address,
                Frame.Encode(FrameTypes.RpcResponse, response, timestamp: time.GetUtcNow()), caller), CancellationToken.None);
            if (result.Status != RouteStatus.Delivered)
            {
                Log.CallbackUndelivered(logger, response.Id ?? "", callback, result.Status.ToString());
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.CallbackUndelivered(logger, response.Id ?? "", callback, e.Message);
        }
    }

    /// <summary>The request envelope as an agent receives it (seed 001 §4 with the §8 telemetry headers the hub sets).</summary>
    private static RpcRequest Delivered(
        KaiPrincipal caller, RpcRequest request, string method, RpcHeaders headers, string destination, string? targetAgent, DateTimeOffset deadline, DateTimeOffset now) =>
        new(request.Id, caller.Id, destination, request.Timestamp > 0 ? request.Timestamp : now.ToUnixTimeSeconds(), method, request.Params ?? EmptyObject,
            new RpcHeaders(headers.TraceId, null, caller.OwnerId, (long)(deadline - now).TotalMilliseconds, headers.CorrelationId,
                caller.IsAgent ? caller.Id : null, targetAgent, CallbackUrl: headers.CallbackUrl is { } u && u == CallbackPath(request.Id!) ? u : null));

    /// <summary>Where an agent posts a late response (seed 004): <c>/api/v1/callbacks/{id}</c>.</summary>
    public static string CallbackPath(string id) => "/api/v1/callbacks/" + Uri.EscapeDataString(id);

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
        // Schema declarations: `methods` is short for `schemas.methods`. Either replaces what the agent declared (durably); neither keeps it.
        var declarations = p?.Schemas is { } schemas ? schemas with { Methods = schemas.Methods ?? p.Methods } : p?.Methods is { } methods ? new AgentSchemaDeclarations(methods) : null;
        if (p?.Schemas?.Methods is not null && p.Methods is not null)
        {
            problems.Add("give methods or schemas.methods, not both");
        }
        problems.AddRange(catalog.Problems(caller.Id, declarations));
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
        if (declarations is not null)
        {
            await catalog.SetAsync(caller.OwnerId, caller.Id, declarations, ct);
        }
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
            if (h.Aggregate is { } a && a is not (Aggregates.All or Aggregates.First or Aggregates.Quorum))
            {
                problems.Add("headers.aggregate must be all, first or quorum");
            }
            if (h.Quorum is { } q && (q < 1 || q > _options.MaxScatter || h.Aggregate != Aggregates.Quorum))
            {
                problems.Add($"headers.quorum must be from 1 to {_options.MaxScatter}, with aggregate: quorum");
            }
            if (h.Callback is { } c && !IsCallback(c))
            {
                problems.Add("headers.callback must be topic:<name>, agent:<id> or a kah: handle (at most 200 characters)");
            }
            if (h.CallbackUrl is { Length: 0 or > 2048 })
            {
                problems.Add("headers.callback_url must be 1 to 2048 characters");
            }
            if ((h.Callback is not null || h.CallbackUrl is not null) && h.Aggregate is not null)
            {
                problems.Add("headers.callback and headers.aggregate cannot be combined");
            }
        }
        return problems.Count == 0 ? null : "Malformed AMRI request envelope: " + string.Join("; ", problems) + ".";
    }

    private static bool IsCallback(string c) => c.Length <= 200 && (
        (c.StartsWith("topic:", StringComparison.Ordinal) && MethodName().IsMatch(c["topic:".Length..]))
        || (c.StartsWith("agent:", StringComparison.Ordinal) && c.Length > "agent:".Length && !c.Any(char.IsWhiteSpace))
        || (c.StartsWith(AgentDirectory.HandlePrefix, StringComparison.Ordinal) && c.Length > AgentDirectory.HandlePrefix.Length && !c.Any(char.IsWhiteSpace)));

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

    /// <summary>A reply handed to the router's waiter: who answered (and its tenant, for a reply that crosses nodes), and what.</summary>
    internal sealed record Reply(string AgentId, RpcResponse Response, string? OwnerId = null);

    /// <summary>
    /// A request in flight on this node. <see cref="AgentId"/> is the one agent that may answer it (a direct target), null for a
    /// capability or handle target; <see cref="Scatter"/> the agents a scatter-gather asked. When the params reference files
    /// (issue 13), <see cref="WorkId"/> names the call as work (unique per call, so a later call reusing the request id inherits
    /// nothing) and <see cref="Hold"/> records the agent the router handed the current attempt to.
    /// </summary>
    private sealed class InFlight(KaiPrincipal caller, string? agentId, IReadOnlySet<string>? scatter = null)
    {
        private volatile string? _heldBy;

        public KaiPrincipal Caller { get; } = caller;

        public string? AgentId { get; } = agentId;

        public IReadOnlySet<string>? Scatter { get; } = scatter;

        /// <summary>The call as work that references files (<c>{request id}#{random}</c>); null when its params reference none.</summary>
        public string? WorkId { get; set; }

        /// <summary>The files the params reference, as recorded.</summary>
        public IReadOnlyList<string> Files { get; set; } = [];

        /// <summary>The router chose <paramref name="agent"/> for the current attempt (<see cref="Envelope.OnAgentChosen"/>).</summary>
        public void Hold(string agent) => _heldBy = agent;

        public bool IsHeldBy(string agent) => _heldBy == agent || Scatter?.Contains(agent) == true;
    }

    /// <summary>
    /// Registers the request as in flight (its id must be unique while it is), then checks and records the files its params reference
    /// (<see cref="IFileReferences.ReferenceAsync"/>, in the caller's tenant). Null when both hold; otherwise the response that refuses
    /// the call, with nothing routed.
    /// </summary>
    private async Task<RpcResponse?> BeginAsync(KaiPrincipal caller, RpcRequest request, InFlight entry, long started, string backend, CancellationToken ct)
    {
        var id = request.Id!;
        if (!_inFlight.TryAdd(id, entry))
        {
            return Fail(request, caller, ErrorCodes.Conflict, $"A request with id '{id}' is already in flight; ids must be unique.", started, 0, backend);
        }
        if (request.Params is not { ValueKind: JsonValueKind.Object or JsonValueKind.Array } p
            || System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(p).IndexOf("\"file_id"u8) < 0)
        {
            return null; // the common case: no file, no work id, nothing stored
        }
        var workId = InMemoryWorkHolder.NewWorkId(id);
        try
        {
            entry.Files = await files.ReferenceAsync(caller, WorkKinds.Rpc, workId, caller.OwnerId, "params", p.GetRawText(), ct);
            entry.WorkId = workId;
            return null;
        }
        catch (Exception e)
        {
            _inFlight.TryRemove(new KeyValuePair<string, InFlight>(id, entry));
            if (e is ApiException refused)
            {
                return Fail(request, caller, refused.Code, refused.Message, started, 0, backend);
            }
            throw;
        }
    }

    /// <summary>The call ended: it is no longer in flight, and the file references it recorded are forgotten (nobody holds it again).</summary>
    private async Task EndAsync(string id, InFlight entry)
    {
        _inFlight.TryRemove(new KeyValuePair<string, InFlight>(id, entry));
        if (entry.WorkId is { } work)
        {
            await files.ReleaseAsync(entry.Files, WorkKinds.Rpc, work); // never throws
        }
    }

    /// <summary>
    /// The caller's tenant of call <paramref name="workId"/> (<see cref="InFlight.WorkId"/>) while it is in flight on this node and
    /// with <paramref name="agentId"/> (any agent, for null); null otherwise. For its <see cref="InMemoryWorkHolder"/>.
    /// </summary>
    internal string? HeldTenant(string workId, string? agentId) =>
        InMemoryWorkHolder.IdOf(workId) is { } id && _inFlight.TryGetValue(id, out var entry) && entry.WorkId == workId
        && (agentId is null || entry.IsHeldBy(agentId))
            ? entry.Caller.OwnerId
            : null;

    /// <summary>The router correlation id of one agent's part of a scatter-gather request.</summary>
    private static string ScatterKey(string id, string agentId) => CorrelationKey(id) + "@" + agentId;

    /// <summary>The topic (and event type) of callback responses sent to <c>topic:</c> callbacks.</summary>
    public const string CallbackTopic = "rpc.callback";

    /// <summary>The values of <c>headers.aggregate</c>.</summary>
    public static class Aggregates
    {
        public const string All = "all";
        public const string First = "first";
        public const string Quorum = "quorum";
    }

    /// <summary>One attempt's outcome: a reply, or an error and whether another attempt may help.</summary>
    private sealed record Attempt(Reply? Reply, string? Code, string? Message, bool Retryable, string? AgentId)
    {
        public static Attempt Fail(string code, string message, bool retryable, string? agentId = null) => new(null, code, message, retryable, agentId);
    }

    private static partial class Log
    {
        [LoggerMessage(1301, LogLevel.Error, "RPC {Method} ({Id}, trace {TraceId}) failed in the hub")]
        public static partial void Failed(ILogger logger, Exception e, string method, string id, string traceId);

        [LoggerMessage(1303, LogLevel.Warning, "RPC callback of {Id} to {Callback} was not delivered: {Why}")]
        public static partial void CallbackUndelivered(ILogger logger, string id, string callback, string why);

        [LoggerMessage(1302, LogLevel.Information, "RPC {Method} ({Id}, trace {TraceId}) failed: {Type}; source {Source}, target {Target}, retries {Retries}")]
        public static partial void CallFailed(ILogger logger, string method, string id, string traceId, string type, string source, string target, int retries);
    }
}
