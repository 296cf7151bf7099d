using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using System.Threading.Channels;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Housekeeping;
using Kai.Hub.Routing;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Protocol.Frames;
using Kai.Protocol.Kail;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Invocations;

/// <summary>
/// KAIL invocations (seed 002): validates an <see cref="AgentInvocation"/> against <c>kail_schema.json</c>, refuses replays and stale
/// envelopes (§VIII), then runs it: each step of the chain (target, then <c>chain</c>) is routed through the <see cref="Router"/> as an
/// <c>invocation</c> frame to the agent the handle names, as the caller's principal (the router's authorize filter applies the
/// invocation policy), and waits for its <c>invocation_result</c> under the try's deadline. A failed or timed-out try goes to the
/// backup pool (§IX: the policy's fallbacks for the intent, then agents with a capability named like the intent), up to
/// <see cref="KailOptions.Retries"/> more tries. Every try is a hop of the InvocationStack; the finished invocation is appended to the
/// invocation log.
/// </summary>
internal sealed partial class InvocationService(
    Router router, CapabilityResolver capabilities, IInvocationStore store, Signing.EnvelopeSignatures signatures, IBackplane backplane, IOptions<KailOptions> options, TimeProvider time,
    ILogger<InvocationService> logger, IFileReferences files, Schemas.SchemaCatalog schemas) : IHousekeeping
{
    private readonly KailOptions _options = options.Value;
    private readonly ConcurrentDictionary<string, Run> _runs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Hop> _hops = new(StringComparer.Ordinal);

    /// <summary>The principal's own handle as an invocation sender.</summary>
    public static string HandleOf(KaiPrincipal p) => p.IsAgent ? KailTypes.LocalHandle(p.Id) : KailTypes.UserHandle(p.Id);

    // ---- accept ----

    /// <summary>
    /// Validates and starts one invocation; returns once its first try was routed (or it was refused). <paramref name="callerAgentId"/> is set when an
    /// agent invoked over its link: its stream chunks and result then go to that link.
    /// </summary>
    /// <exception cref="ApiException">VALIDATION_ERROR (schema, naming the failing path), SIGNATURE_REQUIRED, KEY_UNKNOWN, KEY_REVOKED, SIGNATURE_INVALID,
    /// ENVELOPE_EXPIRED, REPLAY_DETECTED, INVOCATION_DEPTH_EXCEEDED,
    /// AGENT_NOT_FOUND (the unknown handle), FORBIDDEN (intent not granted), RATE_LIMIT_EXCEEDED: nothing is kept.</exception>
    public async Task<Run> StartAsync(KaiPrincipal caller, JsonElement raw, string? callerAgentId, CancellationToken ct)
    {
        var problems = KailSchema.Validate(raw);
        if (problems.Count > 0)
        {
            throw new ApiException(ErrorCodes.ValidationError,
                $"The envelope does not match kail_schema.json at {string.Join(", ", problems.Keys)}.", problems);
        }
        var invocation = raw.Deserialize<AgentInvocation>(KaiJson.Options)!;
        // The input schema an agent of the tenant declared for the intent (seed 000 "JSON schema validation for all commands"): before anything is kept.
        if (await schemas.FindAsync(caller.OwnerId, Schemas.SchemaKind.Intent, invocation.Intent, ct) is { Params: { } inputSchema } declared
            && Schemas.SchemaCatalog.Check(inputSchema, invocation.Payload.Input, "/payload/input") is { Count: > 0 } invalid)
        {
            throw new ApiException(ErrorCodes.ValidationError,
                $"payload.input does not match the schema agent '{declared.AgentId}' declared for intent '{invocation.Intent}': {Schemas.SchemaCatalog.Describe(invalid)}.", invalid);
        }
        // Seed 002 §VIII signed envelopes: verified once, here, over the envelope as received (before anything is stored or routed).
        await signatures.VerifyAsync(caller, raw, invocation, ct);
        var sender = HandleOf(caller);
        if (invocation.Sender is { } given && given != sender && !(caller.IsAgent && given == KailTypes.HandlePrefix + caller.Id))
        {
            throw new ApiException(ErrorCodes.ValidationError, $"sender must be the caller's own handle '{sender}' (or be left out).",
                new Dictionary<string, string[]> { ["/sender"] = [$"must be {sender}"] });
        }
        var now = time.GetUtcNow();
        var age = now - invocation.Context.Timestamp;
        if (age > TimeSpan.FromSeconds(_options.ReplayWindow) || -age > TimeSpan.FromSeconds(_options.ClockSkew))
        {
            throw new ApiException(ErrorCodes.EnvelopeExpired,
                $"context.timestamp {invocation.Context.Timestamp:O} is outside the accepted window ({_options.ReplayWindow} s old, {_options.ClockSkew} s ahead) of the hub's clock {now:O}.",
                new Dictionary<string, object> { ["timestamp"] = invocation.Context.Timestamp, ["now"] = now, ["replay_window_seconds"] = _options.ReplayWindow });
        }
        var depth = 1;
        if (invocation.Context.ParentId is { } parentId)
        {
            // Only the agent handling the parent may nest under it, and only while it runs.
            if (!_runs.TryGetValue(parentId, out var parent) || parent.Finished || callerAgentId is null || parent.CurrentAgentId != callerAgentId)
            {
                throw new ApiException(ErrorCodes.ValidationError, $"context.parent_id '{parentId}' is not an invocation this agent is handling now.",
                    new Dictionary<string, string[]> { ["/context/parent_id"] = ["must name a running invocation routed to the calling agent"] });
            }
            depth = parent.Depth + 1;
            if (depth > _options.MaxDepth)
            {
                throw new ApiException(ErrorCodes.InvocationDepthExceeded,
                    $"Invocation '{invocation.Id}' would be nested {depth} deep; the hub refuses more than {_options.MaxDepth} (Kai:Kail:max_depth), which stops loops between agents.",
                    new Dictionary<string, object> { ["depth"] = depth, ["max_depth"] = _options.MaxDepth, ["parent_id"] = parentId });
            }
        }
        // Files the payload references (file_id): checked and recorded first; the agent handling the invocation may read them (issue 13).
        // Recorded under a work id unique to this run, so an envelope that reuses the id (a replay, or the same id after the window)
        // neither adds files to the running invocation nor inherits an earlier one's.
        var workId = InMemoryWorkHolder.NewWorkId(invocation.Id);
        var referenced = await files.ReferenceAsync(caller, WorkKinds.Invocation, workId, caller.OwnerId, "payload",
            raw.TryGetProperty("payload", out var payload) ? payload.GetRawText() : null, ct);
        var run = new Run(invocation with { Sender = sender }, caller, callerAgentId, depth, now, Math.Max(0, _options.MaxBufferedChunks))
        {
            WorkId = workId, Files = referenced,
        };
        if (!_runs.TryAdd(invocation.Id, run))
        {
            await files.ReleaseAsync(referenced, WorkKinds.Invocation, workId);
            throw Replay(invocation.Id);
        }
        try
        {
            if (!await store.TryAddNonceAsync(invocation.Id, now, now.AddSeconds(_options.ReplayWindow), ct))
            {
                throw Replay(invocation.Id);
            }
        }
        catch
        {
            _runs.TryRemove(invocation.Id, out _);
            await files.ReleaseAsync(referenced, WorkKinds.Invocation, workId);
            throw;
        }
        run.Worker = Task.Run(() => ExecuteAsync(run));
        try
        {
            await run.Accepted.Task.WaitAsync(ct);
        }
        catch (ApiException)
        {
            // Refused before anything was delivered: leave nothing behind (the id may be used again).
            _runs.TryRemove(invocation.Id, out _);
            await store.RemoveNonceAsync(invocation.Id, CancellationToken.None);
            throw;
        }
        return run;
    }

    private static ApiException Replay(string id) => new(ErrorCodes.ReplayDetected,
        $"Invocation id '{id}' was already used within the replay window; every envelope needs a fresh id (it is the nonce).",
        new Dictionary<string, string> { ["id"] = id });

    /// <summary>Waits for the outcome of a started invocation.</summary>
    public async Task<InvocationResult> WaitAsync(Run run, CancellationToken ct) => signatures.Sign(await run.Done.Task.WaitAsync(ct));

    /// <summary>An invocation the principal may see (its tenant's), running or logged; null otherwise.</summary>
    public async Task<InvocationResult?> GetAsync(KaiPrincipal principal, string id, CancellationToken ct)
    {
        if (_runs.TryGetValue(id, out var run))
        {
            return Access.MayAccess(principal, run.Caller.OwnerId) ? signatures.Sign(run.Snapshot(_options.TraceStack)) : null;
        }
        if (id.Length > 128 || await store.GetAsync(id, ct) is not { } logged || !Access.MayAccess(principal, logged.OwnerId))
        {
            return null;
        }
        var result = JsonSerializer.Deserialize<InvocationResult>(logged.ResultJson, KaiJson.Options)!;
        return signatures.Sign(_options.TraceStack ? result : result with { Stack = [] });
    }

    /// <summary>A running (or recently finished) invocation the principal may see, for streaming; null otherwise.</summary>
    public Run? Find(KaiPrincipal principal, string id) =>
        _runs.TryGetValue(id, out var run) && Access.MayAccess(principal, run.Caller.OwnerId) ? run : null;

    // ---- answers from agents ----

    /// <summary>
    /// An <c>invocation_result</c> from agent <paramref name="agentId"/> (its link, or a hosted agent): handed to the router's waiter of the try.
    /// Only the agent the try was delivered to may answer it.
    /// </summary>
    /// <exception cref="ApiException">NOT_FOUND when no try of that id waits for this agent; VALIDATION_ERROR for a bad status.</exception>
    public bool Complete(string agentId, InvocationResultPayload result)
    {
        new Validation()
            .Length(result.Id, "id", 1, 128)
            .Length(result.HopId, "hop_id", 1, 160, required: false)
            .Check(result.Status is InvocationStatuses.Completed or InvocationStatuses.Failed, "status", "must be completed or failed")
            .ThrowIfInvalid();
        var hopId = result.HopId ?? (_runs.TryGetValue(result.Id, out var run) ? run.CurrentHopId : null);
        if (hopId is not null && !_hops.ContainsKey(hopId) && backplane.HasPeers)
        {
            // The try may wait on another node (the invocation frame came through the backplane): the reply goes there, and that
            // node checks it is this agent's to answer (AdmitRemote). Accepted here means forwarded.
            router.Complete(hopId, new Reply(agentId, result));
            return true;
        }
        if (hopId is null || !_hops.TryGetValue(hopId, out var hop) || hop.Run.Id != result.Id || (hop.AgentId is { } expected && expected != agentId))
        {
            throw new ApiException(ErrorCodes.NotFound, $"No try of invocation '{result.Id}' waits for an answer from this agent (it may have timed out and moved on).",
                new Dictionary<string, string?> { ["id"] = result.Id, ["hop_id"] = result.HopId });
        }
        return router.Complete(hopId, new Reply(agentId, result));
    }

    /// <summary>
    /// An <c>invocation_result</c> that came from another node through the backplane (InvocationReplyCodec): handed on when the try
    /// <paramref name="hopId"/> waits here and <paramref name="reply"/>'s agent may answer it (the rule of <see cref="Complete"/>); null otherwise.
    /// </summary>
    public object? AdmitRemote(string hopId, Reply reply) =>
        _hops.TryGetValue(hopId, out var hop) && hop.Run.Id == reply.Result.Id && (hop.AgentId is null || hop.AgentId == reply.AgentId) ? reply : null;

    /// <summary>
    /// A <c>stream_chunk</c> from an agent: when its <c>stream_id</c> is a try (or an invocation) this agent is answering, it is relayed to the
    /// invocation's readers and returns the ack; null when it is not an invocation stream (the prompt streams take it).
    /// </summary>
    public object? TryChunk(string agentId, StreamChunkPayload chunk)
    {
        Run? run = null;
        if (chunk.StreamId is { } sid)
        {
            if (_hops.TryGetValue(sid, out var hop) && hop.AgentId == agentId)
            {
                run = hop.Run;
            }
            else if (_runs.TryGetValue(sid, out var r) && r.CurrentAgentId == agentId && !r.Finished)
            {
                run = r;
            }
        }
        if (run is null)
        {
            return null;
        }
        var index = run.AddChunk(chunk.Chunk ?? "", chunk.IsFinal, agentId, time.GetUtcNow(), out var relayed);
        if (run.CallerAgentId is { } caller)
        {
            var frame = Frame.Encode(FrameTypes.StreamChunk, relayed, timestamp: time.GetUtcNow());
            _ = router.RouteAsync(new Envelope(FrameTypes.StreamChunk, Address.Agent(caller), frame, KaiPrincipal.System), CancellationToken.None).AsTask();
        }
        return new Dictionary<string, object?> { ["stream_id"] = chunk.StreamId, ["invocation_id"] = run.Id, ["chunk_index"] = index };
    }

    // ---- running ----

    private async Task ExecuteAsync(Run run)
    {
        InvocationError? error = null;
        try
        {
            var input = run.Invocation.Payload.Input;
            var targets = new List<string> { run.Invocation.Target };
            targets.AddRange(run.Invocation.Chain ?? []);
            for (var step = 0; step < targets.Count && error is null; step++)
            {
                (input, error) = await StepAsync(run, step, targets[step], input);
            }
            if (error is null)
            {
                run.Finish(InvocationStatuses.Completed, input, null, time.GetUtcNow());
            }
            else
            {
                run.Finish(InvocationStatuses.Failed, null, error, time.GetUtcNow());
            }
        }
        catch (Exception e)
        {
            Log.Crashed(logger, e, run.Id);
            run.Accepted.TrySetException(new ApiException(ErrorCodes.InternalError, "The invocation could not be started."));
            run.Finish(InvocationStatuses.Failed, null, new InvocationError(ErrorCodes.InternalError, "The hub failed while running the invocation."), time.GetUtcNow());
        }
        if (!run.Accepted.Task.IsCompleted)
        {
            run.Accepted.TrySetResult();
        }
        // Finished: nobody holds it again, so its file references go (best effort; see IFileReferences.ReleaseAsync).
        await files.ReleaseAsync(run.Files, WorkKinds.Invocation, run.WorkId); // never throws
        if (run.Refused)
        {
            run.Done.TrySetResult(run.Snapshot(includeStack: false));
            return;
        }
        var result = run.Snapshot(includeStack: true);
        try
        {
            await store.AppendAsync(new InvocationLogRecord(run.Id, run.Caller.OwnerId, run.Invocation.Sender!, run.Invocation.Target, run.Invocation.Intent,
                result.Status, result.Error?.Code, result.Agent, run.Depth, JsonSerializer.Serialize(result.Stack, KaiJson.Options),
                JsonSerializer.Serialize(result, KaiJson.Options), run.CreatedAt, result.CompletedAt ?? time.GetUtcNow()), CancellationToken.None);
        }
        catch (Exception e)
        {
            Log.AuditFailed(logger, e, run.Id);
        }
        if (_options.Logging)
        {
            Log.Finished(logger, run.Id, run.Invocation.Intent, result.Status, result.Error?.Code, result.Stack.Count);
        }
        run.Done.TrySetResult(_options.TraceStack ? result : result with { Stack = [] });
        if (run.CallerAgentId is { } caller)
        {
            var frame = Frame.Encode(FrameTypes.InvocationResult, signatures.Sign(_options.TraceStack ? result : result with { Stack = [] }), timestamp: time.GetUtcNow());
            await router.RouteAsync(new Envelope(FrameTypes.InvocationResult, Address.Agent(caller), frame, KaiPrincipal.System), CancellationToken.None);
        }
    }

    /// <summary>One step of the chain: the target, then backups, until one answers or the tries run out.</summary>
    private async Task<(JsonElement Output, InvocationError? Error)> StepAsync(Run run, int step, string target, JsonElement input)
    {
        var tried = new HashSet<string>(StringComparer.Ordinal);
        var triedHandles = new HashSet<string>(StringComparer.Ordinal) { target };
        var backups = new Queue<string>(_options.Fallbacks.TryGetValue(run.Invocation.Intent, out var pool) ? pool.Where(h => h != target) : []);
        var capabilityExhausted = false;
        InvocationError? last = null;
        var inputHash = Sha256(input);
        for (var attempt = 1; attempt <= 1 + _options.Retries; attempt++)
        {
            Address address;
            string label;
            var fallback = attempt > 1;
            if (attempt == 1)
            {
                (address, label) = (Address.Kah(target), target);
            }
            else if (backups.TryDequeue(out var next))
            {
                triedHandles.Add(next);
                (address, label) = (Address.Kah(next), next);
            }
            else if (!capabilityExhausted)
            {
                (address, label) = (Address.Capability(run.Invocation.Intent, run.Caller.OwnerId), "capability:" + run.Invocation.Intent);
            }
            else
            {
                // No other agent: try the target again.
                (address, label, fallback) = (Address.Kah(target), target, false);
            }
            var outcome = await TryAsync(run, step, attempt, address, label, fallback, input, inputHash, tried);
            if (outcome.NobodyElse)
            {
                // No backup agent has a capability named like the intent: this was not a try; the next one goes to the target again.
                capabilityExhausted = true;
                attempt--;
                continue;
            }
            if (outcome.Route is RouteStatus.NotFound or RouteStatus.Forbidden && step == 0 && attempt == 1)
            {
                // The target itself is unknown to this sender, or the intent is not granted: refuse the whole envelope, nothing kept.
                run.Refused = true;
                run.Accepted.TrySetException(outcome.Route == RouteStatus.Forbidden
                    ? new ApiException(ErrorCodes.Forbidden, $"The invocation policy does not let this principal invoke '{run.Invocation.Intent}' of {target}.",
                        new Dictionary<string, string> { ["target"] = target, ["intent"] = run.Invocation.Intent })
                    : new ApiException(ErrorCodes.AgentNotFound, $"No agent answers to handle '{target}'.", new Dictionary<string, string> { ["agent_id"] = target, ["handle"] = target }));
                return (default, outcome.Error);
            }
            if (outcome.Route == RouteStatus.RateLimited && step == 0 && attempt == 1)
            {
                run.Refused = true;
                run.Accepted.TrySetException(new ApiException(ErrorCodes.RateLimitExceeded, "This principal routes more than its budget; slow down.",
                    new Dictionary<string, int> { ["retry_after"] = 1 }));
                return (default, outcome.Error);
            }
            run.Accepted.TrySetResult();
            if (outcome.Error is null)
            {
                return (outcome.Output, null);
            }
            last = outcome.Error;
            if (step > 0 && outcome.Route is RouteStatus.NotFound or RouteStatus.Forbidden && attempt == 1)
            {
                return (default, outcome.Error);
            }
        }
        return (default, last);
    }

    private async Task<TryOutcome> TryAsync(Run run, int step, int attempt, Address address, string label, bool fallback, JsonElement input, string inputHash,
        HashSet<string> tried)
    {
        var hopId = $"{run.Id}.{run.NextHopNumber()}";
        var started = time.GetUtcNow();
        var startedTs = time.GetTimestamp();
        var timeout = run.Invocation.Context.TimeoutMs is { } ms ? TimeSpan.FromMilliseconds(ms) : _options.TryTimeout;
        var deadline = started + timeout;
        var hopIndex = run.AddHop(new InvocationHop(hopId, step, attempt, label, run.Invocation.Intent, fallback, run.Depth, started, null, inputHash, null, InvocationStatuses.Running));
        var sent = run.Invocation with
        {
            Target = address.Kind == AddressKind.Kah ? address.Id : run.Invocation.Target,
            Payload = run.Invocation.Payload with { Input = input, Options = WithDefaultModel(run.Invocation.Payload.Options) },
            Context = run.Invocation.Context with { HopId = hopId, TimeoutMs = (int)timeout.TotalMilliseconds },
            Chain = null,
            // The sender's signature covered the envelope it sent, not this one (hop id, deadline): the hub verified it and does not forward it.
            Signature = null,
            KeyId = null,
        };
        var frame = Frame.Encode(FrameTypes.Invocation, sent, timestamp: started);
        var envelope = new Envelope(FrameTypes.Invocation, address, frame, run.Caller)
        {
            Delivery = Delivery.Request, Deadline = deadline, CorrelationId = hopId, Intent = run.Invocation.Intent,
            Exclude = address.Kind == AddressKind.Capability ? tried : null,
            // Who handles the try is known here, before the frame is written, so the agent may read the payload's files at once.
            OnAgentChosen = agent => run.CurrentAgentId = agent,
        };
        var hop = new Hop(run);
        _hops[hopId] = hop;
        var waiter = router.Pending.Register(hopId);
        run.CurrentHopId = hopId;
        try
        {
            var route = await router.RouteAsync(envelope, CancellationToken.None);
            if (!route.IsDelivered)
            {
                run.CurrentAgentId = null; // chosen, but the frame did not get there: nobody handles this try
            }
            if (!route.IsDelivered && address.Kind == AddressKind.Capability && route.Status is RouteStatus.NotFound or RouteStatus.Unavailable)
            {
                run.RemoveHop(hopIndex);
                return new TryOutcome(route.Status, default, null) { NobodyElse = true };
            }
            if (!route.IsDelivered)
            {
                var error = route.Status switch
                {
                    RouteStatus.Unavailable => new InvocationError(ErrorCodes.AgentUnavailable, $"{label} has nothing connected that can take the invocation now."),
                    RouteStatus.Forbidden => new InvocationError(ErrorCodes.Forbidden, $"The invocation policy does not allow '{run.Invocation.Intent}' of {label}."),
                    RouteStatus.RateLimited => new InvocationError(ErrorCodes.RateLimitExceeded, "The caller routes more than its budget."),
                    RouteStatus.Expired => new InvocationError(ErrorCodes.InvocationTimeout, "The try's deadline passed before it was routed."),
                    _ => new InvocationError(ErrorCodes.AgentNotFound, $"No agent answers to {label}."),
                };
                run.EndHop(hopIndex, Elapsed(startedTs), null, InvocationStatuses.Failed, error, null);
                return new TryOutcome(route.Status, default, error);
            }
            hop.AgentId = route.AgentId;
            run.CurrentAgentId = route.AgentId;
            // Delivered: the caller may stop waiting for acceptance (wait=false, a link's ack).
            run.Accepted.TrySetResult();
            if (route.AgentId is { } delivered)
            {
                tried.Add(delivered);
            }
            var agentHandle = route.AgentId is null ? label : KailTypes.LocalHandle(route.AgentId);
            object reply;
            try
            {
                reply = await router.Pending.WaitAsync(hopId, waiter, deadline, CancellationToken.None);
            }
            catch (TimeoutException)
            {
                var error = new InvocationError(ErrorCodes.InvocationTimeout, $"{agentHandle} did not answer within {timeout.TotalMilliseconds} ms.");
                run.EndHop(hopIndex, Elapsed(startedTs), null, InvocationStatuses.Failed, error, agentHandle);
                if (route.AgentId is { } slow)
                {
                    RecordFailure(slow);
                }
                return new TryOutcome(RouteStatus.Delivered, default, error);
            }
            var answer = (Reply)reply;
            if (answer.AgentId != route.AgentId)
            {
                var error = new InvocationError(ErrorCodes.InvocationFailed, "The answer came from another agent than the one invoked; it was ignored.");
                run.EndHop(hopIndex, Elapsed(startedTs), null, InvocationStatuses.Failed, error, agentHandle);
                return new TryOutcome(RouteStatus.Delivered, default, error);
            }
            if (answer.Result.Status == InvocationStatuses.Completed)
            {
                var output = answer.Result.Output ?? JsonSerializer.SerializeToElement<object?>(null);
                if (await schemas.FindAsync(run.Caller.OwnerId, Schemas.SchemaKind.Intent, run.Invocation.Intent, CancellationToken.None) is { Result: { } outputSchema } declared
                    && Schemas.SchemaCatalog.Check(outputSchema, output, "output") is { Count: > 0 } wrong)
                {
                    // Like a failed try: recorded on the stack, counted against the agent, and a fallback may follow.
                    var mismatch = new InvocationError(ErrorCodes.ResultSchemaMismatch,
                        $"{agentHandle} answered with an output that does not match the schema agent '{declared.AgentId}' declared for '{run.Invocation.Intent}': {Schemas.SchemaCatalog.Describe(wrong)}.");
                    run.EndHop(hopIndex, Elapsed(startedTs), Sha256(output), InvocationStatuses.Failed, mismatch, agentHandle);
                    if (route.AgentId is { } wrongAgent)
                    {
                        RecordFailure(wrongAgent);
                    }
                    return new TryOutcome(RouteStatus.Delivered, default, mismatch);
                }
                run.EndHop(hopIndex, Elapsed(startedTs), Sha256(output), InvocationStatuses.Completed, null, agentHandle);
                run.Agent = agentHandle;
                return new TryOutcome(RouteStatus.Delivered, output, null);
            }
            var failed = answer.Result.Error is { } e
                ? new InvocationError(e.Code is { Length: > 0 and <= 64 } ? e.Code : ErrorCodes.InvocationFailed, e.Message ?? "")
                : new InvocationError(ErrorCodes.InvocationFailed, $"{agentHandle} answered failed.");
            run.EndHop(hopIndex, Elapsed(startedTs), null, InvocationStatuses.Failed, failed, agentHandle);
            if (route.AgentId is { } failing)
            {
                RecordFailure(failing);
            }
            return new TryOutcome(RouteStatus.Delivered, default, failed);
        }
        finally
        {
            router.Pending.Remove(hopId, waiter);
            _hops.TryRemove(hopId, out _);
        }
    }

    private JsonElement? WithDefaultModel(JsonElement? options)
    {
        if (_options.DefaultAgentModel is not { } model || (options is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty("model", out _)))
        {
            return options;
        }
        var map = options is { ValueKind: JsonValueKind.Object } obj
            ? obj.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone(), StringComparer.Ordinal)
            : [];
        map["model"] = model;
        return JsonSerializer.SerializeToElement(map, KaiJson.Options);
    }

    /// <summary>The capability resolver scores agents by recent failures; a failed or timed-out try counts like a failed delivery.</summary>
    private void RecordFailure(string agentId) => capabilities.RecordFailure(agentId);

    private double Elapsed(long startedTs) => Math.Round(time.GetElapsedTime(startedTs).TotalMilliseconds, 3);

    /// <summary>Lower-case hex SHA-256 of a JSON value's UTF-8 text.</summary>
    public static string Sha256(JsonElement value) =>
        Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(value, KaiJson.Options)));

    // ---- housekeeping ----

    /// <summary>Forgets finished runs kept long enough, and nonces whose window ended.</summary>
    public async Task SweepAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var keep = TimeSpan.FromMinutes(_options.KeepFinishedMinutes);
        foreach (var (id, run) in _runs)
        {
            if (run.Finished && run.CompletedAt is { } done && now - done >= keep)
            {
                _runs.TryRemove(new KeyValuePair<string, Run>(id, run));
            }
        }
        await store.PurgeNoncesAsync(now, ct);
    }

    public int Running => _runs.Values.Count(r => !r.Finished);

    /// <summary>A try's answer handed to the router's waiter: who answered, and the result.</summary>
    internal sealed record Reply(string AgentId, InvocationResultPayload Result);

    private sealed record TryOutcome(RouteStatus Route, JsonElement Output, InvocationError? Error)
    {
        /// <summary>A capability fallback found no agent: not a try.</summary>
        public bool NobodyElse { get; init; }
    }

    private sealed class Hop(Run run)
    {
        public Run Run { get; } = run;
        public volatile string? AgentId;
    }

    /// <summary>One invocation while it runs (and a while after).</summary>
    internal sealed class Run(AgentInvocation invocation, KaiPrincipal caller, string? callerAgentId, int depth, DateTimeOffset createdAt, int maxChunks)
    {
        private readonly Lock _gate = new();
        private readonly List<InvocationHop> _stack = [];
        private readonly List<StreamChunkPayload> _chunks = [];
        private readonly List<ChannelWriter<StreamChunkPayload>> _readers = [];
        private int _hopNumber;
        private int _chunkIndex;
        private string _status = InvocationStatuses.Running;
        private JsonElement? _output;
        private InvocationError? _error;

        public string Id => Invocation.Id;
        public AgentInvocation Invocation { get; } = invocation;

        /// <summary>This run as work that references files: <c>{id}#{random}</c>, unique per run (the id alone may come again).</summary>
        public string WorkId { get; init; } = "";

        /// <summary>The files the payload references, as recorded under <see cref="WorkId"/>.</summary>
        public IReadOnlyList<string> Files { get; init; } = [];
        public KaiPrincipal Caller { get; } = caller;
        public string? CallerAgentId { get; } = callerAgentId;
        public int Depth { get; } = depth;
        public DateTimeOffset CreatedAt { get; } = createdAt;
        public DateTimeOffset? CompletedAt { get; private set; }
        public bool Finished { get; private set; }
        public bool Refused { get; set; }
        public string? Agent { get; set; }
        public volatile string? CurrentHopId;
        public volatile string? CurrentAgentId;
        public Task? Worker { get; set; }
        public TaskCompletionSource Accepted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource<InvocationResult> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int NextHopNumber() => Interlocked.Increment(ref _hopNumber);

        public int AddHop(InvocationHop hop)
        {
            lock (_gate)
            {
                _stack.Add(hop);
                return _stack.Count - 1;
            }
        }

        /// <summary>Drops the last hop (a capability fallback that found nobody); only the running step's worker adds hops, so it is the last.</summary>
        public void RemoveHop(int index)
        {
            lock (_gate)
            {
                _stack.RemoveAt(index);
            }
        }

        public void EndHop(int index, double durationMs, string? outputHash, string status, InvocationError? error, string? agent)
        {
            lock (_gate)
            {
                var h = _stack[index];
                _stack[index] = h with { DurationMs = durationMs, OutputSha256 = outputHash, Status = status, Error = error, Agent = agent ?? h.Agent };
            }
        }

        public int AddChunk(string text, bool isFinal, string agentId, DateTimeOffset at, out StreamChunkPayload relayed)
        {
            lock (_gate)
            {
                var index = _chunkIndex++;
                relayed = new StreamChunkPayload(Id, text, index, isFinal, null, agentId);
                if (_chunks.Count < maxChunks)
                {
                    _chunks.Add(relayed);
                }
                foreach (var r in _readers)
                {
                    r.TryWrite(relayed);
                }
                return index;
            }
        }

        /// <summary>A reader of the stream: the chunks so far, then live ones; the channel completes when the invocation ends.</summary>
        public ChannelReader<StreamChunkPayload> Subscribe()
        {
            var channel = Channel.CreateUnbounded<StreamChunkPayload>(new UnboundedChannelOptions { SingleReader = true });
            lock (_gate)
            {
                foreach (var c in _chunks)
                {
                    channel.Writer.TryWrite(c);
                }
                if (Finished)
                {
                    channel.Writer.TryComplete();
                }
                else
                {
                    _readers.Add(channel.Writer);
                }
            }
            return channel.Reader;
        }

        public void Finish(string status, JsonElement? output, InvocationError? error, DateTimeOffset at)
        {
            lock (_gate)
            {
                if (Finished)
                {
                    return;
                }
                _status = status;
                _output = output;
                _error = error;
                CompletedAt = at;
                Finished = true;
                foreach (var r in _readers)
                {
                    r.TryComplete();
                }
                _readers.Clear();
            }
        }

        public InvocationResult Snapshot(bool includeStack)
        {
            lock (_gate)
            {
                return new InvocationResult(KailTypes.InvocationResult, KailTypes.Version, Id, _status, _output, _error, Finished ? Agent : null,
                    includeStack ? [.. _stack] : [], CreatedAt, CompletedAt);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1201, LogLevel.Information, "Invocation {Id} ({Intent}) {Status} {Code} after {Hops} tries")]
        public static partial void Finished(ILogger logger, string id, string intent, string status, string? code, int hops);

        [LoggerMessage(1202, LogLevel.Error, "Invocation {Id} could not be appended to the invocation log")]
        public static partial void AuditFailed(ILogger logger, Exception e, string id);

        [LoggerMessage(1203, LogLevel.Error, "Invocation {Id} failed inside the hub")]
        public static partial void Crashed(ILogger logger, Exception e, string id);
    }
}
