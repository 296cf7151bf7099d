using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Protocol;
using Kai.Protocol.Frames;

namespace Kai.Hub.Edges;

/// <summary>
/// The one table of WebSocket frame types a client may send, per edge, with the permission each needs. A frame type that is not
/// here is refused as unsupported before any handler runs; a principal without the permission gets FORBIDDEN. New edges (the event
/// stream) add their rows here; the route inventory test requires a cross-tenant test for every row.
/// </summary>
internal static class FramePermissions
{
    /// <summary>The agent's own link, <c>/ws/agents/{id}</c> with the agent's token.</summary>
    public const string AgentLink = "agent-link/agent";

    /// <summary>An owner's or admin's observer link, <c>/ws/agents/{id}</c> with a user token.</summary>
    public const string ObserverLink = "agent-link/observer";

    /// <summary>The general event link <c>/ws</c>.</summary>
    public const string EventLink = "event-link";

    public static readonly IReadOnlyDictionary<(string Edge, string Type), string> Table = new Dictionary<(string, string), string>
    {
        [(AgentLink, FrameTypes.Heartbeat)] = Permissions.AgentHeartbeat,
        [(AgentLink, FrameTypes.AgentMessage)] = Permissions.AgentCommunicate,
        [(AgentLink, FrameTypes.CommandResult)] = Permissions.TaskExecute,
        [(AgentLink, FrameTypes.TaskUpdate)] = Permissions.TaskExecute,
        [(AgentLink, FrameTypes.Log)] = Permissions.AgentCommunicate,
        [(AgentLink, FrameTypes.StatusUpdate)] = Permissions.AgentHeartbeat,
        [(ObserverLink, FrameTypes.Command)] = Permissions.AgentCommandOwn,
        [(ObserverLink, FrameTypes.Heartbeat)] = Permissions.AgentReadOwn,
        [(AgentLink, FrameTypes.StreamChunk)] = Permissions.AgentCommunicate,
        [(ObserverLink, FrameTypes.StreamControl)] = Permissions.AgentCommandOwn,
        [(ObserverLink, FrameTypes.StreamResume)] = Permissions.AgentReadOwn,
        [(AgentLink, FrameTypes.Subscribe)] = Permissions.EventSubscribe,
        [(AgentLink, FrameTypes.Unsubscribe)] = Permissions.EventSubscribe,
        [(ObserverLink, FrameTypes.Subscribe)] = Permissions.EventSubscribe,
        [(ObserverLink, FrameTypes.Unsubscribe)] = Permissions.EventSubscribe,
        [(EventLink, FrameTypes.Subscribe)] = Permissions.EventSubscribe,
        [(EventLink, FrameTypes.Unsubscribe)] = Permissions.EventSubscribe,
        [(EventLink, FrameTypes.Heartbeat)] = Permissions.EventSubscribe,
        [(EventLink, FrameTypes.Publish)] = Permissions.EventPublish,
        [(ObserverLink, FrameTypes.Upload)] = Permissions.FileUpload,
        [(AgentLink, FrameTypes.RpcResponse)] = Permissions.AgentCommunicate,
        [(AgentLink, FrameTypes.Invocation)] = Permissions.AgentInvoke,
        [(AgentLink, FrameTypes.InvocationResult)] = Permissions.TaskExecute,
    };

    private static readonly HashSet<string> KnownTypes = Table.Keys.Select(k => k.Type).ToHashSet(StringComparer.Ordinal);

    /// <summary>Whether any edge declares this frame type.</summary>
    public static bool IsKnownType(string type) => KnownTypes.Contains(type);

    /// <summary>Throws UNSUPPORTED_FRAME for a type the edge does not take, FORBIDDEN when the principal lacks the permission.</summary>
    public static void Demand(string edge, string type, KaiPrincipal principal)
    {
        if (!Table.TryGetValue((edge, type), out var permission))
        {
            var allowed = string.Join(", ", Table.Keys.Where(k => k.Edge == edge).Select(k => k.Type));
            throw new ApiException(ErrorCodes.UnsupportedFrame, $"Frame type '{type}' is not accepted on this link; accepted: {allowed}.");
        }
        if (!principal.Can(permission))
        {
            throw new ApiException(ErrorCodes.Forbidden, $"The principal lacks '{permission}', which '{type}' frames require.",
                new Dictionary<string, string> { ["permission"] = permission });
        }
    }
}
