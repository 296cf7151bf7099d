namespace Kai.Hub.Auth;

/// <summary>
/// The roles and their permissions (seed 000, "Role-Based Access Control"). <c>developer</c> inherits
/// <c>user</c>; <c>admin</c> inherits both. <c>agent</c> stands alone. Permissions the seed leaves out but the
/// routes need (<c>agent.command.own</c>, <c>task.read.own</c>, <c>agent.heartbeat</c>) are marked below.
/// </summary>
public static class Roles
{
    public const string User = "user";
    public const string Developer = "developer";
    public const string Agent = "agent";
    public const string Admin = "admin";

    private static readonly string[] UserPermissions =
    [
        Permissions.AgentCreate, Permissions.AgentReadOwn, Permissions.AgentUpdateOwn, Permissions.AgentDeleteOwn,
        Permissions.FileUpload, Permissions.FileDownloadOwn,
        Permissions.AgentCommandOwn, Permissions.TaskReadOwn, Permissions.AgentHeartbeat, Permissions.TaskCreate, Permissions.SessionSelf,
        Permissions.EventSubscribe, Permissions.EventPublish, Permissions.RpcCall, Permissions.AgentInvoke,
    ];

    private static readonly string[] DeveloperPermissions =
        [.. UserPermissions, Permissions.AgentDebug, Permissions.AgentLogsRead, Permissions.SystemMetricsRead, Permissions.ApiAdvanced];

    private static readonly string[] AgentPermissions =
        [Permissions.AgentCommunicate, Permissions.FileReadAssigned, Permissions.TaskExecute, Permissions.SystemResourcesRead, Permissions.AgentHeartbeat, Permissions.TaskCreate, Permissions.SessionSelf,
        Permissions.EventSubscribe, Permissions.EventPublish, Permissions.RpcCall, Permissions.AgentInvoke];

    private static readonly string[] AdminPermissions =
        [.. DeveloperPermissions, Permissions.SystemConfigWrite, Permissions.UserManage, Permissions.AgentManageAll, Permissions.SystemAdmin, Permissions.AuditRead,
        Permissions.AgentCreateShell];

    public static IReadOnlyList<string> All { get; } = [User, Developer, Agent, Admin];

    public static IReadOnlyList<string> PermissionsOf(string role) => role switch
    {
        User => UserPermissions,
        Developer => DeveloperPermissions,
        Agent => AgentPermissions,
        Admin => AdminPermissions,
        _ => [],
    };

    public static bool IsRole(string? role) => role is User or Developer or Agent or Admin;

    public static bool Has(string role, string permission) => PermissionsOf(role).Contains(permission, StringComparer.Ordinal);
}

/// <summary>Permission names (seed 000). The ones marked "hub" are this hub's additions.</summary>
public static class Permissions
{
    public const string AgentCreate = "agent.create";
    public const string AgentReadOwn = "agent.read.own";
    public const string AgentUpdateOwn = "agent.update.own";
    public const string AgentDeleteOwn = "agent.delete.own";
    public const string FileUpload = "file.upload";
    public const string FileDownloadOwn = "file.download.own";
    public const string AgentDebug = "agent.debug";
    public const string AgentLogsRead = "agent.logs.read";
    public const string SystemMetricsRead = "system.metrics.read";
    public const string ApiAdvanced = "api.advanced";
    public const string AgentCommunicate = "agent.communicate";
    public const string FileReadAssigned = "file.read.assigned";
    public const string TaskExecute = "task.execute";
    public const string SystemResourcesRead = "system.resources.read";
    public const string SystemConfigWrite = "system.config.write";
    public const string UserManage = "user.manage";
    public const string AgentManageAll = "agent.manage.all";
    public const string SystemAdmin = "system.admin";

    /// <summary>Hub: send commands to (and restart) one's own agents.</summary>
    public const string AgentCommandOwn = "agent.command.own";
    /// <summary>Hub: read the status of one's own commands and tasks.</summary>
    public const string TaskReadOwn = "task.read.own";
    /// <summary>Hub: report a heartbeat for an agent (the agent itself, or its owner).</summary>
    public const string AgentHeartbeat = "agent.heartbeat";
    /// <summary>Hub: create, cancel and re-drive durable tasks, workflows and schedules of one's own owner.</summary>
    public const string TaskCreate = "task.create";
    /// <summary>Hub: read and end one's own session (every role).</summary>
    public const string SessionSelf = "session.self";
    /// <summary>Hub: read the audit log (admin).</summary>
    public const string AuditRead = "audit.read";
    /// <summary>Hub: subscribe to the events one may see (<c>/ws</c>, SSE, polling).</summary>
    public const string EventSubscribe = "event.subscribe";
    /// <summary>Hub: publish client events under the role's namespaces.</summary>
    public const string EventPublish = "event.publish";
    /// <summary>Hub: make AMRI RPC calls (seed 001) to agents the caller may reach; the router's authorize filter decides which.</summary>
    public const string RpcCall = "rpc.call";
    /// <summary>Hub: invoke agents through KAIL (<c>POST /api/v1/invocations</c>, <c>invocation</c> frames, seed 002); what may be invoked is <see cref="Access.MayInvoke"/>.</summary>
    public const string AgentInvoke = "agent.invoke";
    /// <summary>
    /// Hub: create or reconfigure a <c>shell</c> agent (an allow-listed executable the hub runs as a child process, issue 11 item 14).
    /// Admins only by default: a shell agent runs on the hub's machine, so <see cref="AgentCreate"/> alone is not enough.
    /// </summary>
    public const string AgentCreateShell = "agent.create.shell";
}
