using Kai.Hub.Auth;
using Kai.Hub.Housekeeping;
using Kai.Hub.Routing;
using Kai.Hub.Security;
using Kai.Protocol;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Edges;

/// <summary>
/// Liveness of this node's links: agent links silent for three heartbeat intervals are closed (4005); links and event subscribers
/// whose access token expired (or whose session was revoked) are closed (4002); observer links idle past the idle timeout are
/// closed (4000).
/// </summary>
internal sealed class LinkHousekeeping(
    ConnectionRegistry links, Router router, TimeProvider time, IOptions<HubOptions> options, WebSocketGate gate, SessionRevocations revocations) : IHousekeeping
{
    private readonly HubOptions _options = options.Value;

    public Task SweepAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var silentSince = now - _options.Links.OfflineAfter;
        foreach (var link in links.AgentLinks)
        {
            if (link.LastInbound < silentSince)
            {
                link.RequestClose(CloseCodes.HeartbeatTimeout, "no frame for three heartbeat intervals");
            }
        }
        foreach (var link in links.All)
        {
            if (link.Principal.ExpiresAt + _options.Auth.ClockSkew < now)
            {
                link.RequestClose(CloseCodes.SessionExpired, "access token expired; reconnect with a fresh token");
            }
            else if (revocations.IsRevoked(link.Principal.SessionId))
            {
                link.RequestClose(CloseCodes.SessionExpired, "session revoked");
            }
        }
        // SSE subscribers are not links: their token expiry is checked here too.
        foreach (var s in router.TopicSubscribers)
        {
            if (s.Principal.ExpiresAt + TimeSpan.FromSeconds(30) < now)
            {
                s.Close(CloseCodes.SessionExpired, "access token expired; reconnect with a fresh token");
            }
        }
        // Observer links have no heartbeat duty; one that sends nothing for the idle timeout is closed (4000).
        var idleSince = now - gate.IdleTimeout;
        foreach (var link in links.ObserverLinks)
        {
            if (link.LastInbound < idleSince)
            {
                link.RequestClose(CloseCodes.GenericError, "idle timeout");
            }
        }
        return Task.CompletedTask;
    }
}
