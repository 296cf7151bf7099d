using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Protocol.Frames;

namespace Kai.Hub.Routing;

/// <summary>
/// An event to publish on the bus (seed 004 "WebSocket Event Types"). The topic is <paramref name="EventType"/> with
/// <paramref name="Subject"/> inserted after the first segment (<see cref="Topics.ForEvent"/>): <c>task.completed</c>
/// about task type <c>code_generation</c> goes to <c>task.code_generation.completed</c>.
/// </summary>
/// <param name="EventType">The seed 004 event type, for example <c>task.completed</c>.</param>
/// <param name="Subject">The subject id for the topic (agent id, task type, workflow id), or null (<c>system.alert</c>).</param>
/// <param name="Payload">Any object, serialized with the wire settings (snake_case).</param>
/// <param name="OwnerId">The tenant (user id) whose view the event belongs to; null makes it visible to every principal. Never sent on the wire.</param>
/// <param name="SourceAgent">The agent that caused it, if any.</param>
/// <param name="TargetAgent">The agent it is for, if any.</param>
/// <param name="CorrelationId">A correlation id, if any (a workflow id, a command id).</param>
/// <param name="Topic">Overrides the computed topic (client publications use their topic as event type).</param>
public sealed record SystemEvent(
    string EventType, string? Subject, object? Payload, string? OwnerId,
    string? SourceAgent = null, string? TargetAgent = null, string? CorrelationId = null, string? Topic = null);

