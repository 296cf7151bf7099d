using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Kai.Hub.Auth;
using Kai.Hub.Events;
using Kai.Hub.Hosting.Adapters;
using Kai.Hub.Housekeeping;
using Kai.Hub.Observability;
using Kai.Hub.Routing;
using Kai.Protocol;
using Kai.Protocol.Events;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;

namespace Kai.Hub.A2a;

/// <summary>
/// A2A push notifications (docs/specification.md §3.1.7-3.1.10, §4.3; docs/protocol.md, "A2A", push): the config methods of both
/// versions, and the sender. The sender watches the event log for changes of the hub tasks of A2A tasks that have configs; at each
/// change of an A2A task's state it POSTs the task to every config of it (1.0: <c>{"task": Task}</c> as <c>application/a2a+json</c>;
/// 0.3: the Task), with <c>Authorization: {scheme} {credentials}</c> and <c>X-A2A-Notification-Token</c> when set.
/// </summary>
/// <remarks>
/// <para>Every POST goes through the adapters' <see cref="SsrfGuard"/> (internal addresses are refused unless allow-listed in
/// <c>Kai:Adapters:Webhook:AllowedHosts</c>/<c>AllowedCidrs</c>; redirects are not followed), with a 15 s timeout and up to
/// <see cref="MaxRetries"/> retries (Polly, exponential from 1 s, on the hub's <see cref="TimeProvider"/>) for network errors, 408,
/// 429 and 5xx. Deliveries to one config are in order; a slow receiver delays only its own. After the last retry, or at once for
/// another 4xx or a refused URL, the notification is dropped, logged, and counted in <c>kai.a2a.push.dropped</c>.</para>
/// <para>States may be coalesced (a change that is over before its delivery starts is sent as the state after it); the last state is
/// always sent. Configs persist until deleted; watching stops when the task ended and every config was told.</para>
/// <para>One node sends: the housekeeping leader (<see cref="IHousekeepingLeadership"/>; on the embedded store the one node). The
/// last state whose delivery ended is stored per config (<see cref="A2aPushConfig.LastState"/>), so a node that starts leading
/// (a restart, or a failover when the leader died) resumes every config from the store and sends only what was not yet told:
/// delivery is at-least-once, and a duplicate can only be the one delivery in flight when a leader died. With a shared store
/// (PostgreSQL) configs and follow-up turns made on other nodes are picked up by a rescan every <see cref="RescanInterval"/>, and
/// task changes made on other nodes arrive through the shared event history.</para>
/// </remarks>
internal sealed partial class A2aPush : BackgroundService
{
    /// <summary>Retries of one notification after its first attempt.</summary>
    public const int MaxRetries = 5;

    /// <summary>The most configs one task may have.</summary>
    public const int MaxConfigsPerTask = 10;

    private const int MaxPending = 10_000;

    /// <summary>How often the leader of a cluster (shared store) reads the stored configs again, for those made on other nodes.</summary>
    public static readonly TimeSpan RescanInterval = TimeSpan.FromSeconds(2);

    private readonly IA2aStore _store;
    private readonly A2aTasks _tasks;
    private readonly A2aTranslator _translator;
    private readonly EventLog _log;
    private readonly SsrfGuard _guard;
    private readonly TimeProvider _time;
    private readonly ILogger<A2aPush> _logger;
    private readonly string? _publicUrl;
    private readonly HttpClient _http;
    private readonly ResiliencePipeline _retry;
    private readonly Counter<long> _delivered;
    private readonly Counter<long> _dropped;
    private readonly Channel<string> _pending = Channel.CreateBounded<string>(new BoundedChannelOptions(MaxPending) { FullMode = BoundedChannelFullMode.DropWrite });
    // Hub task id -> the A2A task it is a turn of (the A2A task's own id maps to itself).
    private readonly ConcurrentDictionary<string, string> _watched = new(StringComparer.Ordinal);
    // A2A task id -> the base URL file links are made absolute with (the one the config was made at).
    private readonly ConcurrentDictionary<string, string> _baseUrls = new(StringComparer.Ordinal);
    // (A2A task, config) -> the last state delivered or being delivered, and the tail of its delivery chain.
    private readonly ConcurrentDictionary<(string Task, string Config), string> _sent = new();
    private readonly ConcurrentDictionary<(string Task, string Config), Task> _tails = new();
    // A2A tasks that ended with every config told, so a rescan does not read them again (until this node stops leading).
    private readonly ConcurrentDictionary<string, byte> _finished = new(StringComparer.Ordinal);
    private readonly IHousekeepingLeadership _leadership;
    private volatile bool _leading;

