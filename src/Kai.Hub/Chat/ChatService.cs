using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Kai.Hub.Agents;
using Kai.Hub.Auth;
using Kai.Hub.Edges;
using Kai.Hub.Errors;
using Kai.Hub.Hosting;
using Kai.Hub.Routing;
using Kai.Protocol;
using Kai.Protocol.Chat;
using Kai.Protocol.Frames;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Chat;

/// <summary>
/// AgentConnect chat sessions (seed 003): creation, ownership, history, the end of a session, and the conductor of each
/// conversation. Every message goes through the <see cref="Router"/>: what the human says is routed to the participant's agent
/// address (a hosted participant is served by <see cref="ChatParticipants"/>, a registry agent by its own link), and every answer
/// comes back to the session's hub-side agent <c>human_{session}</c>, where it is stored, broadcast to the session's group
/// (<see cref="Address.Session"/>), published as <c>chat.message</c> and, between two agents, routed on to the other one.
/// </summary>
internal sealed partial class ChatService(
    IChatStore store, IOptions<ChatOptions> options, IOptions<Dictionary<string, ProviderOptions>> providers, AgentService agents,
    Router router, TimeProvider time, ILogger<ChatService> logger)
{
    public const string MessageType = "chat.message";

    private readonly ChatOptions _o = options.Value;
    private readonly ConcurrentDictionary<string, Exchange> _exchanges = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, ChatLinkContext>> _links = new(StringComparer.Ordinal);

    [GeneratedRegex("^session_[0-9]{14}_[0-9a-f]{8}$")]
    public static partial Regex SessionIdPattern();

    public ChatOptions Options => _o;

    /// <summary>The session id a participant id (<c>human_</c>, <c>ai1_</c>, <c>ai2_</c>) belongs to, or null.</summary>
    public static string? SessionOf(string agentId)
    {
        var underscore = agentId.IndexOf('_', StringComparison.Ordinal);
        if (underscore < 0 || agentId[..underscore] is not ("human" or "ai1" or "ai2"))
        {
            return null;
        }
        var sid = agentId[(underscore + 1)..];
        return SessionIdPattern().IsMatch(sid) ? sid : null;
    }

    // ---- sessions ----

    public async Task<ChatSessionResponse> CreateAsync(KaiPrincipal p, CreateChatSessionRequest? r, CancellationToken ct)
    {
        var v = new Validation();
        if (r is null)
        {
            v.Check(false, "body", "is required: {session_type, agents, interaction_modes?, metadata?}").ThrowIfInvalid();
            throw new InvalidOperationException();
        }
        v.Check(r.SessionType is ChatSessionTypes.HumanAgent or ChatSessionTypes.AgentAgent, "session_type", "must be human_agent or agent_agent");
        var want = r.SessionType == ChatSessionTypes.AgentAgent ? 2 : 1;
        v.Check(r.Agents is { } a && a.Count == want, "agents",
            r.SessionType == ChatSessionTypes.AgentAgent ? "agent_agent takes exactly two agents (agent1, agent2)" : "human_agent takes exactly one agent (ai_agent)");
        v.Object(r.Metadata, "metadata").Unicode(r.Metadata, "metadata");
        v.Check(r.Metadata is not { } md || md.GetRawText().Length <= 16 * 1024, "metadata", "must be at most 16 KiB of JSON");
        v.Check(r.InteractionModes is null || (r.InteractionModes.Count <= 16 && r.InteractionModes.All(m => m is { Length: > 0 and <= 64 })),
            "interaction_modes", "must be at most 16 names of 1 to 64 characters");
        var plans = new List<(string Key, ChatParticipantRequest Spec, string Provider, string Model, string? RegistryId)>();
        foreach (var (key, spec) in r.Agents ?? [])
        {
            var at = $"agents.{key}";
            v.Check(key.Length is >= 1 and <= 64, "agents", "keys must be 1 to 64 characters");
            if (spec is null)
            {
                v.Check(false, at, "must be an object {provider, model?, capabilities?, personality?, metadata?}");
                continue;
            }
            v.Length(spec.Personality, at + ".personality", 1, 4000, required: false)
                .Names(spec.Capabilities, at + ".capabilities", 32, 64)
                .Object(spec.Metadata, at + ".metadata");
            if (spec.Provider is not { Length: > 0 } provider)
            {
                v.Check(false, at + ".provider", $"is required; configured providers: {Known()}, or '{ChatProviderNames.Registry}' with agent_id for an agent of the registry");
                continue;
            }
            if (provider == ChatProviderNames.Registry)
            {
                var id = spec.AgentId ?? spec.Model;
                v.Check(id is { Length: >= 1 and <= 64 }, at + ".agent_id", "names the registry agent (1 to 64 characters) when provider is 'kai'");
                plans.Add((key, spec, provider, id ?? "", id));
                continue;
            }
            if (!providers.Value.TryGetValue(provider, out var po))
            {
                v.Check(false, at + ".provider", $"unknown provider '{provider}'; configured providers: {Known()}, or '{ChatProviderNames.Registry}'");
                continue;
            }
            var model = po.ResolveModel(spec.Model);
            v.Check(model is not null, at + ".model", $"model '{spec.Model}' is not offered by provider '{provider}'; models: {string.Join(", ", po.Models)}");
            plans.Add((key, spec, provider, model ?? "", null));
        }
        v.ThrowIfInvalid();

        // Registry participants must be agents the caller may reach (another tenant's look unknown).
        var registry = new Dictionary<string, Protocol.Rest.AgentView>(StringComparer.Ordinal);
        foreach (var plan in plans.Where(x => x.RegistryId is not null))
        {
            registry[plan.Key] = await agents.GetAsync(p, plan.RegistryId!, ct);
        }

        var now = time.GetUtcNow();
        var sid = $"session_{now.UtcDateTime.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture)}_{Guid.NewGuid().ToString("N")[..8]}";
        var map = new Dictionary<string, ChatSessionAgent>(StringComparer.Ordinal);
        var index = 1;
        foreach (var plan in plans)
        {
            var key = r.SessionType == ChatSessionTypes.HumanAgent ? "ai_agent" : plan.Key;
            var agentId = plan.RegistryId ?? $"ai{index}_{sid}";
            var capabilities = plan.Spec.Capabilities is { Count: > 0 } c ? c
                : plan.RegistryId is not null ? registry[plan.Key].Capabilities : ["conversation"];
            map[key] = new ChatSessionAgent(agentId, plan.Provider, plan.RegistryId is not null ? registry[plan.Key].Type : plan.Model,
                [.. capabilities], plan.Spec.Personality, "active");
            index++;
        }
        var row = new ChatSessionRow(sid, p.OwnerId, r.SessionType!, ChatSessionRow.Active, map, r.Metadata is { ValueKind: JsonValueKind.Object } m ? m.GetRawText() : null, now, null, null);
        await store.CreateSessionAsync(row, ct);
        await router.PublishAsync(new SystemEvent("chat.session.created", sid,
            new { session_id = sid, session_type = row.SessionType, agents = map }, row.OwnerId, CorrelationId: sid), KaiPrincipal.System, ct);
        Log.Created(logger, sid, row.SessionType, row.OwnerId);
        return View(row, null);
    }

    /// <summary>The session if <paramref name="p"/> may see it (other tenants' sessions look unknown); a timed-out one is ended first.</summary>
    public async Task<ChatSessionRow> GetRowAsync(KaiPrincipal p, string sessionId, CancellationToken ct)
    {
        var row = SessionIdPattern().IsMatch(sessionId) ? await store.GetSessionAsync(sessionId, ct) : null;
        if (row is null || !Access.MayAccess(p, row.OwnerId))
        {
            throw new ApiException(ErrorCodes.NotFound, $"Session '{sessionId}' was not found.", new Dictionary<string, string> { ["session_id"] = sessionId });
        }
        if (row.IsActive && time.GetUtcNow() >= row.CreatedAt + _o.SessionTimeout)
        {
            await EndAsync(row, "expired", ct);
            row = await store.GetSessionAsync(sessionId, ct) ?? row;
        }
        return row;
    }

    /// <summary>
    /// A hosted participant (<c>ai1_</c>/<c>ai2_</c> id) of a session <paramref name="p"/> may see, or null. The reference backend
    /// registers session agents as agents, and its collaboration page asks <c>/api/agents/status</c> for both; here they live
    /// in their session, so the agent routes look them up through this.
    /// </summary>
    public async Task<ChatParticipant?> ParticipantAsync(KaiPrincipal p, string agentId, CancellationToken ct)
    {
        if (SessionOf(agentId) is not { } sid || await store.GetSessionAsync(sid, ct) is not { } row || !Access.MayAccess(p, row.OwnerId))
        {
            return null;
        }
        if (row.IsActive && time.GetUtcNow() >= row.CreatedAt + _o.SessionTimeout)
        {
            await EndAsync(row, "expired", ct);
            row = await store.GetSessionAsync(sid, ct) ?? row;
        }
        return row.Agents.FirstOrDefault(kv => kv.Value.IsHosted() && kv.Value.AgentId == agentId) is { Value: not null } hit
            ? await ParticipantOfAsync(row, hit.Value, ct) : null;
    }

    /// <summary>The hosted participants of the active sessions <paramref name="p"/> may see (up to 100 sessions, newest first).</summary>
    public async Task<IReadOnlyList<ChatParticipant>> ActiveParticipantsAsync(KaiPrincipal p, CancellationToken ct)
    {
        var list = new List<ChatParticipant>();
        var now = time.GetUtcNow();
        foreach (var row in await store.ListSessionsAsync(Access.TenantScope(p), activeOnly: true, 100, ct))
        {
            if (now >= row.CreatedAt + _o.SessionTimeout)
            {
                continue; // expired: ended when next looked at
            }
            foreach (var agent in row.Agents.Values.Where(a => a.IsHosted()))
            {
                list.Add(await ParticipantOfAsync(row, agent, ct));
            }
        }
        return list;
    }

    private async Task<ChatParticipant> ParticipantOfAsync(ChatSessionRow row, ChatSessionAgent agent, CancellationToken ct)
    {
        var (count, last) = await store.SenderStatsAsync(row.SessionId, agent.AgentId, ct);
        return new ChatParticipant(row, agent, count, last ?? row.CreatedAt);
    }

    public async Task<ChatSessionResponse> GetAsync(KaiPrincipal p, string sessionId, bool includeMessages, CancellationToken ct)
    {
        var row = await GetRowAsync(p, sessionId, ct);
        return View(row, includeMessages ? [.. (await store.ListMessagesAsync(sessionId, 0, 1000, ct)).Select(ToView)] : null);
    }

    public async Task<ChatMessagePage> MessagesAsync(KaiPrincipal p, string sessionId, long? after, int? limit, CancellationToken ct)
    {
        new Validation().Check(after is null or >= 0, "after", "must be 0 or more").Check(limit is null or (>= 1 and <= 200), "limit", "must be 1 to 200").ThrowIfInvalid();
        await GetRowAsync(p, sessionId, ct);
        var take = limit ?? 50;
        var rows = await store.ListMessagesAsync(sessionId, after ?? 0, take + 1, ct);
        var page = rows.Take(take).ToList();
        return new ChatMessagePage([.. page.Select(ToView)], rows.Count > take ? page[^1].Seq : null, rows.Count > take);
    }

    public async Task<ChatStatusResponse> DeleteAsync(KaiPrincipal p, string sessionId, CancellationToken ct)
    {
        var row = await GetRowAsync(p, sessionId, ct);
        await EndAsync(row, "deleted", ct);
        return new ChatStatusResponse("success", "Session ended");
    }

    /// <summary>Ends a session once: stops its exchange, tells and closes its links, publishes <c>chat.session.ended</c>.</summary>
    private async Task EndAsync(ChatSessionRow row, string reason, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        if (!await store.EndSessionAsync(row.SessionId, reason, now, ct))
        {
            return;
        }
        if (_exchanges.TryRemove(row.SessionId, out var exchange))
        {
            await exchange.Cancel.CancelAsync();
        }
        await BroadcastAsync(row, new ChatFrame(ChatFrameTypes.System, "Session ended.", null, null, now, new Dictionary<string, object?> { ["reason"] = reason }), ct);
        if (_links.TryRemove(row.SessionId, out var links))
        {
            foreach (var link in links.Values)
            {
                link.Close(reason == "expired" ? CloseCodes.SessionExpired : CloseCodes.Normal, "session ended");
            }
        }
        await router.PublishAsync(new SystemEvent("chat.session.ended", row.SessionId, new { session_id = row.SessionId, reason }, row.OwnerId, CorrelationId: row.SessionId),
            KaiPrincipal.System, ct);
        Log.Ended(logger, row.SessionId, reason);
    }

    // ---- links ----

    public async ValueTask<ChatAdmission> AdmitAsync(KaiPrincipal p, string sessionId, CancellationToken ct)
    {
        if (!SessionIdPattern().IsMatch(sessionId))
        {
            return ChatAdmission.Refuse(CloseCodes.InvalidSession, "invalid session id");
        }
        ChatSessionRow row;
        try
        {
            row = await GetRowAsync(p, sessionId, ct);
        }
        catch (ApiException)
        {
            // Missing and someone else's look the same.
            return ChatAdmission.Refuse(CloseCodes.AuthenticationFailed, "no such session for this user");
        }
        if (!row.IsActive)
        {
            return ChatAdmission.Refuse(CloseCodes.SessionExpired, "session ended");
        }
        return new ChatAdmission(row.SessionId, row.OwnerId, row.HumanId, row.CreatedAt + _o.SessionTimeout);
    }

    public async Task OpenedAsync(ChatLinkContext link, CancellationToken ct)
    {
        _links.GetOrAdd(link.SessionId, _ => new(StringComparer.Ordinal))[link.ConnectionId] = link;
        var row = await store.GetSessionAsync(link.SessionId, ct);
        if (row is null)
        {
            return;
        }
        link.Reply(new ChatFrame(ChatFrameTypes.System, "Connected to session.", null, null, time.GetUtcNow(),
            new Dictionary<string, object?> { ["session_id"] = row.SessionId, ["session_type"] = row.SessionType, ["agents"] = row.Agents }));
        if (row.SessionType == ChatSessionTypes.AgentAgent && Metadata(row, "topic") is { } topic && !_exchanges.ContainsKey(row.SessionId))
        {
            await StartExchangeAsync(row, link.Principal, topic, ct);
        }
    }

    public Task ClosedAsync(ChatLinkContext link)
    {
        if (_links.TryGetValue(link.SessionId, out var set))
        {
            set.TryRemove(link.ConnectionId, out _);
        }
        return Task.CompletedTask;
    }

    /// <summary>One client frame of the chat link: <c>text</c> (say something; between agents, the topic) or <c>stop</c>.</summary>
    public async Task HandleAsync(ChatLinkContext link, string type, JsonElement frame, CancellationToken ct)
    {
        var row = await store.GetSessionAsync(link.SessionId, ct);
        if (row is null || !row.IsActive)
        {
            throw new ApiException(ErrorCodes.NotFound, "The session has ended.", new Dictionary<string, string> { ["session_id"] = link.SessionId });
        }
        switch (type)
        {
            case ChatFrameTypes.Text:
                var content = frame.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
                new Validation()
                    .Check(content is { Length: > 0 } && content.Trim().Length > 0, "content", "must be a non-empty string")
                    .Check(content is null || content.Length <= _o.MaxContentLength, "content", $"must be at most {_o.MaxContentLength} characters")
                    .ThrowIfInvalid();
                if (row.SessionType == ChatSessionTypes.HumanAgent)
                {
                    await SayAsync(row, link.Principal, content!, frame.TryGetProperty("structured_data", out var sd) ? sd : null, ct);
                }
                else
                {
                    if (_exchanges.TryGetValue(row.SessionId, out var running) && !running.Finished)
                    {
                        throw new ApiException(ErrorCodes.Conflict, "The agents are already talking; send a stop frame first.");
                    }
                    await StartExchangeAsync(row, link.Principal, content!, ct);
                }
                break;
            case ChatFrameTypes.Stop:
                await StopExchangeAsync(row, "stop", ct);
                break;
            default:
                throw new ApiException(ErrorCodes.ValidationError, $"Message type '{type}' is not accepted from a client; send text, ping or stop.",
                    new Dictionary<string, string> { ["type"] = type });
        }
    }

    // ---- conversation ----

    /// <summary>The human's message: stored, then routed (as the human) to the session's agent; never echoed.</summary>
    private async Task SayAsync(ChatSessionRow row, KaiPrincipal sender, string content, JsonElement? structured, CancellationToken ct)
    {
        var ai = row.Agents.Values.First();
        var message = await RecordAsync(row, ChatFrameTypes.Text, row.HumanId, ai.AgentId, content, new Dictionary<string, object?> { ["role"] = "user" }, broadcast: false, ct);
        await RouteToAsync(row, ai, row.HumanId, content, structured, message.MessageId, sender, ct);
    }

    private async Task StartExchangeAsync(ChatSessionRow row, KaiPrincipal sender, string topic, CancellationToken ct)
    {
        var exchange = new Exchange(MaxTurns(row));
        _exchanges[row.SessionId] = exchange;
        var first = row.Agents.Values.First();
        var message = await RecordAsync(row, ChatFrameTypes.Text, row.HumanId, first.AgentId, topic,
            new Dictionary<string, object?> { ["role"] = "user", ["kind"] = "topic" }, broadcast: false, ct);
        await BroadcastAsync(row, new ChatFrame(ChatFrameTypes.Info, "The agents start talking.", null, null, time.GetUtcNow(),
            new Dictionary<string, object?> { ["max_turns"] = exchange.MaxTurns, ["goal_marker"] = _o.GoalMarker }), ct);
        await RouteToAsync(row, first, row.HumanId, topic, null, message.MessageId, sender, ct);
    }

    private async Task StopExchangeAsync(ChatSessionRow row, string reason, CancellationToken ct)
    {
        if (_exchanges.TryGetValue(row.SessionId, out var exchange) && exchange.Finish())
        {
            await exchange.Cancel.CancelAsync();
            await BroadcastAsync(row, new ChatFrame(ChatFrameTypes.Stop, "The conversation stopped.", null, null, time.GetUtcNow(),
                new Dictionary<string, object?> { ["reason"] = reason, ["turns"] = exchange.Turns }), ct);
        }
        else if (row.SessionType == ChatSessionTypes.HumanAgent && _exchanges.TryRemove(row.SessionId, out var pending))
        {
            await pending.Cancel.CancelAsync();
        }
    }

    /// <summary>The cancellation of a session's in-flight turns (a stop, the end of the session).</summary>
    public CancellationToken TurnToken(string sessionId) => _exchanges.GetOrAdd(sessionId, _ => new Exchange(int.MaxValue)).Cancel.Token;

    /// <summary>Routes a prompt to a participant as an <c>agent_message</c> that asks for an answer to <c>human_{session}</c>.</summary>
    private async Task RouteToAsync(ChatSessionRow row, ChatSessionAgent to, string from, string text, JsonElement? structured, string messageId, KaiPrincipal sender, CancellationToken ct)
    {
        var content = JsonSerializer.SerializeToElement(new Dictionary<string, object?>
        {
            ["prompt"] = text,
            ["thread_id"] = row.SessionId,
            ["session_id"] = row.SessionId,
            ["sender"] = from,
            ["structured_data"] = structured is { ValueKind: JsonValueKind.Object or JsonValueKind.Array } s ? s : null,
        }, KaiJson.Options);
        var frame = Frame.Encode(FrameTypes.AgentMessage, new AgentMessageDelivery(row.HumanId, MessageType, content, true, messageId), timestamp: time.GetUtcNow());
        var routed = await router.RouteAsync(new Envelope(FrameTypes.AgentMessage, Address.Agent(to.AgentId), frame, sender) { CorrelationId = messageId }, ct);
        switch (routed.Status)
        {
            case RouteStatus.Delivered:
                return;
            case RouteStatus.RateLimited:
                throw new ApiException(ErrorCodes.RateLimitExceeded, "This user routes more than its budget; slow down.",
                    new Dictionary<string, int> { ["retry_after"] = (int)Math.Ceiling(routed.RetryAfter?.TotalSeconds ?? 1) });
            case RouteStatus.Unavailable:
                throw new ApiException(ErrorCodes.AgentUnavailable, $"Agent '{to.AgentId}' is not connected; the message was stored but not delivered.",
                    new Dictionary<string, string> { ["agent_id"] = to.AgentId });
            default:
                throw ApiException.AgentNotFound(to.AgentId);
        }
    }

    /// <summary>
    /// An answer routed to <c>human_{session}</c> (from a hosted participant or a registry agent): stored, broadcast as a <c>text</c>
    /// frame from that agent, and between two agents routed on to the other one until the goal marker, the turn limit or a stop.
    /// </summary>
    public async Task OnAnswerAsync(string sessionId, AgentMessageDelivery answer, CancellationToken ct)
    {
        var row = await store.GetSessionAsync(sessionId, ct);
        var from = row?.Agents.Values.FirstOrDefault(a => a.AgentId == answer.FromAgent);
        if (row is null || from is null || !row.IsActive)
        {
            Log.Dropped(logger, sessionId, answer.FromAgent, row is null ? "no such session" : from is null ? "not a participant" : "session ended");
            return;
        }
        var (text, structured, error) = Read(answer.Content);
        var now = time.GetUtcNow();
        if (error is not null)
        {
            await BroadcastAsync(row, ChatFrame.ErrorFrame(ErrorCodes.AgentUnavailable, $"Agent '{from.AgentId}' failed: {error}", new { agent_id = from.AgentId }, now), ct);
            await StopExchangeAsync(row, "agent_error", ct);
            return;
        }
        var others = row.Agents.Values.Where(a => a.AgentId != from.AgentId).ToList();
        var receiver = row.SessionType == ChatSessionTypes.HumanAgent ? row.HumanId : others.FirstOrDefault()?.AgentId ?? row.HumanId;
        var metadata = new Dictionary<string, object?> { ["role"] = "assistant", ["provider"] = from.Provider, ["model"] = from.Model };
        if (structured is { } sd)
        {
            metadata["structured_data"] = sd;
        }
        var message = await RecordAsync(row, ChatFrameTypes.Text, from.AgentId, receiver, text, metadata, broadcast: true, ct);
        if (row.SessionType != ChatSessionTypes.AgentAgent || !_exchanges.TryGetValue(row.SessionId, out var exchange) || exchange.Finished)
        {
            return;
        }
        var turns = exchange.CountTurn();
        if (text.Contains(_o.GoalMarker, StringComparison.Ordinal))
        {
            await EndExchangeAsync(row, exchange, "goal_achieved", ct);
        }
        else if (turns >= exchange.MaxTurns)
        {
            await EndExchangeAsync(row, exchange, "turn_limit", ct);
        }
        else if (time.GetUtcNow() >= row.CreatedAt + _o.SessionTimeout)
        {
            await EndAsync(row, "expired", ct);
        }
        else
        {
            try
            {
                await RouteToAsync(row, others[0], from.AgentId, text, structured, message.MessageId, KaiPrincipal.System, ct);
            }
            catch (ApiException e)
            {
                await BroadcastAsync(row, ChatFrame.ErrorFrame(e.Code, e.Message, e.DetailsElement(), time.GetUtcNow()), ct);
                await EndExchangeAsync(row, exchange, "agent_unavailable", ct);
            }
        }
    }

    /// <summary>A participant could not answer: an error frame, or <c>cooldown</c> when its provider rate-limits; an exchange stops.</summary>
    public async Task OnFailureAsync(string sessionId, ChatSessionAgent agent, string code, string message, CancellationToken ct)
    {
        var row = await store.GetSessionAsync(sessionId, ct);
        if (row is null || !row.IsActive)
        {
            return;
        }
        var now = time.GetUtcNow();
        if (code == ErrorCodes.LlmRateLimited)
        {
            var until = now + _o.Cooldown;
            await BroadcastAsync(row, new ChatFrame(ChatFrameTypes.Cooldown, $"Provider '{agent.Provider}' is rate limited; try again after {until:O}.", agent.AgentId, row.HumanId, now,
                new Dictionary<string, object?> { ["cooldown_until"] = until, ["provider"] = agent.Provider, ["model"] = agent.Model, ["code"] = code }), ct);
        }
        else
        {
            await BroadcastAsync(row, ChatFrame.ErrorFrame(code, message, new { agent_id = agent.AgentId, provider = agent.Provider }, now), ct);
        }
        if (row.SessionType == ChatSessionTypes.AgentAgent && _exchanges.TryGetValue(row.SessionId, out var exchange))
        {
            await EndExchangeAsync(row, exchange, code == ErrorCodes.LlmRateLimited ? "cooldown" : "agent_error", ct);
        }
    }

    /// <summary>Streamed output of a hosted participant, as <c>info</c> frames the reference client ignores and other clients can show.</summary>
    public Task ChunkAsync(ChatSessionRow row, ChatSessionAgent agent, string correlationId, string text, int index, CancellationToken ct) =>
        BroadcastAsync(row, new ChatFrame(ChatFrameTypes.Info, text, agent.AgentId, row.SessionType == ChatSessionTypes.HumanAgent ? row.HumanId : null, time.GetUtcNow(),
            new Dictionary<string, object?> { ["stream"] = true, ["index"] = index, ["reply_to"] = correlationId }), ct);

    private async Task EndExchangeAsync(ChatSessionRow row, Exchange exchange, string reason, CancellationToken ct)
    {
        if (!exchange.Finish())
        {
            return;
        }
        await BroadcastAsync(row, new ChatFrame(ChatFrameTypes.System, reason switch
        {
            "goal_achieved" => "The agents reached their goal.",
            "turn_limit" => $"The conversation reached its limit of {exchange.MaxTurns} turns.",
            _ => "The conversation ended.",
        }, null, null, time.GetUtcNow(), new Dictionary<string, object?> { ["reason"] = reason, ["turns"] = exchange.Turns }), ct);
    }

    /// <summary>Stores a message, broadcasts it to the session's links when asked, and publishes <c>chat.message</c>.</summary>
    private async Task<ChatMessageRow> RecordAsync(
        ChatSessionRow row, string type, string sender, string receiver, string content, Dictionary<string, object?> metadata, bool broadcast, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var message = new ChatMessageRow(0, "msg_" + Guid.CreateVersion7().ToString("N"), row.SessionId, type, sender, receiver, content,
            JsonSerializer.Serialize(metadata, KaiJson.Options), now);
        await store.AppendMessageAsync(message, ct);
        if (broadcast)
        {
            await BroadcastAsync(row, new ChatFrame(type, content, sender, receiver, now, metadata), ct);
        }
        await router.PublishAsync(new SystemEvent("chat.message", row.SessionId,
            new { session_id = row.SessionId, message_id = message.MessageId, type, sender, receiver, content, metadata, timestamp = now }, row.OwnerId,
            SourceAgent: sender, CorrelationId: row.SessionId), KaiPrincipal.System, ct);
        return message;
    }

    /// <summary>Routes a chat frame to every link that follows the session.</summary>
    private async Task BroadcastAsync(ChatSessionRow row, ChatFrame frame, CancellationToken ct) =>
        await router.RouteAsync(new Envelope("chat." + frame.Type, Address.Session(row.SessionId, row.OwnerId), frame.Encode(), KaiPrincipal.System), ct);

    // ---- helpers ----

    /// <summary>The text of an answer: a string, or an object's <c>text</c>/<c>content</c>/<c>prompt</c>; <c>structured_data</c> passes through; <c>error</c> is a failure.</summary>
    private static (string Text, JsonElement? Structured, string? Error) Read(JsonElement content)
    {
        if (content.ValueKind == JsonValueKind.String)
        {
            return (content.GetString() ?? "", null, null);
        }
        if (content.ValueKind != JsonValueKind.Object)
        {
            return (content.GetRawText(), null, null);
        }
        JsonElement? structured = content.TryGetProperty("structured_data", out var s) && s.ValueKind is JsonValueKind.Object or JsonValueKind.Array ? s.Clone() : null;
        if (content.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String && !content.TryGetProperty("text", out _))
        {
            return ("", structured, e.GetString());
        }
        foreach (var name in (string[])["text", "content", "prompt"])
        {
            if (content.TryGetProperty(name, out var t) && t.ValueKind == JsonValueKind.String)
            {
                return (t.GetString()!, structured, null);
            }
        }
        return (content.GetRawText(), structured, null);
    }

    private int MaxTurns(ChatSessionRow row) =>
        int.TryParse(Metadata(row, "max_turns"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= 1 ? Math.Min(n, _o.MaxTurns) : _o.MaxTurns;

    private static string? Metadata(ChatSessionRow row, string name)
    {
        if (row.MetadataJson is null)
        {
            return null;
        }
        using var doc = JsonDocument.Parse(row.MetadataJson);
        return doc.RootElement.TryGetProperty(name, out var v) ? v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Number => v.GetRawText(),
            _ => null,
        } : null;
    }

    private string Known() => providers.Value.Count == 0 ? "(none; add Kai:Providers)" : string.Join(", ", providers.Value.Keys.Order(StringComparer.Ordinal));

    public static ChatSessionResponse View(ChatSessionRow row, IReadOnlyList<ChatMessageView>? messages) =>
        new(row.SessionId, "system", row.CreatedAt, row.Status, row.SessionType, row.Agents,
            row.MetadataJson is null ? null : JsonDocument.Parse(row.MetadataJson).RootElement.Clone(), messages, row.EndedAt);

    public static ChatMessageView ToView(ChatMessageRow m) =>
        new(m.MessageId, m.Type, m.Content, m.Sender, m.Receiver, m.CreatedAt, m.MetadataJson is null ? null : JsonDocument.Parse(m.MetadataJson).RootElement.Clone());

    /// <summary>The state of a session's conversation on this node: turns taken, whether it finished, and the cancellation of its turns.</summary>
    private sealed class Exchange(int maxTurns)
    {
        private int _turns;
        private int _finished;

        public int MaxTurns { get; } = maxTurns;

        public int Turns => Volatile.Read(ref _turns);

        public bool Finished => Volatile.Read(ref _finished) != 0;

        public CancellationTokenSource Cancel { get; } = new();

        public int CountTurn() => Interlocked.Increment(ref _turns);

        /// <summary>Marks it finished; true the first time.</summary>
        public bool Finish() => Interlocked.Exchange(ref _finished, 1) == 0;
    }

    private static partial class Log
    {
        [LoggerMessage(1201, LogLevel.Information, "Chat session {SessionId} ({Type}) created for {OwnerId}")]
        public static partial void Created(ILogger logger, string sessionId, string type, string ownerId);

        [LoggerMessage(1202, LogLevel.Information, "Chat session {SessionId} ended: {Reason}")]
        public static partial void Ended(ILogger logger, string sessionId, string reason);

        [LoggerMessage(1203, LogLevel.Warning, "Chat session {SessionId}: message from {AgentId} dropped: {Reason}")]
        public static partial void Dropped(ILogger logger, string sessionId, string agentId, string reason);
    }
}
