using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Kai.Hub.Auth;
using Kai.Hub.Routing;
using Kai.Protocol;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Kai.Hub.Cluster;

/// <summary>Start-up could not reach the backplane's broker (one line on stderr, EX_UNAVAILABLE; see <see cref="StartupFailure"/>).</summary>
internal sealed class BackplaneUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The <see cref="IBackplane"/> over RabbitMQ (docs/decisions.md, "Cluster backplane"). Each node declares one exclusive queue
/// and binds it:
/// <list type="bullet">
/// <item>on the direct exchange <c>kai.direct</c>, with the key of every group it holds a link of (<c>agent.{id}</c>,
/// <c>observers.{id}</c>, <c>user.{id}</c>, <c>session.{id}</c>, <c>stream.{id}</c>), its own <c>node.{id}</c> and <c>replies</c>;
/// a send is published there with that key, mandatory and confirmed, so "no node took it" is the broker returning it;</item>
/// <item>on the topic exchange <c>kai.events</c> with <c>#</c>: every numbered topic event reaches every node, which matches it
/// against its own subscription index.</item>
/// </list>
/// Requests carry reply-to (<c>node.{id}</c> of the sender) and the correlation id; the receiving node remembers them until the
/// deadline, and its router's reply goes straight back to that node. The connection recovers by itself (the client's automatic
/// recovery, topology included); while it is down, sends return 0 (the router answers Unavailable) and <see cref="Problem"/> says why.
/// </summary>
internal sealed partial class RabbitMqBackplane : IBackplane, IAsyncDisposable
{
    public const string DirectExchange = "kai.direct";
    public const string EventExchange = "kai.events";
    public const string RepliesKey = "replies";

    private const string EnvelopeType = "envelope";
    private const string EventType = "event";
    private const string ReplyType = "reply";

    private readonly string _uri;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _queue;
    private readonly ConcurrentDictionary<string, int> _desired = new(StringComparer.Ordinal);
    private readonly HashSet<string> _applied = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _topology = new(1, 1);
    private readonly Channel<(string? Key, TaskCompletionSource? Done)> _ops = Channel.CreateUnbounded<(string?, TaskCompletionSource?)>(new() { SingleReader = true });
    private readonly ConcurrentDictionary<string, (string ReplyTo, DateTimeOffset Until)> _replyTo = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private IConnection? _connection;
    private IChannel? _confirmed;
    private IChannel? _events;
    private IChannel? _consumer;
    private Task? _opsLoop;
    private volatile string? _problem = "not connected to RabbitMQ yet";
    private long _outages;

    public RabbitMqBackplane(string nodeId, string uri, TimeSpan timeout, TimeProvider time, ILogger<RabbitMqBackplane> logger)
    {
        NodeId = nodeId;
        _uri = uri;
        _timeout = timeout;
        _time = time;
        _logger = logger;
        _queue = $"kai.node.{nodeId}.{Guid.NewGuid().ToString("N")[..8]}";
    }

    public string NodeId { get; }

    /// <summary>Always true: other nodes may be bound at any time, and the broker says whether one took a send.</summary>
    public bool HasPeers => true;

    public string? Problem => _problem;

    /// <summary>Times the connection was lost since start.</summary>
    public long Outages => Interlocked.Read(ref _outages);

    /// <summary>This node's queue on the broker.</summary>
    public string QueueName => _queue;

    public Func<Envelope, CancellationToken, ValueTask>? Receive { get; set; }

    public Func<string, string, byte[], CancellationToken, ValueTask>? ReceiveReply { get; set; }

