using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Protocol;

namespace Kai.Hub.Events;

/// <summary>
/// Who sees which events, and who may publish where (docs/protocol.md, "Events: authorization").
/// </summary>
/// <remarks>
/// Every event carries its tenant (the owning user id) internally; it is never put on the wire. A principal sees
/// events of its own tenant (a user: about its agents, tasks and workflows; an agent: about itself and the other
/// agents of its owner) and tenant-less events (<c>system.&gt;</c>); an admin sees everything.
/// Client publications are stamped with the publisher's tenant, so a publication can only ever reach the
/// publisher's own tenant (and admins): there is no way to publish into another tenant's view.
/// </remarks>
internal static class EventAccess
{
    /// <summary>Namespaces open to every role; the event belongs to the publisher's tenant.</summary>
    public static readonly string[] TenantNamespaces = ["app", "custom"];

    /// <summary>The namespace only admins may publish to; such events are visible to every principal.</summary>
    public const string SystemNamespace = "system";

    public static bool CanSee(KaiPrincipal principal, string? ownerId) =>
        ownerId is null || principal.IsAdmin || principal.OwnerId == ownerId;

    /// <summary>Checks that <paramref name="principal"/> may publish to <paramref name="topic"/> and returns the tenant to stamp (null: everyone).</summary>
    public static string? PublishScope(KaiPrincipal principal, string topic)
    {
        var first = topic.Split('.', 2)[0];
        if (TenantNamespaces.Contains(first, StringComparer.Ordinal))
        {
            return principal.OwnerId;
        }
        if (first == SystemNamespace && principal.IsAdmin)
        {
            return null;
        }
        throw new ApiException(ErrorCodes.Forbidden,
            $"Topic '{topic}' is not in a namespace this principal may publish to ({(principal.IsAdmin ? "app.>, custom.>, system.>" : "app.>, custom.>")}); agent.>, task.>, workflow.>, command.> and stream.> are the hub's own.",
            new Dictionary<string, string> { ["topic"] = topic });
    }
}
