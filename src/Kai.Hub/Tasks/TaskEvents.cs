using System.Text.Json;
using Kai.Hub.Auth;
using Kai.Hub.Routing;
using Kai.Hub.Storage;
using Kai.Protocol;
using Kai.Protocol.Frames;

namespace Kai.Hub.Tasks;

/// <summary>
/// Emits task and workflow events in the seed 004 message format: published through the router on the event log (topics
/// <c>task.{task_type}.{event}</c> and <c>workflow.{workflow_id}.{event}</c>, with history and recovery), and the same
/// <c>event</c> frame is routed to the owner's observer links (<see cref="Address.User"/>). Events are live: at most once.
/// </summary>
internal sealed class TaskEvents(Router router)
{
    public Task TaskAsync(string eventType, TaskRecord t, object? details = null) =>
        EmitAsync(t.OwnerId, eventType, t.Type, t.CurrentAgent, t.AssignedAgent, t.ParentWorkflowId ?? t.TaskId, new Dictionary<string, object?>
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
            ["parent_workflow_id"] = t.ParentWorkflowId,
            ["priority"] = t.Priority,
            ["project_id"] = ProjectId(t.InputJson),
            ["stage"] = t.StageName,
            ["details"] = details,
        });

    /// <summary>Seed 004's <c>project_id</c> filter key: <c>input_data.project_id</c>, else <c>input_data.metadata.project_id</c>.</summary>
    private static string? ProjectId(string inputJson)
    {
        using var doc = JsonDocument.Parse(inputJson);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        if (root.TryGetProperty("project_id", out var direct) && direct.ValueKind == JsonValueKind.String)
        {
            return direct.GetString();
        }
        return root.TryGetProperty("metadata", out var meta) && meta.ValueKind == JsonValueKind.Object
            && meta.TryGetProperty("project_id", out var nested) && nested.ValueKind == JsonValueKind.String ? nested.GetString() : null;
    }

    public Task WorkflowAsync(string eventType, WorkflowRecord w, TaskRecord? stage = null, string? error = null) =>
        EmitAsync(w.OwnerId, eventType, w.WorkflowId, stage?.CurrentAgent, null, w.WorkflowId, new Dictionary<string, object?>
        {
            ["workflow_id"] = w.WorkflowId,
            ["name"] = w.Name,
            ["status"] = w.Status,
            ["stage"] = stage?.StageName,
            ["task_id"] = stage?.TaskId,
            ["result"] = Json(stage?.ResultJson),
            ["error"] = error ?? w.Error,
        });

    private async Task EmitAsync(
        string ownerId, string eventType, string subject, string? source, string? target, string? correlationId, Dictionary<string, object?> payload)
    {
        foreach (var key in payload.Where(kv => kv.Value is null).Select(kv => kv.Key).ToList())
        {
            payload.Remove(key);
        }
        var published = await router.PublishAsync(new SystemEvent(eventType, Topics.Segment(subject), payload, ownerId, source, target, correlationId), KaiPrincipal.System);
        await router.RouteAsync(new Envelope(FrameTypes.Event, Address.User(ownerId), published.Frame, KaiPrincipal.System), CancellationToken.None);
    }

    private static JsonElement? Json(string? raw) => raw is null ? null : JsonDocument.Parse(raw).RootElement.Clone();
}