    public A2aPush(IA2aStore store, A2aTasks tasks, A2aTranslator translator, EventLog log, SsrfGuard guard, TimeProvider time,
        IMeterFactory meters, IOptions<HubOptions> hub, IHousekeepingLeadership leadership, ILogger<A2aPush> logger)
    {
        _store = store;
        _leadership = leadership;
        _tasks = tasks;
        _translator = translator;
        _log = log;
        _guard = guard;
        _time = time;
        _logger = logger;
        _publicUrl = hub.Value.PublicUrl;
        _http = new HttpClient(guard.CreateHandler()) { Timeout = TimeSpan.FromSeconds(15) };
        var meter = meters.Create(HubMetrics.MeterName);
        _delivered = meter.CreateCounter<long>("kai.a2a.push.delivered", description: "A2A push notifications the receiver acknowledged (2xx).");
        _dropped = meter.CreateCounter<long>("kai.a2a.push.dropped", description: "A2A push notifications given up, by reason (retries, rejected, refused, queue_full).");
        _retry = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                Delay = TimeSpan.FromSeconds(1),
                UseJitter = false,
                ShouldHandle = new PredicateBuilder()
                    .Handle<PushFailed>(f => f.Retryable)
                    .Handle<HttpRequestException>(e => SsrfGuard.Refusal(e) is null)
                    .Handle<TaskCanceledException>(),
            })
            .Build();
        tasks.Changed += OnChanged;
    }

    // ---- config methods ----

    /// <summary>One config method (1.0 or 0.3 name) for <paramref name="caller"/>; the task must be one the caller may see.</summary>
    public async Task<JsonNode?> HandleAsync(KaiPrincipal caller, string method, JsonElement p, A2aVersion v, string baseUrl, CancellationToken ct)
    {
        switch (method)
        {
            case "CreateTaskPushNotificationConfig":
            case "tasks/pushNotificationConfig/set":
            {
                var taskId = Str(p, "taskId") is { Length: > 0 } t ? t : throw A2aException.Invalid("taskId", "is required");
                var body = v == A2aVersion.V1 ? p : p.TryGetProperty("pushNotificationConfig", out var c) && c.ValueKind == JsonValueKind.Object
                    ? c : throw A2aException.Invalid("pushNotificationConfig", "is required");
                var view = await _tasks.GetAsync(caller, taskId, ct);
                var config = await CreateAsync(view, body, v, baseUrl, ct);
                return Shape(config, v);
            }
            case "GetTaskPushNotificationConfig":
            case "tasks/pushNotificationConfig/get":
            {
                var (taskId, configId) = Ids(p, v, configRequired: v == A2aVersion.V1);
                var view = await _tasks.GetAsync(caller, taskId, ct);
                var config = configId is null
                    ? (await _store.ListPushConfigsAsync(view.Id, ct)).FirstOrDefault()
                    : await _store.GetPushConfigAsync(view.Id, configId, ct);
                return Shape(config ?? throw ConfigNotFound(view.Id, configId), v);
            }
            case "ListTaskPushNotificationConfigs":
            case "ListTaskPushNotificationConfig":
            case "tasks/pushNotificationConfig/list":
            {
                var (taskId, _) = Ids(p, v, configRequired: false);
                var view = await _tasks.GetAsync(caller, taskId, ct);
                var configs = new JsonArray([.. (await _store.ListPushConfigsAsync(view.Id, ct)).Select(c => Shape(c, v))]);
                return v == A2aVersion.V1 ? new JsonObject { ["configs"] = configs, ["nextPageToken"] = "" } : configs;
            }
            default:
            {
                var (taskId, configId) = Ids(p, v, configRequired: true);
                var view = await _tasks.GetAsync(caller, taskId, ct);
                if (!await _store.DeletePushConfigAsync(view.Id, configId!, ct))
                {
                    throw ConfigNotFound(view.Id, configId);
                }
                _sent.TryRemove((view.Id, configId!), out _);
                if ((await _store.ListPushConfigsAsync(view.Id, ct)).Count == 0)
                {
                    Unwatch(view);
                }
                return v == A2aVersion.V1 ? new JsonObject() : null;
            }
        }
    }

    /// <summary>
    /// The config a send carries in <c>configuration.taskPushNotificationConfig</c> (1.0) / <c>pushNotificationConfig</c> (0.3), checked
    /// before the task is created (so a bad config creates nothing); null when there is none.
    /// </summary>
    public async Task<A2aPushConfig?> InlineAsync(JsonElement configuration, A2aVersion v, CancellationToken ct) =>
        configuration.ValueKind == JsonValueKind.Object
        && configuration.TryGetProperty(v == A2aVersion.V1 ? "taskPushNotificationConfig" : "pushNotificationConfig", out var c) && c.ValueKind == JsonValueKind.Object
            ? await ParseAsync(c, v, ct)
            : null;

    /// <summary>Stores a checked config for the task and starts watching it.</summary>
    public async Task<A2aPushConfig> PutAsync(A2aTaskView view, A2aPushConfig parsed, string baseUrl, CancellationToken ct)
    {
        var config = parsed with { TaskId = view.Id };
        var existing = await _store.ListPushConfigsAsync(view.Id, ct);
        if (existing.Count >= MaxConfigsPerTask && existing.All(e => e.ConfigId != config.ConfigId))
        {
            throw A2aException.Invalid("taskId", $"has {existing.Count} push configs already; delete one first (at most {MaxConfigsPerTask})");
        }
        await _store.PutPushConfigAsync(config, ct);
        _sent.TryRemove((view.Id, config.ConfigId), out _);
        _finished.TryRemove(view.Id, out _);
        _baseUrls[view.Id] = baseUrl;
        if (_leading)
        {
            Watch(view);
            // The new config is told the state the task is in now, so a change made before it existed is not missed.
            Enqueue(view.Id);
        }
        return config;
    }

    private async Task<A2aPushConfig> CreateAsync(A2aTaskView view, JsonElement body, A2aVersion v, string baseUrl, CancellationToken ct) =>
        await PutAsync(view, await ParseAsync(body, v, ct), baseUrl, ct);

    /// <summary>Checks a config (url, SSRF guard, id, token, authentication); its task id is filled in by <see cref="PutAsync"/>.</summary>
    private async Task<A2aPushConfig> ParseAsync(JsonElement body, A2aVersion v, CancellationToken ct)
    {
        var url = Str(body, "url") ?? throw A2aException.Invalid("url", "is required");
        if (url.Length > 2048 || !Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw A2aException.Invalid("url", "must be an absolute http(s) URL of at most 2048 characters");
        }
        try
        {
            await _guard.CheckAsync(uri, ct);
        }
        catch (AdapterException e)
        {
            throw A2aException.Invalid("url", "is refused: " + e.Message);
        }
        var configId = Str(body, "id") is { Length: > 0 } given ? given : "pnc_" + Guid.CreateVersion7().ToString("N");
        if (configId.Length > 64 || !configId.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_' or '.' or ':'))
        {
            throw A2aException.Invalid("id", "must be 1 to 64 letters, digits or - _ . :");
        }
        var token = Str(body, "token") is { Length: > 0 } tk ? tk : null;
        string? scheme = null, credentials = null;
        if (body.TryGetProperty("authentication", out var auth) && auth.ValueKind == JsonValueKind.Object)
        {
            scheme = v == A2aVersion.V1 ? Str(auth, "scheme")
                : auth.TryGetProperty("schemes", out var schemes) && schemes.ValueKind == JsonValueKind.Array && schemes.GetArrayLength() > 0
                    && schemes[0].ValueKind == JsonValueKind.String ? schemes[0].GetString() : null;
            credentials = Str(auth, "credentials") is { Length: > 0 } cr ? cr : null;
            scheme = string.IsNullOrEmpty(scheme) ? null : scheme;
        }
        if (token is { Length: > 512 } || (token is not null && !IsHeaderValue(token)))
        {
            throw A2aException.Invalid("token", "must be at most 512 visible ASCII characters");
        }
        if (scheme is not null && (scheme.Length > 64 || !scheme.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_' or '.')))
        {
            throw A2aException.Invalid("authentication.scheme", "must be an HTTP authentication scheme name (Bearer, Basic, …)");
        }
        if (credentials is not null && (scheme is null || credentials.Length > 4096 || !IsHeaderValue(credentials)))
        {
            throw A2aException.Invalid("authentication.credentials", scheme is null ? "need a scheme" : "must be at most 4096 visible ASCII characters");
        }
        return new A2aPushConfig("", configId, url, token, scheme, credentials, v == A2aVersion.V1 ? "1.0" : "0.3", _time.GetUtcNow());
    }

    private static bool IsHeaderValue(string s) => s.All(ch => ch is >= ' ' and <= '~');

    private static (string TaskId, string? ConfigId) Ids(JsonElement p, A2aVersion v, bool configRequired)
    {
        var taskId = Str(p, v == A2aVersion.V1 ? "taskId" : "id") is { Length: > 0 } t ? t : throw A2aException.Invalid(v == A2aVersion.V1 ? "taskId" : "id", "is required (the task id)");
        var configId = Str(p, v == A2aVersion.V1 ? "id" : "pushNotificationConfigId") is { Length: > 0 } c ? c : null;
        if (configId is null && configRequired)
        {
            throw A2aException.Invalid(v == A2aVersion.V1 ? "id" : "pushNotificationConfigId", "is required (the config id)");
        }
        return (taskId, configId);
    }

    private static A2aException ConfigNotFound(string taskId, string? configId) =>
        new(A2aException.TaskNotFound, $"{ErrorCodes.NotFound}: Task '{taskId}' has no push notification config{(configId is null ? "" : $" '{configId}'")}.", ErrorCodes.NotFound);

    /// <summary>A config in the version's shape: 1.0 <c>TaskPushNotificationConfig</c> (flat), 0.3 <c>{taskId, pushNotificationConfig}</c>.</summary>
    private static JsonObject Shape(A2aPushConfig c, A2aVersion v)
    {
        if (v == A2aVersion.V1)
        {
            var flat = new JsonObject { ["id"] = c.ConfigId, ["taskId"] = c.TaskId, ["url"] = c.Url };
            if (c.Token is not null)
            {
                flat["token"] = c.Token;
            }
            if (c.AuthScheme is not null)
            {
                flat["authentication"] = new JsonObject { ["scheme"] = c.AuthScheme, ["credentials"] = c.AuthCredentials ?? "" };
            }
            return flat;
        }
        var config = new JsonObject { ["id"] = c.ConfigId, ["url"] = c.Url };
        if (c.Token is not null)
        {
            config["token"] = c.Token;
        }
        if (c.AuthScheme is not null)
        {
            var a = new JsonObject { ["schemes"] = new JsonArray(c.AuthScheme) };
            if (c.AuthCredentials is not null)
            {
                a["credentials"] = c.AuthCredentials;
            }
            config["authentication"] = a;
        }
        return new JsonObject { ["taskId"] = c.TaskId, ["pushNotificationConfig"] = config };
    }

    // ---- watching ----

    private void Watch(A2aTaskView view)
    {
        foreach (var turn in view.Turns)
        {
            _watched[turn.TaskId] = view.Id;
        }
    }

    private void Unwatch(A2aTaskView view)
    {
        foreach (var turn in view.Turns)
        {
            _watched.TryRemove(turn.TaskId, out _);
        }
        _baseUrls.TryRemove(view.Id, out _);
    }

    private void OnChanged(string taskId, string hubTaskId)
    {
        if (_leading && _watched.ContainsKey(taskId))
        {
            _watched[hubTaskId] = taskId;
            Enqueue(taskId);
        }
    }

    private void Enqueue(string taskId)
    {
        if (!_pending.Writer.TryWrite(taskId))
        {
            _dropped.Add(1, new KeyValuePair<string, object?>("reason", "queue_full"));
            LogQueueFull(taskId);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var sender = SendLoopAsync(stoppingToken);
        var subscriptions = new[] { new Subscription("task.>", null) };
        var since = _log.Position;
        var rescanAt = DateTimeOffset.MinValue;
        Task? tick = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            var next = _log.NextPublish;
            if (!_leadership.IsLeader)
            {
                if (_leading)
                {
                    StopLeading();
                }
                since = _log.Position;
            }
            else
            {
                if (!_leading || (_log.Durable && _time.GetUtcNow() >= rescanAt))
                {
                    // since was taken before the store is read (at start, or while not leading): a change between the two is read
                    // twice, never missed.
                    _leading = true;
                    await ResumeAsync(stoppingToken);
                    rescanAt = _time.GetUtcNow() + RescanInterval;
                }
                since = ReadChanges(subscriptions, since);
            }
            try
            {
                // On the embedded store every change is published here, so the log's next publish is all to wait for. A cluster's
                // leader also rescans the store; a node that does not lead looks again at the housekeeping sweep's pace.
                if (_log.Durable || !_leadership.IsLeader)
                {
                    // One timer per interval, not one per publish (a busy cluster publishes thousands of events a second).
                    tick = tick is { IsCompleted: false } ? tick : Task.Delay(RescanInterval, _time, stoppingToken);
                    await Task.WhenAny(next, tick);
                    stoppingToken.ThrowIfCancellationRequested();
                }
                else
                {
                    await next.WaitAsync(stoppingToken);
                }
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        _pending.Writer.TryComplete();
        await sender;
    }

    /// <summary>Watches every stored task with configs that this node has not seen end, and queues it (once per state, by <see cref="NotifyAsync"/>).</summary>
    private async Task ResumeAsync(CancellationToken ct)
    {
        try
        {
            foreach (var taskId in await _store.PushTaskIdsAsync(ct))
            {
                if (!_finished.ContainsKey(taskId))
                {
                    Enqueue(taskId);
                }
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogResumeFailed(e);
        }
    }

    /// <summary>Queues the watched tasks that changed after <paramref name="since"/>; returns the position read up to.</summary>
    private EventPosition ReadChanges(Subscription[] subscriptions, EventPosition since)
    {
        if (_watched.IsEmpty)
        {
            return _log.Position;
        }
        while (true)
        {
            var recovery = _log.Recover(KaiPrincipal.System, subscriptions, since, 1000);
            foreach (var e in recovery.Events)
            {
                if (e.Message.Payload.ValueKind == JsonValueKind.Object && e.Message.Payload.TryGetProperty("task_id", out var id)
                    && id.ValueKind == JsonValueKind.String && _watched.TryGetValue(id.GetString()!, out var taskId))
                {
                    Enqueue(taskId);
                }
            }
            since = recovery.Next;
            if (recovery.Events.Count < 1000)
            {
                return since;
            }
        }
    }

    /// <summary>Another node leads now: forget what this one watched (the store has what was told, and the new leader resumes from it).</summary>
    private void StopLeading()
    {
        _leading = false;
        _watched.Clear();
        _sent.Clear();
        _finished.Clear();
    }

    private async Task SendLoopAsync(CancellationToken ct)
    {
        try
        {
            await foreach (var taskId in _pending.Reader.ReadAllAsync(ct))
            {
                try
                {
                    await NotifyAsync(taskId, ct);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogNotifyFailed(taskId, e);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Reads the task now and starts a delivery to each config that has not been sent this state.</summary>
    private async Task NotifyAsync(string taskId, CancellationToken ct)
    {
        if (!_leading)
        {
            return;
        }
        A2aTaskView view;
        try
        {
            view = await _tasks.GetAsync(KaiPrincipal.System, taskId, ct);
        }
        catch (A2aException)
        {
            return;
        }
        Watch(view);
        var state = view.Current.TaskId + ":" + A2aTranslator.State(view, A2aVersion.V1);
        var configs = await _store.ListPushConfigsAsync(view.Id, ct);
        var baseUrl = _baseUrls.TryGetValue(view.Id, out var b) ? b : _publicUrl ?? "";
        foreach (var config in configs)
        {
            var key = (view.Id, config.ConfigId);
            if ((_sent.TryGetValue(key, out var last) ? last : config.LastState) == state)
            {
                _sent[key] = state;
                continue;
            }
            _sent[key] = state;
            var v = config.Version == "0.3" ? A2aVersion.V03 : A2aVersion.V1;
            var task = _translator.Task(view, v, baseUrl);
            var body = v == A2aVersion.V1 ? new JsonObject { ["task"] = task }.ToJsonString() : task.ToJsonString();
            var previous = _tails.TryGetValue(key, out var tail) ? tail : Task.CompletedTask;
            var delivery = DeliverAfterAsync(previous, config, state, body, v, ct);
            _tails[key] = delivery;
            _ = delivery.ContinueWith(_ => _tails.TryRemove(new KeyValuePair<(string, string), Task>(key, delivery)), TaskScheduler.Default);
        }
        if (view.IsTerminal && configs.All(c => _sent.TryGetValue((view.Id, c.ConfigId), out var s) && s == state))
        {
            Unwatch(view);
            _finished[view.Id] = 0;
        }
    }

    private async Task DeliverAfterAsync(Task previous, A2aPushConfig config, string state, string body, A2aVersion v, CancellationToken ct)
    {
        await previous.ContinueWith(_ => { }, TaskScheduler.Default);
        var attempts = 0;
        try
        {
            await _retry.ExecuteAsync(async token =>
            {
                attempts++;
                using var request = new HttpRequestMessage(HttpMethod.Post, config.Url)
                {
                    Content = new StringContent(body, Encoding.UTF8, v == A2aVersion.V1 ? "application/a2a+json" : "application/json"),
                };
                if (config.AuthScheme is not null)
                {
                    request.Headers.TryAddWithoutValidation("Authorization", config.AuthCredentials is null ? config.AuthScheme : $"{config.AuthScheme} {config.AuthCredentials}");
                }
                if (config.Token is not null)
                {
                    request.Headers.TryAddWithoutValidation("X-A2A-Notification-Token", config.Token);
                }
                using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token);
                if (!response.IsSuccessStatusCode)
                {
                    var status = (int)response.StatusCode;
                    throw new PushFailed(status, status is 408 or 429 || status >= 500);
                }
            }, ct);
            _delivered.Add(1);
            await RecordAsync(config, state, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Shutting down.
        }
        catch (Exception e)
        {
            var reason = SsrfGuard.Refusal(e) is not null ? "refused" : e is PushFailed { Retryable: false } ? "rejected" : "retries";
            _dropped.Add(1, new KeyValuePair<string, object?>("reason", reason));
            LogDropped(config.TaskId, config.ConfigId, new Uri(config.Url).GetLeftPart(UriPartial.Authority), attempts, reason, e.Message);
            await RecordAsync(config, state, ct);
        }
    }

    /// <summary>Stores that this state's delivery ended, so the next leader does not send it again; a lost store only costs a resend.</summary>
    private async Task RecordAsync(A2aPushConfig config, string state, CancellationToken ct)
    {
        try
        {
            await _store.SetPushStateAsync(config.TaskId, config.ConfigId, state, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogNotifyFailed(config.TaskId, e);
        }
    }

    public override void Dispose()
    {
        _tasks.Changed -= OnChanged;
        _http.Dispose();
        base.Dispose();
    }

    private static string? Str(JsonElement o, string name) =>
        o.ValueKind == JsonValueKind.Object && o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private sealed class PushFailed(int status, bool retryable) : Exception($"the receiver answered HTTP {status}")
    {
        public bool Retryable { get; } = retryable;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A2A push notification for task {TaskId} (config {ConfigId}) to {Receiver} dropped after {Attempts} attempts ({Reason}): {Error}")]
    private partial void LogDropped(string taskId, string configId, string receiver, int attempts, string reason, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A2A push notifications: the queue is full; a change of task {TaskId} was not queued")]
    private partial void LogQueueFull(string taskId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A2A push notifications: reading task {TaskId} failed")]
    private partial void LogNotifyFailed(string taskId, Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A2A push notifications: resuming the stored configs failed")]
    private partial void LogResumeFailed(Exception e);
}