    /// <summary>Connects, declares the exchanges and this node's queue, and starts consuming (before any link is accepted).</summary>
    /// <exception cref="BackplaneUnavailableException">The broker cannot be reached or refused the login.</exception>
    public async Task StartAsync(CancellationToken ct)
    {
        var factory = new ConnectionFactory
        {
            Uri = new Uri(_uri),
            AutomaticRecoveryEnabled = true,
            TopologyRecoveryEnabled = true,
            NetworkRecoveryInterval = TimeSpan.FromSeconds(1),
            RequestedConnectionTimeout = TimeSpan.FromSeconds(10),
            RequestedHeartbeat = TimeSpan.FromSeconds(15),
            ClientProvidedName = "kai-hub " + NodeId,
        };
        try
        {
            _connection = await factory.CreateConnectionAsync(ct);
        }
        catch (Exception ex) when (ex is BrokerUnreachableException or OperationInterruptedException or System.Net.Sockets.SocketException or TimeoutException)
        {
            var reason = ex is BrokerUnreachableException { InnerException: { } inner } ? Innermost(inner).Message : ex.Message;
            throw new BackplaneUnavailableException(
                $"cannot reach RabbitMQ at {ClusterOptions.RabbitMqForDisplay(_uri)} (ConnectionStrings:RabbitMQ): {reason}", ex);
        }
        _connection.ConnectionShutdownAsync += (_, e) =>
        {
            if (e.Initiator != ShutdownInitiator.Application)
            {
                Interlocked.Increment(ref _outages);
                _problem = $"RabbitMQ connection lost ({e.ReplyCode} {e.ReplyText}); reconnecting";
                Log.Lost(_logger, e.ReplyCode, e.ReplyText);
            }
            return Task.CompletedTask;
        };
        _connection.ConnectionRecoveryErrorAsync += (_, e) =>
        {
            _problem = $"RabbitMQ at {ClusterOptions.RabbitMqForDisplay(_uri)} unreachable ({Innermost(e.Exception).Message}); reconnecting";
            return Task.CompletedTask;
        };
        _connection.RecoverySucceededAsync += async (_, _) =>
        {
            // The client restored the queue, the bindings that were applied and the consumer; bindings that changed while the
            // broker was away are applied now.
            await ReconcileAllAsync(_stopping.Token);
            _problem = null;
            Log.Recovered(_logger);
        };
        _confirmed = await _connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), ct);
        _events = await _connection.CreateChannelAsync(cancellationToken: ct);
        _consumer = await _connection.CreateChannelAsync(cancellationToken: ct);
        await _consumer.ExchangeDeclareAsync(DirectExchange, ExchangeType.Direct, durable: true, autoDelete: false, cancellationToken: ct);
        await _consumer.ExchangeDeclareAsync(EventExchange, ExchangeType.Topic, durable: true, autoDelete: false, cancellationToken: ct);
        await _consumer.QueueDeclareAsync(_queue, durable: false, exclusive: true, autoDelete: true, cancellationToken: ct);
        await _consumer.QueueBindAsync(_queue, DirectExchange, Address.Node(NodeId).GroupKey, cancellationToken: ct);
        await _consumer.QueueBindAsync(_queue, DirectExchange, RepliesKey, cancellationToken: ct);
        await _consumer.QueueBindAsync(_queue, EventExchange, "#", cancellationToken: ct);
        var consumer = new AsyncEventingBasicConsumer(_consumer);
        consumer.ReceivedAsync += OnReceivedAsync;
        await _consumer.BasicConsumeAsync(_queue, autoAck: true, consumer, ct);
        _opsLoop = Task.Run(() => RunOpsAsync(_stopping.Token), CancellationToken.None);
        await ReconcileAllAsync(ct);
        _problem = null;
        Log.Connected(_logger, ClusterOptions.RabbitMqForDisplay(_uri), _queue);
    }

    // ---- bindings ----

    public void Bind(string key)
    {
        _desired.AddOrUpdate(key, 1, (_, n) => n + 1);
        _ops.Writer.TryWrite((key, null));
    }

    public void Unbind(string key)
    {
        _desired.AddOrUpdate(key, 0, (_, n) => Math.Max(0, n - 1));
        _ops.Writer.TryWrite((key, null));
    }

    /// <summary>Completes once every <see cref="Bind"/>/<see cref="Unbind"/> before it has reached the broker (or failed because it is away).</summary>
    public Task BindingsAppliedAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _ops.Writer.TryWrite((null, done));
        return done.Task;
    }

    private async Task RunOpsAsync(CancellationToken ct)
    {
        try
        {
            await foreach (var (key, done) in _ops.Reader.ReadAllAsync(ct))
            {
                if (key is not null)
                {
                    await ReconcileAsync(key, ct);
                }
                done?.TrySetResult();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task ReconcileAllAsync(CancellationToken ct)
    {
        List<string> keys;
        lock (_applied)
        {
            keys = [.. _desired.Keys.Union(_applied)];
        }
        foreach (var key in keys)
        {
            await ReconcileAsync(key, ct);
        }
    }

    /// <summary>Makes the broker's binding of <paramref name="key"/> match what the links of this node want.</summary>
    private async Task ReconcileAsync(string key, CancellationToken ct)
    {
        await _topology.WaitAsync(ct);
        try
        {
            var want = _desired.TryGetValue(key, out var n) && n > 0;
            bool have;
            lock (_applied)
            {
                have = _applied.Contains(key);
            }
            if (want == have || _consumer is not { IsOpen: true } channel)
            {
                return;
            }
            if (want)
            {
                await channel.QueueBindAsync(_queue, DirectExchange, key, cancellationToken: ct);
            }
            else
            {
                await channel.QueueUnbindAsync(_queue, DirectExchange, key, cancellationToken: ct);
                _desired.TryRemove(new KeyValuePair<string, int>(key, 0));
            }
            lock (_applied)
            {
                if (want)
                {
                    _applied.Add(key);
                }
                else
                {
                    _applied.Remove(key);
                }
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // The broker is away: recovery reconciles every key again.
            Log.BindFailed(_logger, key, ex.Message);
        }
        finally
        {
            _topology.Release();
        }
    }

    // ---- sending ----

    public async ValueTask<int> SendAsync(string key, Envelope envelope, CancellationToken ct)
    {
        var props = Properties(EnvelopeType);
        props.CorrelationId = envelope.CorrelationId;
        if (envelope.CorrelationId is not null && envelope.Delivery != Delivery.Live)
        {
            props.ReplyTo = Address.Node(NodeId).GroupKey;
        }
        if (envelope.Deadline is { } deadline)
        {
            var left = (long)Math.Ceiling((deadline - _time.GetUtcNow()).TotalMilliseconds);
            if (left <= 0)
            {
                return 0;
            }
            props.Expiration = left.ToString(CultureInfo.InvariantCulture);
        }
        Write(props.Headers!, envelope);
        return await PublishConfirmedAsync(key, props, envelope.Frame, ct) ? 1 : 0;
    }

    public async ValueTask PublishAsync(Envelope envelope, CancellationToken ct)
    {
        if (envelope.Event is not { } e || _events is not { IsOpen: true } channel || _problem is not null)
        {
            return;
        }
        var props = Properties(EventType);
        props.CorrelationId = envelope.CorrelationId;
        Write(props.Headers!, envelope);
        props.Headers!["kai-epoch"] = e.Position.Epoch;
        props.Headers["kai-offset"] = e.Offset.ToString(CultureInfo.InvariantCulture);
        if (e.OwnerId is not null)
        {
            props.Headers["kai-owner"] = e.OwnerId;
        }
        // Topic events are live (at most once; the history is the store's): no confirm to wait for.
        var key = Encoding.UTF8.GetByteCount(e.Topic) <= 255 ? e.Topic : "long";
        try
        {
            await channel.BasicPublishAsync(EventExchange, key, mandatory: false, props, e.Json, ct);
        }
        catch (Exception ex) when (ex is AlreadyClosedException or OperationInterruptedException or ObjectDisposedException)
        {
            Log.SendFailed(_logger, key, ex.Message);
        }
    }

    public async ValueTask<bool> ReplyAsync(string correlationId, string kind, byte[] body, CancellationToken ct)
    {
        var props = Properties(ReplyType);
        props.CorrelationId = correlationId;
        props.Headers!["kai-reply-kind"] = kind;
        var key = _replyTo.TryRemove(correlationId, out var to) ? to.ReplyTo : RepliesKey;
        return await PublishConfirmedAsync(key, props, body, ct);
    }

    private BasicProperties Properties(string type) => new()
    {
        Type = type,
        DeliveryMode = DeliveryModes.Transient,
        Headers = new Dictionary<string, object?>(StringComparer.Ordinal) { ["kai-from"] = NodeId },
    };

    /// <summary>Publishes mandatory and waits for the broker's confirm: false when no queue is bound to the key or the broker is away.</summary>
    private async Task<bool> PublishConfirmedAsync(string key, BasicProperties props, ReadOnlyMemory<byte> body, CancellationToken ct)
    {
        if (_confirmed is not { IsOpen: true } channel || _problem is not null)
        {
            return false;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_timeout);
        try
        {
            await channel.BasicPublishAsync(DirectExchange, key, mandatory: true, props, body, timeout.Token);
            return true;
        }
        catch (PublishException ex) when (ex.IsReturn)
        {
            return false;
        }
        catch (Exception ex) when (ex is PublishException or AlreadyClosedException or OperationInterruptedException or ObjectDisposedException
                                      || (ex is OperationCanceledException && !ct.IsCancellationRequested))
        {
            Log.SendFailed(_logger, key, ex.Message);
            return false;
        }
    }

    // ---- receiving ----

    private async Task OnReceivedAsync(object sender, BasicDeliverEventArgs ea)
    {
        var headers = ea.BasicProperties.Headers;
        if (headers is null || Text(headers, "kai-from") is not { } from || from == NodeId)
        {
            return;
        }
        try
        {
            switch (ea.BasicProperties.Type)
            {
                case ReplyType:
                    if (ReceiveReply is { } onReply && ea.BasicProperties.CorrelationId is { } id && Text(headers, "kai-reply-kind") is { } kind)
                    {
                        await onReply(id, kind, ea.Body.ToArray(), _stopping.Token);
                    }
                    break;
                case EventType:
                    if (Receive is { } onEvent && Read(headers, ea.BasicProperties, []) is { } topicEnvelope)
                    {
                        var message = System.Text.Json.JsonSerializer.Deserialize(ea.Body.Span, KaiJsonContext.Default.EventMessage)!;
                        var published = new BusEvent(Text(headers, "kai-epoch") ?? "", long.Parse(Text(headers, "kai-offset") ?? "0", CultureInfo.InvariantCulture),
                            Text(headers, "kai-owner"), message);
                        await onEvent(topicEnvelope.WithEvent(published), _stopping.Token);
                    }
                    break;
                case EnvelopeType:
                    if (Receive is { } onEnvelope && Read(headers, ea.BasicProperties, ea.Body.ToArray()) is { } envelope)
                    {
                        if (envelope.CorrelationId is { } cid && ea.BasicProperties.ReplyTo is { } replyTo)
                        {
                            RememberReplyTo(cid, replyTo, envelope.Deadline);
                        }
                        await onEnvelope(envelope, _stopping.Token);
                    }
                    break;
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !_stopping.IsCancellationRequested)
        {
            Log.ReceiveFailed(_logger, from, ea.BasicProperties.Type ?? "?", ex.Message);
        }
    }

    private void RememberReplyTo(string correlationId, string replyTo, DateTimeOffset? deadline)
    {
        var now = _time.GetUtcNow();
        _replyTo[correlationId] = (replyTo, deadline ?? now.AddMinutes(10));
        if (_replyTo.Count > 10_000)
        {
            foreach (var (id, entry) in _replyTo)
            {
                if (entry.Until < now)
                {
                    _replyTo.TryRemove(id, out _);
                }
            }
        }
    }

    // ---- the wire form of an envelope: the frame is the body, the rest are headers ----

    private static void Write(IDictionary<string, object?> h, Envelope e)
    {
        h["kai-type"] = e.Type;
        h["kai-kind"] = e.Target.Kind.ToString();
        h["kai-id"] = e.Target.Id;
        if (e.Target.Tenant is not null)
        {
            h["kai-tenant"] = e.Target.Tenant;
        }
        var s = e.Sender;
        h["kai-sender"] = string.Join('\n', s.Id, s.Role, s.SessionId, s.OwnerId, s.ExpiresAt.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture));
        h["kai-delivery"] = e.Delivery.ToString();
        if (e.Deadline is { } d)
        {
            h["kai-deadline"] = d.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        }
        if (e.TraceParent is not null)
        {
            h["kai-trace"] = e.TraceParent;
        }
        if (e.Exclude is { Count: > 0 } exclude)
        {
            h["kai-exclude"] = string.Join('\n', exclude);
        }
    }

    private static Envelope? Read(IDictionary<string, object?> h, IReadOnlyBasicProperties props, byte[] frame)
    {
        if (Text(h, "kai-type") is not { } type || !Enum.TryParse<AddressKind>(Text(h, "kai-kind"), out var kind) || Text(h, "kai-id") is not { } id
            || Text(h, "kai-sender")?.Split('\n') is not [var sid, var role, var session, var owner, var expires])
        {
            return null;
        }
        var sender = sid == KaiPrincipal.System.Id && role == KaiPrincipal.System.Role
            ? KaiPrincipal.System
            : new KaiPrincipal(sid, role, session, owner, FromUnixMs(expires));
        return new Envelope(type, new Address(kind, id, Text(h, "kai-tenant")), frame, sender)
        {
            Delivery = Enum.TryParse<Delivery>(Text(h, "kai-delivery"), out var delivery) ? delivery : Delivery.Live,
            Deadline = Text(h, "kai-deadline") is { } deadline ? FromUnixMs(deadline) : null,
            CorrelationId = props.CorrelationId,
            TraceParent = Text(h, "kai-trace"),
            Exclude = Text(h, "kai-exclude") is { } ex ? new HashSet<string>(ex.Split('\n'), StringComparer.Ordinal) : null,
            FromBackplane = true,
        };
    }

    private static DateTimeOffset FromUnixMs(string ms)
    {
        var value = long.Parse(ms, CultureInfo.InvariantCulture);
        return value >= DateTimeOffset.MaxValue.ToUnixTimeMilliseconds() ? DateTimeOffset.MaxValue : DateTimeOffset.FromUnixTimeMilliseconds(value);
    }

    private static string? Text(IDictionary<string, object?> h, string key) => h.TryGetValue(key, out var v) ? v switch
    {
        byte[] bytes => Encoding.UTF8.GetString(bytes),
        string s => s,
        _ => v?.ToString(),
    } : null;

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is { } inner)
        {
            e = inner;
        }
        return e;
    }

    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }
        _stopping.Cancel();
        _ops.Writer.TryComplete();
        if (_opsLoop is not null)
        {
            await _opsLoop;
        }
        if (_connection is not null)
        {
            try
            {
                await _connection.CloseAsync(TimeSpan.FromSeconds(5));
            }
            catch (Exception ex) when (ex is AlreadyClosedException or OperationInterruptedException or IOException or TimeoutException)
            {
            }
            await _connection.DisposeAsync();
        }
        _stopping.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(1400, LogLevel.Information, "Backplane connected to RabbitMQ at {Uri} (queue {Queue})")]
        public static partial void Connected(ILogger logger, string uri, string queue);

        [LoggerMessage(1401, LogLevel.Warning, "Backplane lost RabbitMQ ({Code} {Text}); cross-node delivery is unavailable until it reconnects")]
        public static partial void Lost(ILogger logger, ushort code, string text);

        [LoggerMessage(1402, LogLevel.Information, "Backplane reconnected to RabbitMQ")]
        public static partial void Recovered(ILogger logger);

        [LoggerMessage(1403, LogLevel.Debug, "Backplane could not bind or unbind {Key}: {Reason}")]
        public static partial void BindFailed(ILogger logger, string key, string reason);

        [LoggerMessage(1404, LogLevel.Debug, "Backplane send to {Key} failed: {Reason}")]
        public static partial void SendFailed(ILogger logger, string key, string reason);

        [LoggerMessage(1405, LogLevel.Warning, "Backplane could not handle a {Type} from node {From}: {Reason}")]
        public static partial void ReceiveFailed(ILogger logger, string from, string type, string reason);
    }
}
