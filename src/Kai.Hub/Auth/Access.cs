using Kai.Hub.Errors;
using Kai.Protocol;

namespace Kai.Hub.Auth;

/// <summary>
/// The one ownership and reach policy of the hub. Every REST handler, frame handler, service and the router's
/// authorize filter asks here; no other file compares owners (the architecture test enforces it).
/// </summary>
/// <remarks>
/// <para>Every resource belongs to a tenant: the id of the user who owns it (an agent's owner, a task's owner). A
/// principal acts for one tenant, its <see cref="KaiPrincipal.OwnerId"/>: a user for itself, an agent for its owner.
/// Admins and the hub itself (<see cref="KaiPrincipal.System"/>) act for every tenant.</para>
/// <para>Anything a principal may not access is reported as not found, so ids of other tenants cannot be probed.</para>
/// </remarks>
internal static class Access
{
    /// <summary>Admins and the hub act for every tenant.</summary>
    public static bool IsUnrestricted(KaiPrincipal principal) => principal.IsAdmin || principal.IsSystem;

    /// <summary>Whether <paramref name="principal"/> may read or act on a resource of <paramref name="tenant"/> (tasks, workflows, schedules, commands, streams, files).</summary>
    public static bool MayAccess(KaiPrincipal principal, string tenant) => IsUnrestricted(principal) || principal.OwnerId == tenant;

    /// <summary>Whether an event of <paramref name="tenant"/> is visible; tenant-less events (<c>system.&gt;</c>) are visible to all.</summary>
    public static bool CanSeeEvent(KaiPrincipal principal, string? tenant) => tenant is null || MayAccess(principal, tenant);

    /// <summary>
    /// Whether <paramref name="principal"/> may manage an agent's record and open its link: an admin, the owning user, or
    /// the agent itself. An agent does not manage its siblings (it may still message them: <see cref="MayReach"/>).
    /// An agent token counts only for the incarnation of the agent it was issued for: same id, same owner, and the session of
    /// the agent's current client secret (<see cref="AuthService.AgentSessionId"/>). A deleted agent's token therefore never
    /// matches an agent re-registered under the same id, nor the agent after its secret was rotated.
    /// </summary>
    public static bool MayManageAgent(KaiPrincipal principal, Storage.AgentRecord agent) =>
        IsUnrestricted(principal) || (principal.IsAgent
            ? principal.Id == agent.AgentId && principal.OwnerId == agent.OwnerId && principal.SessionId == AuthService.AgentSessionId(agent.SecretHash)
            : principal.Id == agent.OwnerId);

    /// <summary>Whether <paramref name="sender"/> may route to a target of <paramref name="targetTenant"/>: by default, the same tenant only.</summary>
    public static bool MayReach(KaiPrincipal sender, string targetTenant) => MayAccess(sender, targetTenant);

    /// <summary>
    /// Agent-to-agent and user-to-agent KAIL invocations (seed 002 §VIII "role-based permissions for agent-to-agent calls"): whether
    /// <paramref name="sender"/> may invoke <paramref name="intent"/> of agent <paramref name="targetAgentId"/> (of <paramref name="targetTenant"/>).
    /// By default, the same owner only (<see cref="MayReach"/>); the grants of <c>Kai:Kail:Permissions</c> open more: a grant names
    /// principals (ids) and/or roles, targets (agent ids or handles) and intents, <c>*</c> for any. With <c>Kai:Kail:DefaultSameOwner</c>
    /// false, only grants allow (the owner's own agents included). Admins and the hub are not asked (the router lets them through).
    /// </summary>
    /// <returns><see cref="InvokeVerdict.Allowed"/>; <see cref="InvokeVerdict.Forbidden"/> when the sender may see the target (same tenant)
    /// but no rule allows this intent; <see cref="InvokeVerdict.Hidden"/> for another tenant's agent (reported as not found).</returns>
    public static InvokeVerdict MayInvoke(KaiPrincipal sender, string targetTenant, string targetAgentId, string intent, InvocationPolicyOptions policy)
    {
        var sameTenant = MayReach(sender, targetTenant);
        if (sameTenant && policy.DefaultSameOwner)
        {
            return InvokeVerdict.Allowed;
        }
        foreach (var grant in policy.Permissions)
        {
            if (grant.Matches(sender, targetAgentId, intent))
            {
                return InvokeVerdict.Allowed;
            }
        }
        return sameTenant ? InvokeVerdict.Forbidden : InvokeVerdict.Hidden;
    }

    /// <summary>
    /// Signed KAIL envelopes (seed 002 §VIII): whether <paramref name="sender"/> may sign with a key registered under agent
    /// <paramref name="keyAgentId"/> of <paramref name="keyOwner"/>. An agent signs with its own keys only; a user (admins included) with
    /// the keys of its own agents. A key of anyone else is treated as unknown.
    /// </summary>
    public static bool MaySignWith(KaiPrincipal sender, string keyAgentId, string keyOwner) =>
        sender.IsAgent ? sender.Id == keyAgentId && sender.OwnerId == keyOwner : !sender.IsSystem && sender.Id == keyOwner;

