namespace Kai.Protocol;

/// <summary>
/// WebSocket close codes the hub uses. 1000-1011 are RFC 6455 §7.4.1; 4000-4004 are seed 003's
/// ("Connection Errors"); 4005 and up extend them. See <c>docs/protocol.md</c>, "Close codes".
/// </summary>
/// <remarks>
/// A client should reconnect (with backoff) after <see cref="GoingAway"/>, <see cref="SessionExpired"/>,
/// <see cref="HeartbeatTimeout"/>, <see cref="SlowConsumer"/>, <see cref="InternalError"/>, <see cref="TryAgainLater"/> and <see cref="RateLimited"/>; it should
/// not retry unchanged after <see cref="AuthenticationFailed"/>, <see cref="InvalidSession"/>,
/// <see cref="MessageTooBig"/> or <see cref="Replaced"/>.
/// </remarks>
public static class CloseCodes
{
    /// <summary>Normal closure (RFC 6455).</summary>
    public const int Normal = 1000;
    /// <summary>The hub is shutting down (RFC 6455). Reconnect.</summary>
    public const int GoingAway = 1001;
    /// <summary>A frame was larger than the configured maximum, 1 MiB by default (RFC 6455).</summary>
    public const int MessageTooBig = 1009;
    /// <summary>Unexpected server fault (RFC 6455). Reconnect.</summary>
    public const int InternalError = 1011;
    /// <summary>The node is at its connection limit (RFC 6455 registry, "Try Again Later"). Reconnect later, with backoff.</summary>
    public const int TryAgainLater = 1013;
    /// <summary>Generic error (seed 003).</summary>
    public const int GenericError = 4000;
    /// <summary>The principal may not open this link: not the agent, its owner or an admin, or no such agent (seed 003 "invalid session").</summary>
    public const int InvalidSession = 4001;
    /// <summary>The access token expired while the link was open (seed 003). Get a new token and reconnect.</summary>
    public const int SessionExpired = 4002;
    /// <summary>Missing or invalid token (seed 003).</summary>
    public const int AuthenticationFailed = 4003;
    /// <summary>Rate limited (seed 003).</summary>
    public const int RateLimited = 4004;
    /// <summary>No frame arrived for three heartbeat intervals (90 s by default). Reconnect.</summary>
    public const int HeartbeatTimeout = 4005;
    /// <summary>A newer link for the same agent replaced this one. Do not reconnect from this process.</summary>
    public const int Replaced = 4006;
    /// <summary>The client read too slowly and its bounded send queue overflowed. Reconnect and read faster.</summary>
    public const int SlowConsumer = 4008;
}
