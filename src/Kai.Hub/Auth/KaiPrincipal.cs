using System.Security.Claims;

namespace Kai.Hub.Auth;

/// <summary>The authenticated caller, read from the access token's claims.</summary>
/// <param name="Id">The user id, or the agent id for an agent.</param>
/// <param name="Role">One of <see cref="Roles"/>.</param>
/// <param name="SessionId">The session (<c>sid</c>).</param>
/// <param name="OwnerId">For an agent, the owning user; for a user, the user itself.</param>
/// <param name="ExpiresAt">When the access token expires.</param>
public sealed record KaiPrincipal(string Id, string Role, string SessionId, string OwnerId, DateTimeOffset ExpiresAt)
{
    public const string RoleClaim = "role";
    public const string SessionClaim = "sid";
    public const string OwnerClaim = "owner";
    public const string ExpiresClaim = "exp";

    /// <summary>
    /// The hub itself, the sender of everything a service routes on its own behalf (a command it stores and delivers, a
    /// task lease, a status change). Never issued in a token: it is recognised by reference, not by its role string.
    /// </summary>
    public static KaiPrincipal System { get; } = new("hub", "system", "hub", "hub", DateTimeOffset.MaxValue);

    public bool IsSystem => ReferenceEquals(this, System);

    /// <summary>
    /// A principal with only the claims <see cref="From"/> reads (<c>sub</c>, <c>role</c>, <c>sid</c>, <c>owner</c>, <c>exp</c>), for a
    /// request that lives as long as a WebSocket link: the validated token's own principal (about 20 claims and the parsed token,
    /// some 3 KiB) would stay referenced by the authentication middleware for the link's whole life (docs/benchmarks.md
    /// "Idle link memory").
    /// </summary>
    public static ClaimsPrincipal Slim(ClaimsPrincipal validated, string authenticationType)
    {
        var claims = new List<Claim>(5);
        foreach (var type in (ReadOnlySpan<string>)["sub", RoleClaim, SessionClaim, OwnerClaim, ExpiresClaim])
        {
            if (validated.FindFirst(type) is { } claim)
            {
                claims.Add(new Claim(type, claim.Value));
            }
        }
        return new ClaimsPrincipal(new ClaimsIdentity(claims, authenticationType));
    }

    public bool IsAdmin => Role == Roles.Admin;

    public bool IsAgent => Role == Roles.Agent;

    public bool Can(string permission) => Roles.Has(Role, permission);

    public static KaiPrincipal? From(ClaimsPrincipal user)
    {
        var id = user.FindFirstValue("sub");
        var role = user.FindFirstValue(RoleClaim);
        var sid = user.FindFirstValue(SessionClaim);
        if (id is null || role is null || sid is null || !long.TryParse(user.FindFirstValue(ExpiresClaim), out var exp))
        {
            return null;
        }
        return new KaiPrincipal(id, role, sid, user.FindFirstValue(OwnerClaim) ?? id, DateTimeOffset.FromUnixTimeSeconds(exp));
    }
}

internal static class PrincipalExtensions
{
    /// <summary>The caller of an endpoint that requires authorization; the auth handler guarantees the claims.</summary>
    public static KaiPrincipal Principal(this HttpContext context) =>
        KaiPrincipal.From(context.User) ?? throw new InvalidOperationException("The endpoint must require authorization.");
}
