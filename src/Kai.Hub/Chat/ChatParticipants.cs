using System.Collections.Concurrent;
using System.Text.Json;
using Kai.Hub.Auth;
using Kai.Hub.Hosting;
using Kai.Hub.Routing;
using Kai.Protocol;
using Kai.Protocol.Chat;
using Kai.Protocol.Frames;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Chat;

/// <summary>
/// The router's delivery target for the agents that exist only inside a chat session: <c>human_{session}</c> (where every answer
/// comes back, handed to <see cref="ChatService.OnAnswerAsync"/>) and the hosted participants <c>ai1_{session}</c> and
/// <c>ai2_{session}</c>, which answer an <c>agent_message</c> with the provider's model (streamed, the chunks broadcast as
/// <c>info</c> frames) and route the answer to the sender. Their tenant is the session's owner, so the router's authorize filter
/// lets only the owner (and admins) reach them.
/// </summary>
internal sealed partial class ChatParticipants(
    IChatStore store, IOptions<Dictionary<string, ProviderOptions>> providers, TimeProvider time, IServiceProvider services, ILogger<ChatParticipants> logger)
    : IDeliveryTarget, IHostedService
{
    private readonly ConcurrentDictionary<string, string> _tenants = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Task, byte> _inFlight = new();
    private readonly CancellationTokenSource _stopping = new();

    private ChatService Chat => services.GetRequiredService<ChatService>();

    public bool Serves(string agentId) => ChatService.SessionOf(agentId) is not null && _tenants.ContainsKey(ChatService.SessionOf(agentId)!);

    public async ValueTask<string?> TenantOfAsync(string agentId, CancellationToken ct) =>
        ChatService.SessionOf(agentId) is { } sid ? (await SessionAsync(sid, ct))?.OwnerId : null;

    public async ValueTask<RouteResult?> TryDeliverAsync(string agentId, Envelope envelope, CancellationToken ct)
    {
        if (ChatService.SessionOf(agentId) is not { } sid || await SessionAsync(sid, ct) is not { } row)
        {
            return null;
        }
        var isHuman = agentId == row.HumanId;
        var participant = row.Agents.Values.FirstOrDefault(a => a.AgentId == agentId && a.IsHosted());
        if (!isHuman && participant is null)
        {
            return null;
        }
        if (!row.IsActive)
        {
            return RouteResult.Unavailable with { AgentId = agentId };
        }
        AgentMessageDelivery? message;
        try
        {
            var frame = Frame.Parse(envelope.Frame);
            message = frame.Type == FrameTypes.AgentMessage ? frame.PayloadAs<AgentMessageDelivery>() : null;
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            message = null;
        }
        if (message is null)
        {
            // Session participants take agent messages only (commands, tasks and the rest have no meaning here).
            return RouteResult.Unavailable with { AgentId = agentId };
        }
        Track(isHuman
            ? Chat.OnAnswerAsync(sid, message, _stopping.Token)
            : AnswerAsync(row, participant!, message));
        return RouteResult.Delivered(1, agentId);
    }

    /// <summary>A hosted participant's turn: the session's history and the prompt to the model, streamed; the answer routed back.</summary>
    private async Task AnswerAsync(ChatSessionRow row, ChatSessionAgent agent, AgentMessageDelivery message)
    {
        var chat = Chat;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token, chat.TurnToken(row.SessionId));
        var ct = cts.Token;
        if (!providers.Value.TryGetValue(agent.Provider, out var provider))
        {
            await chat.OnFailureAsync(row.SessionId, agent, ErrorCodes.LlmUnavailable, $"Provider '{agent.Provider}' is no longer configured.", CancellationToken.None);
            return;
        }
        var prompt = message.Content.ValueKind == JsonValueKind.Object && message.Content.TryGetProperty("prompt", out var p) && p.ValueKind == JsonValueKind.String
            ? p.GetString()! : message.Content.ValueKind == JsonValueKind.String ? message.Content.GetString()! : message.Content.GetRawText();
        var turns = new List<ChatTurn> { new("system", SystemPrompt(row, agent, chat.Options)) };
        foreach (var m in await store.LastMessagesAsync(row.SessionId, chat.Options.HistoryTurns, ct))
        {
            if (m.Type == "text")
            {
                turns.Add(new ChatTurn(m.Sender == agent.AgentId ? "assistant" : "user", m.Content));
            }
        }
        if (turns[^1].Role != "user" || turns[^1].Content != prompt)
        {
            turns.Add(new ChatTurn("user", prompt));
        }
        var key = provider.ApiKeyRef is { } envName ? Environment.GetEnvironmentVariable(envName) : provider.ApiKey;
        var adapter = new OpenAiCompatibleAdapter(new Uri(provider.BaseUrl!), key, agent.Model, provider, time);
        var text = new System.Text.StringBuilder();
        try
        {
            await foreach (var chunk in adapter.StreamAsync(new AdapterInvocation(turns, agent.Model), ct))
            {
                if (chunk.Text.Length == 0)
                {
                    continue;
                }
                text.Append(chunk.Text);
                await chat.ChunkAsync(row, agent, message.CorrelationId ?? "", chunk.Text, chunk.Index, ct);
            }
        }
        catch (LlmException e)
        {
            await chat.OnFailureAsync(row.SessionId, agent, e.Code, e.Message, CancellationToken.None);
            return;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return;
        }
        var answer = JsonSerializer.SerializeToElement(new Dictionary<string, object?> { ["text"] = text.ToString(), ["model"] = agent.Model }, KaiJson.Options);
        var frame = Frame.Encode(FrameTypes.AgentMessage, new AgentMessageDelivery(agent.AgentId, ChatService.MessageType, answer, false, message.CorrelationId),
            timestamp: time.GetUtcNow());
        // The participant is the hub's own: it routes as the hub, to whoever asked (the session's human_ address).
        var routed = await services.GetRequiredService<Router>().RouteAsync(
            new Envelope(FrameTypes.AgentMessage, Address.Agent(message.FromAgent), frame, KaiPrincipal.System) { CorrelationId = message.CorrelationId }, CancellationToken.None);
        if (!routed.IsDelivered)
        {
            Log.Undelivered(logger, agent.AgentId, message.FromAgent, routed.Status.ToString());
        }
    }

    private static string SystemPrompt(ChatSessionRow row, ChatSessionAgent agent, ChatOptions o)
    {
        var personality = string.IsNullOrWhiteSpace(agent.Personality) ? "helpful and professional" : agent.Personality;
        var prompt = $"You are {agent.AgentId}, an AI assistant. Your personality: {personality}.";
        if (row.SessionType == ChatSessionTypes.AgentAgent)
        {
            prompt += " You are talking with another AI agent, not a human. Keep each turn short.";
            if (o.GoalInstruction)
            {
                prompt += $" When the goal of the conversation is reached, include {o.GoalMarker} in your message.";
            }
        }
        return prompt;
    }

    private async ValueTask<ChatSessionRow?> SessionAsync(string sessionId, CancellationToken ct)
    {
        var row = await store.GetSessionAsync(sessionId, ct);
        if (row is not null)
        {
            _tenants[sessionId] = row.OwnerId;
        }
        return row;
    }

    private void Track(Task work)
    {
        _inFlight[work] = 0;
        work.ContinueWith(t =>
        {
            _inFlight.TryRemove(t, out _);
            if (t.Exception is { } e)
            {
                Log.Failed(logger, e.GetBaseException());
            }
        }, TaskScheduler.Default);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        // Turns end on the cancellation; failures were logged by Track. Wait a bounded time, never throw.
        await Task.WhenAny(Task.WhenAll(_inFlight.Keys), Task.Delay(TimeSpan.FromSeconds(10), cancellationToken));
    }

    private static partial class Log
    {
        [LoggerMessage(1211, LogLevel.Warning, "Chat participant {AgentId}: answer to {To} not delivered ({Status})")]
        public static partial void Undelivered(ILogger logger, string agentId, string to, string status);

        [LoggerMessage(1212, LogLevel.Error, "A chat turn failed")]
        public static partial void Failed(ILogger logger, Exception e);
    }
}
