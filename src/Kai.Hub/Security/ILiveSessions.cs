using Kai.Hub.Auth;

namespace Kai.Hub.Security;

/// <summary>
/// Closes this node's live links of principals whose credentials were just revoked (a disabled user, a rotated secret), rather than
/// waiting for the link housekeeping's next sweep. Implemented by the router's local links; Security does not reach into them.
/// </summary>
internal interface ILiveSessions
{
    /// <summary>Closes every link whose principal matches, with <paramref name="code"/>.</summary>
    void CloseWhere(Func<KaiPrincipal, bool> match, int code, string reason);
}
