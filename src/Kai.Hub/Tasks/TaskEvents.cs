using System.Text.Json;
using Kai.Hub.Messaging;
using Kai.Hub.Storage;
using Kai.Protocol;
using Kai.Protocol.Frames;

namespace Kai.Hub.Tasks;

/// <summary>
/// Emits task and workflow events in the seed 004 message format as <c>event</c> frames. Today they go through the router to the
/// observer links of the owner's agents (each observer link belongs to one agent, so routing to <c>ObserversOf</c> every such agent
/// reaches each link once). This is the one place a pub/sub bus will take over (topics <c>task.{type}.{event}</c>).
/// Events are live: at most once, not stored.
/// </summary>
internal sealed class TaskEvents(Router router, ConnectionRegistry links, TimeProvider time)
{
    public Task TaskAsync(string eventType, TaskRecord t, object? details = null) =>
        EmitAsync(t.OwnerId, eventType, t.CurrentAgent, t.AssignedAgent, t.ParentWorkflowId ?? t.TaskId, new Dictionary<string, object?>
        {
            ["task_id"] = t.TaskId,
            ["type"] = t.Type,
            ["status"] = t.Status,
            ["progress"] = t.Progress,
            ["attempt"] = t.Attempts,
            ["result"] = Json(t.ResultJson),
            ["error"] = t.Error,
            ["error_code"] = t.ErrorCode,
            ["workflow_id"] = t.ParentWorkflowId,
            ["stage"] = t.StageName,
            ["details"] = details,
        });

    public Task WorkflowAsync(string eventType, WorkflowRecord w, TaskRecord? stage = null, string? error = null) =>
        EmitAsync(w.OwnerId, eventType, stage?.CurrentAgent, null, w.WorkflowId, new Dictionary<string, object?>
        {
            ["workflow_id"] = w.WorkflowId,
            ["name"] = w.Name,
            ["status"] = w.Status,
            ["stage"] = stage?.StageName,
            ["task_id"] = stage?.TaskId,
            ["result"] = Json(stage?.ResultJson),
            ["error"] = error ?? w.Error,
        });

    private async Task EmitAsync(string ownerId, string eventType, string? source, string? target, string? correlationId, Dictionary<string, object?> payload)
    {
        var agents = links.ObserverLinks.Where(l => l.OwnerId == ownerId).Select(l => l.AgentId).Distinct(StringComparer.Ordinal).ToList();
        if (agents.Count == 0)
        {
            return;
        }
        foreach (var key in payload.Where(kv => kv.Value is null).Select(kv => kv.Key).ToList())
        {
            payload.Remove(key);
        }
        var now = time.GetUtcNow();
        var message = new EventMessage("evt_" + Guid.CreateVersion7().ToString("N"), now, eventType, source, target, correlationId,
            JsonSerializer.SerializeToElement(payload, KaiJson.Options));
        var frame = Frame.Create(FrameTypes.Event, message, timestamp: now).ToUtf8();
        foreach (var agentId in agents)
        {
            await router.RouteAsync(new Envelope(FrameTypes.Event, Address.ObserversOf(agentId), frame, null), CancellationToken.None);
        }
    }

    private static JsonElement? Json(string? raw) => raw is null ? null : JsonDocument.Parse(raw).RootElement.Clone();
}
