using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Kai.Hub.Agents;
using Kai.Hub.Auth;
using Kai.Hub.Commands;
using Kai.Hub.Errors;
using Kai.Hub.Routing;
using Kai.Hub.Storage;
using Kai.Hub.Tasks;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Protocol.Frames;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Hosting;

/// <summary>
/// Runs the hub's hosted agents (issue 11 item 15): starts the <c>auto_start</c> ones at boot and on creation, restarts
/// and stops them, keeps their presence (active and linked while running, so the offline sweep and task dispatch treat
/// them like a connected agent), and is the router's delivery target for them (<see cref="IDeliveryTarget"/>): it takes the
/// frames the router would write to a live link and hands what the agents send back to the command, task and message services,
/// routing as the agent itself so the router's reach policy applies as on a link.
/// </summary>
internal sealed partial class HostedAgentSupervisor(
    IAgentStore hub, IHostedAgentStore store, IOptions<Dictionary<string, ProviderOptions>> providers, IOptions<HostingOptions> hostingOptions,
    IDataProtectionProvider protection, TimeProvider time, IServiceProvider services, ILogger<HostedAgentSupervisor> logger)
    : IHostedService, IDeliveryTarget, IHostedAgentHooks
{
    public const string LlmType = "llm";
    public const string ChatCapability = "llm.chat";

    private readonly ConcurrentDictionary<string, Running> _running = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly HostingOptions _options = hostingOptions.Value;
    private readonly CancellationTokenSource _stopping = new();

    [GeneratedRegex("^[A-Z_][A-Z0-9_]{0,127}$")]
    private static partial Regex EnvName();

    private IDataProtector Protector(string agentId) => protection.CreateProtector("Kai.Hub.Hosting.ApiKey", agentId);

    // ---- lifetime ----

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var agentId in await store.ListAutoStartAsync(cancellationToken))
        {
            await StartAgentAsync(agentId, throwOnError: false, cancellationToken);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        foreach (var agentId in _running.Keys.ToList())
        {
            await StopAgentAsync(agentId, "hub stopping", CancellationToken.None);
        }
    }

    public bool IsRunning(string agentId) => _running.ContainsKey(agentId);

    /// <summary>The running agents whose type matches (for the adapters' health probes).</summary>
    public IReadOnlyList<string> RunningOfType(Func<string, bool> type) =>
        [.. _running.Values.Where(r => r.Agent is Adapters.AdapterAgent a && type(a.Type)).Select(r => r.Agent.AgentId)];

    // ---- IDeliveryTarget ----

    public bool Serves(string agentId) => _running.ContainsKey(agentId);

    /// <summary>Queues the frame a live link would have received; a stopped agent is Unavailable.</summary>
    public ValueTask<RouteResult?> TryDeliverAsync(string agentId, Envelope envelope, CancellationToken ct)
    {
        if (!_running.TryGetValue(agentId, out var r))
        {
            return ValueTask.FromResult<RouteResult?>(null);
        }
        return ValueTask.FromResult<RouteResult?>(r.Queue.Writer.TryWrite(envelope.Frame) ? RouteResult.Delivered(1, agentId) : RouteResult.Unavailable with { AgentId = agentId });
    }

    // ---- IHostedAgentHooks ----

    public bool IsHostedType(string? type) => string.Equals(type, LlmType, StringComparison.Ordinal) || (type is not null && Adapters.AdapterAgents.Types.Contains(type));

    private Adapters.AdapterAgents ExternalAgents => services.GetRequiredService<Adapters.AdapterAgents>();

    public async Task<HostedAgentPlan> PrepareAsync(KaiPrincipal owner, string type, JsonElement? config, bool? autoStart, string? healthCheckUrl, CancellationToken ct)
    {
        if (type != LlmType)
        {
            // webhook, customapi, shell (Hosting/Adapters): who may, validated, URLs (config.url and health_check_url) checked by the
            // SSRF guard, before anything is stored.
            var prepared = await ExternalAgents.PrepareAsync(owner, type, config, _options.AgentKeyRefPrefix, healthCheckUrl, ct);
            return new HostedAgentPlan(prepared.ConfigJson, [], new PlanState(prepared.Secret, prepared.UsesSecretRef, autoStart));
        }
        return PrepareLlm(config, autoStart);
    }

    private HostedAgentPlan PrepareLlm(JsonElement? config, bool? autoStart)
    {
        var v = new Validation();
        if (config is not { ValueKind: JsonValueKind.Object } c)
        {
            v.Check(false, "config", "is required for an llm agent: {provider, model?, system_prompt?, temperature?, max_tokens?, api_key_ref? | api_key?, base_url?}");
            v.ThrowIfInvalid();
            throw new InvalidOperationException();
        }
        var all = providers.Value;
        var providerName = v.OptionalString(c, "provider", 64);
        ProviderOptions? provider = null;
        if (providerName is null)
        {
            v.Check(false, "config.provider", $"is required; configured providers: {Known(all)}");
        }
        else if (!all.TryGetValue(providerName, out provider))
        {
            v.Check(false, "config.provider", $"unknown provider '{providerName}'; configured providers: {Known(all)}");
        }
        var requestedModel = v.OptionalString(c, "model", 128);
        string? model = null;
        if (provider is not null)
        {
            model = provider.ResolveModel(requestedModel);
            v.Check(model is not null, "config.model", $"model '{requestedModel}' is not offered by provider '{providerName}'; models: {string.Join(", ", provider.Models)}");
        }
        var baseUrl = v.OptionalString(c, "base_url", 2048);
        if (baseUrl is not null)
        {
            v.Check(Uri.TryCreate(baseUrl, UriKind.Absolute, out var u) && u.Scheme is "http" or "https", "config.base_url", "must be an absolute http or https URL");
            v.Check(provider is null || provider.AllowAgentBaseUrl, "config.base_url",
                $"provider '{providerName}' does not allow agents to set their own base_url (allow_agent_base_url)");
        }
        var keyRef = v.OptionalString(c, "api_key_ref", 128);
        if (keyRef is not null)
        {
            v.Check(EnvName().IsMatch(keyRef) && keyRef.StartsWith(_options.AgentKeyRefPrefix, StringComparison.Ordinal), "config.api_key_ref",
                $"must be the name of an environment variable starting with {_options.AgentKeyRefPrefix} (upper-case letters, digits and '_')");
        }
        var apiKey = v.OptionalString(c, "api_key", 4096);
        v.Check(apiKey is null || keyRef is null, "config.api_key", "give api_key or api_key_ref, not both");
        var systemPrompt = v.OptionalString(c, "system_prompt", 32 * 1024);
        double? temperature = null;
        if (c.TryGetProperty("temperature", out var t) && t.ValueKind != JsonValueKind.Null)
        {
            v.Check(t.ValueKind == JsonValueKind.Number && t.GetDouble() is >= 0 and <= 2, "config.temperature", "must be a number from 0 to 2");
            temperature = t.ValueKind == JsonValueKind.Number ? t.GetDouble() : null;
        }
        int? maxTokens = null;
        if (c.TryGetProperty("max_tokens", out var mt) && mt.ValueKind != JsonValueKind.Null)
        {
            v.Check(mt.ValueKind == JsonValueKind.Number && mt.TryGetInt32(out var n) && n is >= 1 and <= 1_000_000, "config.max_tokens", "must be an integer from 1 to 1000000");
            maxTokens = mt.ValueKind == JsonValueKind.Number && mt.TryGetInt32(out var m) ? m : null;
        }
        v.ThrowIfInvalid();
        // What is stored and shown: never the inline key.
        var stored = new Dictionary<string, object?> { ["provider"] = providerName, ["model"] = model };
        if (baseUrl is not null) { stored["base_url"] = baseUrl; }
        if (keyRef is not null) { stored["api_key_ref"] = keyRef; }
        if (systemPrompt is not null) { stored["system_prompt"] = systemPrompt; }
        if (temperature is not null) { stored["temperature"] = temperature; }
        if (maxTokens is not null) { stored["max_tokens"] = maxTokens; }
        return new HostedAgentPlan(JsonSerializer.Serialize(stored), [ChatCapability], new PlanState(apiKey, keyRef is not null, autoStart));
    }

    public async Task CommitAsync(AgentRecord agent, HostedAgentPlan plan, CancellationToken ct)
    {
        var state = (PlanState)plan.State;
        var existing = await store.GetAsync(agent.AgentId, ct);
        var protectedKey = state.ApiKey is not null ? Protector(agent.AgentId).Protect(state.ApiKey)
            : state.UsesKeyRef ? null
            : existing?.ProtectedApiKey; // a config update without a key keeps the stored one
        var autoStart = state.AutoStart ?? existing?.AutoStart ?? false;
        await store.UpsertAsync(new HostedAgentRow(agent.AgentId, autoStart, protectedKey), time.GetUtcNow(), ct);
        if (autoStart || IsRunning(agent.AgentId))
        {
            await StopAgentAsync(agent.AgentId, "restarting", ct);
            await StartAgentAsync(agent.AgentId, throwOnError: true, ct);
        }
    }

    public async Task DeletedAsync(string agentId, CancellationToken ct)
    {
        await StopAgentAsync(agentId, "agent deleted", ct);
        await store.DeleteAsync(agentId, ct);
    }

    public async Task<bool> TryRestartAsync(AgentRecord agent, CancellationToken ct)
    {
        if (!IsHostedType(agent.Type))
        {
            return false;
        }
        await StopAgentAsync(agent.AgentId, "restarting", ct);
        await StartAgentAsync(agent.AgentId, throwOnError: true, ct);
        return true;
    }

    // ---- running ----

    private async Task StartAgentAsync(string agentId, bool throwOnError, CancellationToken ct)
    {
        IHostedRuntime agent;
        await _gate.WaitAsync(ct);
        try
        {
            if (_running.ContainsKey(agentId))
            {
                return;
            }
            try
            {
                agent = await BuildAsync(agentId, ct);
            }
            catch (ApiException e) when (!throwOnError)
            {
                Log.StartFailed(logger, agentId, e.Message);
                await Presence.ReportAsync(agentId, AgentStatuses.Error, "hosted agent cannot start: " + e.Message, ct);
                return;
            }
            var running = new Running(agent, Channel.CreateBounded<byte[]>(new BoundedChannelOptions(_options.QueueLimit) { FullMode = BoundedChannelFullMode.DropWrite }),
                CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token));
            running.Loop = Task.Run(() => RunAsync(running));
            _running[agentId] = running;
        }
        finally
        {
            _gate.Release();
        }
        await Presence.LinkOpenedAsync(agentId, ct);
        Log.Started(logger, agentId, agent.Describe);
        // What a connecting agent gets: its open commands, then a chance at queued tasks.
        await services.GetRequiredService<CommandService>().DeliverPendingAsync(agentId, ct);
        await services.GetRequiredService<TaskService>().DispatchAsync(ct);
    }

    private async Task StopAgentAsync(string agentId, string reason, CancellationToken ct)
    {
        if (!_running.TryRemove(agentId, out var running))
        {
            return;
        }
        running.Queue.Writer.TryComplete();
        await running.Stop.CancelAsync();
        try
        {
            await running.Loop!;
        }
        catch (OperationCanceledException)
        {
        }
        running.Stop.Dispose();
        await Presence.LinkClosedAsync(agentId, reason, ct);
        Log.Stopped(logger, agentId, reason);
    }

    private async Task RunAsync(Running running)
    {
        var outbox = new HostedOutbox(running.Agent.AgentId, running.Agent.OwnerId, services, logger);
        using var slots = new SemaphoreSlim(_options.MaxConcurrency, _options.MaxConcurrency);
        var inFlight = new List<Task>();
        try
        {
            await foreach (var bytes in running.Queue.Reader.ReadAllAsync(running.Stop.Token))
            {
                await slots.WaitAsync(running.Stop.Token);
                inFlight.RemoveAll(t => t.IsCompleted);
                inFlight.Add(Task.Run(async () =>
                {
                    try
                    {
                        await running.Agent.HandleAsync(Frame.Parse(bytes), outbox, running.Stop.Token);
                    }
                    catch (OperationCanceledException) when (running.Stop.IsCancellationRequested)
                    {
                    }
                    catch (Exception e)
                    {
                        Log.FrameFailed(logger, e, running.Agent.AgentId);
                    }
                    finally
                    {
                        slots.Release();
                    }
                }));
            }
        }
        catch (OperationCanceledException)
        {
        }
        await Task.WhenAll(inFlight);
    }

    /// <summary>Reads the agent's stored config and secret and builds its runtime; ApiException when it cannot run.</summary>
    private async Task<IHostedRuntime> BuildAsync(string agentId, CancellationToken ct)
    {
        var record = await hub.GetAgentAsync(agentId, ct) ?? throw ApiException.AgentNotFound(agentId);
        using var doc = JsonDocument.Parse(record.ConfigJson);
        var c = doc.RootElement;
        if (record.Type != LlmType)
        {
            var secret = (await store.GetAsync(agentId, ct))?.ProtectedApiKey is { } sealedSecret ? Protector(agentId).Unprotect(sealedSecret) : null;
            return new Adapters.AdapterAgent(agentId, record.OwnerId, record.Type, ExternalAgents.Build(agentId, record.Type, c, secret), time);
        }
        var name = c.TryGetProperty("provider", out var p) ? p.GetString() : null;
        if (name is null || !providers.Value.TryGetValue(name, out var provider))
        {
            throw new ApiException(ErrorCodes.ValidationError, $"Hosted agent '{agentId}' names provider '{name}', which is not configured; configured providers: {Known(providers.Value)}.");
        }
        var model = provider.ResolveModel(c.TryGetProperty("model", out var m) ? m.GetString() : null)
            ?? throw new ApiException(ErrorCodes.ValidationError, $"Hosted agent '{agentId}' names a model that provider '{name}' does not offer; models: {string.Join(", ", provider.Models)}.");
        var baseUrl = new Uri(provider.AllowAgentBaseUrl && c.TryGetProperty("base_url", out var b) && b.GetString() is { } own ? own : provider.BaseUrl!);
        var row = await store.GetAsync(agentId, ct);
        string? key;
        if (row?.ProtectedApiKey is { } protectedKey)
        {
            key = Protector(agentId).Unprotect(protectedKey);
        }
        else if (c.TryGetProperty("api_key_ref", out var r) && r.GetString() is { } envName)
        {
            key = Environment.GetEnvironmentVariable(envName)
                ?? throw new ApiException(ErrorCodes.ValidationError, $"Hosted agent '{agentId}' reads its API key from environment variable {envName}, which is not set.");
        }
        else
        {
            key = provider.ApiKeyRef is { } pref ? Environment.GetEnvironmentVariable(pref) : provider.ApiKey;
        }
        var definition = new HostedAgentDefinition(agentId, record.OwnerId, name, provider, model, baseUrl, key,
            c.TryGetProperty("system_prompt", out var sp) ? sp.GetString() : null,
            c.TryGetProperty("temperature", out var t) && t.ValueKind == JsonValueKind.Number ? (float)t.GetDouble() : null,
            c.TryGetProperty("max_tokens", out var mt) && mt.ValueKind == JsonValueKind.Number ? mt.GetInt32() : null);
        var adapter = new OpenAiCompatibleAdapter(baseUrl, key, model, provider, time);
        return new HostedAgent(definition, adapter, store, _options, time);
    }

    private AgentPresence Presence => services.GetRequiredService<AgentPresence>();

    private static string Known(Dictionary<string, ProviderOptions> all) => all.Count == 0 ? "(none; add Kai:Providers)" : string.Join(", ", all.Keys.Order(StringComparer.Ordinal));


    private sealed record PlanState(string? ApiKey, bool UsesKeyRef, bool? AutoStart);

    private sealed class Running(IHostedRuntime agent, Channel<byte[]> queue, CancellationTokenSource stop)
    {
        public IHostedRuntime Agent { get; } = agent;
        public Channel<byte[]> Queue { get; } = queue;
        public CancellationTokenSource Stop { get; } = stop;
        public Task? Loop { get; set; }
    }

    /// <summary>
    /// What the agent link does with an agent's frames, for a hosted agent: results to the command and task services, messages and
    /// stream chunks to the router, sent as the agent's own principal (the router's authorize filter decides what it may reach).
    /// </summary>
    private sealed class HostedOutbox(string agentId, string ownerId, IServiceProvider services, ILogger logger) : IHostedOutbox
    {
        private readonly KaiPrincipal _principal = new(agentId, Roles.Agent, "hosted_" + agentId, ownerId, DateTimeOffset.MaxValue);

        public async Task SendAsync(string type, object payload, string? id)
        {
            try
            {
                switch (payload)
                {
                    case CommandResultPayload result:
                        await services.GetRequiredService<CommandService>().CompleteAsync(agentId, result, CancellationToken.None);
                        break;
                    case TaskUpdatePayload update:
                        await services.GetRequiredService<TaskService>().ReportAsync(agentId, ownerId, LeaseLedger.RestChannel(agentId), update, CancellationToken.None);
                        break;
                    case AgentMessageSend message:
                        var delivery = Frame.Encode(FrameTypes.AgentMessage,
                            new AgentMessageDelivery(agentId, message.MessageType, message.Content, message.RequiresResponse, message.CorrelationId));
                        var routed = await services.GetRequiredService<Router>().RouteAsync(
                            new Envelope(FrameTypes.AgentMessage, Address.Agent(message.ToAgent), delivery, _principal) { CorrelationId = message.CorrelationId },
                            CancellationToken.None);
                        if (!routed.IsDelivered)
                        {
                            Log.Dropped(logger, agentId, type, $"{routed.Status} for agent {message.ToAgent}");
                        }
                        break;
                    case Kai.Protocol.Kail.InvocationResultPayload answer:
                        services.GetRequiredService<Invocations.InvocationService>().Complete(agentId, answer);
                        break;
                    case StreamChunkPayload chunk when services.GetRequiredService<Invocations.InvocationService>().TryChunk(agentId, chunk) is not null:
                        break;
                    case StreamChunkPayload chunk:
                        var relayed = Frame.Encode(FrameTypes.StreamChunk, chunk with { AgentId = agentId });
                        await services.GetRequiredService<Router>().RouteAsync(
                            new Envelope(FrameTypes.StreamChunk, Address.ObserversOf(agentId), relayed, _principal), CancellationToken.None);
                        break;
                    case Kai.Protocol.Rpc.RpcResponse answer:
                        if (!services.GetRequiredService<Rpc.RpcService>().Accept(_principal, answer))
                        {
                            Log.Dropped(logger, agentId, type, "no such request in flight (late answer)");
                        }
                        break;
                    default:
                        Log.Dropped(logger, agentId, type, "not bridged");
                        break;
                }
            }
            catch (ApiException e)
            {
                // What the link would have answered with an error frame (a superseded task attempt, a duplicate).
                Log.Dropped(logger, agentId, type, $"{e.Code}: {e.Message}");
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1101, LogLevel.Information, "Hosted agent {AgentId} started ({Runs})")]
        public static partial void Started(ILogger logger, string agentId, string runs);

        [LoggerMessage(1102, LogLevel.Information, "Hosted agent {AgentId} stopped: {Reason}")]
        public static partial void Stopped(ILogger logger, string agentId, string reason);

        [LoggerMessage(1103, LogLevel.Error, "Hosted agent {AgentId} cannot start: {Reason}")]
        public static partial void StartFailed(ILogger logger, string agentId, string reason);

        [LoggerMessage(1104, LogLevel.Error, "Hosted agent {AgentId} failed on a frame")]
        public static partial void FrameFailed(ILogger logger, Exception e, string agentId);

        [LoggerMessage(1105, LogLevel.Warning, "Hosted agent {AgentId}: {Type} frame dropped: {Reason}")]
        public static partial void Dropped(ILogger logger, string agentId, string type, string reason);
    }
}
