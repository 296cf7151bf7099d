using System.Net.Http;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using Kai.Protocol;

namespace Kai.Client;

/// <summary>Settings of an <see cref="EventSubscription"/>.</summary>
public sealed class EventSubscriptionOptions
{
    /// <summary>Optional payload filters (seed 004), sent with every subscribe. Default: none.</summary>
    public object? Filters { get; init; }

    /// <summary>Optional event id to start after (events after it still in history are replayed first). Default: live only.</summary>
    public string? Since { get; init; }

    /// <summary>First reconnect delay; doubles per failed attempt, with ±20 % jitter. Default: 500 ms.</summary>
    public TimeSpan ReconnectDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Longest wait between reconnect attempts. Default: 15 seconds.</summary>
    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Clock for the backoff. Default: the system clock.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>
/// A subscription that survives link losses: it opens <c>/ws</c>, subscribes, and yields events and gaps; when the link drops
/// (hub restart 1001, slow consumer 4008, rate limited 4004, node full 1013, network), it reconnects with exponential backoff and jitter
/// (after 4002, token expired or session revoked, it fetches a new token and reconnects at once) and
/// subscribes again with <c>since</c> = the last event id it yielded, so nothing still in history is missed and nothing is
/// yielded twice. When history cannot cover the loss, the hub's <c>gap</c> is yielded as an <see cref="EventOrGap"/> with
/// <see cref="EventOrGap.IsGap"/>.
/// </summary>
/// <remarks>Terminal failures end the sequence with an exception: <see cref="HubApiException"/> for a rejected subscribe
/// (<c>VALIDATION_ERROR</c>) or a rejected login or refresh, and <see cref="HubLinkClosedException"/> with 4003 (authentication failed),
/// 4001 (not permitted), 4006 (replaced) or 1009 (frame too big).</remarks>
public sealed class EventSubscription
{
    private readonly HubClient _client;
    private readonly IReadOnlyList<string> _patterns;
    private readonly EventSubscriptionOptions _options;
    private string? _lastEventId;

    /// <summary>Creates the subscription; nothing connects until <see cref="ReadAllAsync"/> is enumerated.</summary>
    /// <param name="client">A signed-in client.</param>
    /// <param name="patterns">1 to 32 topic patterns.</param>
    /// <param name="options">Filters, start position and backoff; defaults when null.</param>
    public EventSubscription(HubClient client, IReadOnlyList<string> patterns, EventSubscriptionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(patterns);
        _client = client;
        _patterns = patterns;
        _options = options ?? new EventSubscriptionOptions();
        _lastEventId = _options.Since;
    }

    /// <summary>The id of the last event yielded (or the starting <see cref="EventSubscriptionOptions.Since"/>); the next subscribe resumes after it.</summary>
    public string? LastEventId => Volatile.Read(ref _lastEventId);

    /// <summary>How many links were opened so far (1 after the first connect, more after reconnects).</summary>
    public int Connections { get; private set; }

    /// <summary>Raised after each successful subscribe, with its ack (position, whether recovery was complete, events replayed).</summary>
    public event Action<Kai.Protocol.Events.SubscribeAck>? Subscribed;

    /// <summary>Raised when the link is lost or a connect fails, with the reason and the delay before the next attempt.</summary>
    public event Action<string, TimeSpan>? Reconnecting;

    /// <summary>Events and gaps, in order, until <paramref name="ct"/> is cancelled (then the sequence ends without an exception).</summary>
    /// <param name="ct">Cancellation.</param>
    /// <returns>The items.</returns>
    public async IAsyncEnumerable<EventOrGap> ReadAllAsync([EnumeratorCancellation] CancellationToken ct = default)
    {
        var delay = _options.ReconnectDelay;
        var expiredOnce = false;
        while (!ct.IsCancellationRequested)
        {
            EventLink? link = null;
            string reason;
            try
            {
                link = await _client.ConnectEventsAsync(ct);
                var ack = await link.SubscribeAsync(_patterns, _options.Filters, LastEventId, ct);
                Connections++;
                Subscribed?.Invoke(ack);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                await DisposeQuietlyAsync(link);
                yield break;
            }
            catch (Exception ex) when (IsTransient(ex))
            {
                await DisposeQuietlyAsync(link);
                link = null;
                reason = ex.Message;
                Reconnecting?.Invoke(reason, delay);
                if (!await WaitAsync(delay, ct))
                {
                    yield break;
                }
                delay = Next(delay);
                continue;
            }
            catch
            {
                await DisposeQuietlyAsync(link);
                throw;
            }

            delay = _options.ReconnectDelay;
            await using (link)
            {
                var items = link.ReadAllAsync(ct).GetAsyncEnumerator(ct);
                try
                {
                    while (true)
                    {
                        bool more;
                        try
                        {
                            more = await items.MoveNextAsync();
                        }
                        catch (OperationCanceledException) when (ct.IsCancellationRequested)
                        {
                            yield break;
                        }
                        if (!more)
                        {
                            break;
                        }
                        expiredOnce = false;
                        if (items.Current.Event is { } e)
                        {
                            Volatile.Write(ref _lastEventId, e.Id);
                        }
                        yield return items.Current;
                    }
                }
                finally
                {
                    await items.DisposeAsync();
                }
                if (link.CloseCode is { } code && IsTerminalClose(code))
                {
                    throw new HubLinkClosedException(link.CloseCode, link.CloseReason);
                }
                if (link.CloseCode == CloseCodes.SessionExpired && !expiredOnce)
                {
                    // Token expired or session revoked: a new token (refresh) and an immediate reconnect; a second 4002 in a row backs off.
                    expiredOnce = true;
                    _client.ExpireAccessToken();
                    Reconnecting?.Invoke("link closed (4002 token expired or session revoked)", TimeSpan.Zero);
                    continue;
                }
                // A second 4002 in a row (with no event in between) takes the backoff below.
                reason = $"link closed ({link.CloseCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "no close frame"} {link.CloseReason})".TrimEnd();
            }
            Reconnecting?.Invoke(reason, delay);
            if (!await WaitAsync(delay, ct))
            {
                yield break;
            }
        }
    }

    private static bool IsTransient(Exception ex) =>
        ex is HttpRequestException or WebSocketException or TimeoutException
        || ex is HubLinkClosedException { Code: var code } && !(code is { } c && IsTerminalClose(c))
        || ex is HubApiException { Status: >= 500 };

    /// <summary>Close codes that end the subscription: 4003 bad credentials, 4001 not permitted, 4006 replaced, 1009 frame too big.
    /// Everything else (1001, 1011, 4000, 4004 rate limited, 1013 node full, 4005, 4008) reconnects with backoff; 4002 at once.</summary>
    private static bool IsTerminalClose(int code) =>
        code is CloseCodes.AuthenticationFailed or CloseCodes.InvalidSession or CloseCodes.Replaced or CloseCodes.MessageTooBig;

    private TimeSpan Next(TimeSpan delay)
    {
        var doubled = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxReconnectDelay.Ticks));
        return doubled;
    }

    private async Task<bool> WaitAsync(TimeSpan delay, CancellationToken ct)
    {
        // ±20 % jitter, so many subscribers dropped by one hub restart do not come back as one burst.
        var jittered = TimeSpan.FromTicks((long)(delay.Ticks * (0.8 + (Random.Shared.NextDouble() * 0.4))));
        try
        {
            await Task.Delay(jittered, _options.Time, ct);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static async Task DisposeQuietlyAsync(EventLink? link)
    {
        if (link is not null)
        {
            await link.DisposeAsync();
        }
    }
}