    /// <summary>
    /// Files (seed 000 RBAC): admins read every file; a user the files of its tenant (<c>file.download.own</c>); an agent only the
    /// files assigned to it (<c>file.read.assigned</c>), and the files referenced by work it holds now (issue 13 item 7).
    /// </summary>
    /// <remarks><c>heldWorkTenants</c>, for an agent: the tenants of the work (tasks, commands, invocations) that references this file
    /// (or that the file is an artifact of) and that the agent holds now. A reference counts only for a file of the work's own tenant,
    /// so work of one tenant never opens a file of another.</remarks>
    public static bool MayReadFile(KaiPrincipal p, string tenant, string? assignedAgent, IReadOnlyCollection<string>? heldWorkTenants = null) =>
        IsUnrestricted(p)
        || (p.IsAgent
            ? p.Can(Permissions.FileReadAssigned) && (assignedAgent == p.Id || (heldWorkTenants is not null && heldWorkTenants.Contains(tenant, StringComparer.Ordinal)))
            : p.Can(Permissions.FileDownloadOwn) && tenant == p.Id);

    /// <summary>
    /// Task artifacts (issue 13 item 7): the agent that holds the task now (<c>task.execute</c>), or a user of the task's tenant
    /// (<c>file.upload</c>), or an admin, may upload an artifact of a task of <paramref name="taskTenant"/>.
    /// </summary>
    public static bool MayAddArtifact(KaiPrincipal p, string taskTenant, bool heldByPrincipal) =>
        IsUnrestricted(p)
        || (p.IsAgent ? p.Can(Permissions.TaskExecute) && heldByPrincipal && p.OwnerId == taskTenant : p.Can(Permissions.FileUpload) && p.Id == taskTenant);

    /// <summary>Only the owning user (or an admin) deletes a file; agents never do.</summary>
    public static bool MayDeleteFile(KaiPrincipal p, string tenant) => IsUnrestricted(p) || (!p.IsAgent && tenant == p.Id);

    /// <summary>Whether a resource of <paramref name="resourceTenant"/> belongs to <paramref name="tenant"/> (an agent reporting on its owner's task).</summary>
    public static bool IsTenant(string resourceTenant, string tenant) => resourceTenant == tenant;

    /// <summary>The tenant a list query is limited to: null (all) for admins and the hub, else the principal's tenant.</summary>
    public static string? TenantScope(KaiPrincipal principal) => IsUnrestricted(principal) ? null : principal.OwnerId;

    /// <summary>Topic namespaces open to every role; an event published there belongs to the publisher's tenant.</summary>
    public static readonly string[] TenantNamespaces = ["app", "custom"];

    /// <summary>The namespace only admins may publish to; such events are visible to every principal.</summary>
    public const string SystemNamespace = "system";

    /// <summary>
    /// The tenant a client publication to <paramref name="topic"/> is stamped with (null: visible to everyone), after checking
    /// that <paramref name="principal"/> may publish there (docs/protocol.md, "Events: authorization").
    /// </summary>
    /// <exception cref="ApiException">FORBIDDEN for a namespace the principal may not publish to (the hub's own: agent., task., ...).</exception>
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

    /// <summary>Whether an event of <paramref name="tenant"/> on <paramref name="topic"/> may come from <paramref name="sender"/> (the router's check of every publication).</summary>
    public static bool MayPublish(KaiPrincipal sender, string topic, string? tenant)
    {
        if (sender.IsSystem)
        {
            return true;
        }
        var first = topic.Split('.', 2)[0];
        if (TenantNamespaces.Contains(first, StringComparer.Ordinal))
        {
            return tenant == sender.OwnerId;
        }
        return first == SystemNamespace && sender.IsAdmin && tenant is null;
    }
}

/// <summary>The answer of <see cref="Access.MayInvoke"/>.</summary>
internal enum InvokeVerdict
{
    Allowed,
    /// <summary>The target is visible to the sender, the intent is not granted: FORBIDDEN.</summary>
    Forbidden,
    /// <summary>Another tenant's agent, not granted: reported as not found (no probing).</summary>
    Hidden,
}

/// <summary>The invocation permission policy, bound from <c>Kai:Kail</c> (<c>Permissions</c>, <c>DefaultSameOwner</c>); read by <see cref="Access.MayInvoke"/> only.</summary>
internal sealed class InvocationPolicyOptions
{
    /// <summary>Whether a principal may invoke every intent of its own tenant's agents without a grant (seed default: yes).</summary>
    public bool DefaultSameOwner { get; set; } = true;

    /// <summary>Grants beyond the default, in order.</summary>
    public List<InvocationGrant> Permissions { get; set; } = [];
}

/// <summary>
/// One grant: senders (<see cref="Principals"/> ids or <see cref="Roles"/>; either list matching suffices) may invoke <see cref="Intents"/>
/// of <see cref="Targets"/> (agent ids, or handles <c>kah:agent.local.&lt;id&gt;</c>). <c>*</c> matches anything; an empty list matches nothing.
/// </summary>
internal sealed class InvocationGrant
{
    public List<string> Principals { get; set; } = [];

    public List<string> Roles { get; set; } = [];

    public List<string> Targets { get; set; } = [];

    public List<string> Intents { get; set; } = [];

    public bool Matches(KaiPrincipal sender, string targetAgentId, string intent) =>
        (Principals.Any(p => p == "*" || p == sender.Id) || Roles.Any(r => r == "*" || r == sender.Role))
        && Targets.Any(t => t == "*" || t == targetAgentId || t == Kai.Protocol.Kail.KailTypes.LocalHandle(targetAgentId))
        && Intents.Any(i => i == "*" || i == intent);
}
