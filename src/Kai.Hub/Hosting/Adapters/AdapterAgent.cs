using System.Collections.Concurrent;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Kail;
using Kai.Protocol.Rpc;

namespace Kai.Hub.Hosting.Adapters;

/// <summary>
/// A webhook, custom-API or shell agent run by the hub: each delivery becomes one <see cref="ExternalCall"/> of its adapter, and
/// the answer goes back as the frame a live agent would send. A <c>command</c> gets a <c>command_result</c> (the output as
/// <c>result</c>); a <c>task</c> gets <c>task_update</c> in_progress then completed or failed; an <c>agent_message</c> with
/// <c>requires_response</c> gets an <c>agent_message</c> back; an <c>rpc_request</c> an <c>rpc_response</c>; an
/// <c>invocation</c> an <c>invocation_result</c>. Failures carry the adapter's code (<c>ADAPTER_TIMEOUT: …</c>).
/// </summary>
internal sealed class AdapterAgent(string agentId, string ownerId, string type, IExternalAdapter adapter, TimeProvider time) : IHostedRuntime
{
    private readonly ConcurrentDictionary<string, CancellationTokenSource> _tasks = new(StringComparer.Ordinal);

    public string AgentId => agentId;

    public string OwnerId => ownerId;

    public string Describe => $"{type}: {adapter.Describe}";

    public IExternalAdapter Adapter => adapter;

    /// <summary><c>webhook</c>, <c>customapi</c> or <c>shell</c>.</summary>
    public string Type => type;

    public async Task HandleAsync(Frame frame, IHostedOutbox outbox, CancellationToken ct)
    {
        switch (frame.Type)
        {
            case FrameTypes.Command when frame.PayloadAs<CommandPayload>() is { } command:
                await CommandAsync(command, outbox, ct);
                break;
            case FrameTypes.Task when frame.PayloadAs<TaskPayload>() is { } task:
                await TaskAsync(task, outbox, ct);
                break;
            case FrameTypes.AgentMessage when frame.PayloadAs<AgentMessageDelivery>() is { RequiresResponse: true } message:
                await MessageAsync(message, outbox, ct);
                break;
            case FrameTypes.RpcRequest when frame.PayloadAs<RpcRequest>() is { } request:
                await RpcAsync(request, outbox, ct);
                break;
            case FrameTypes.Invocation when frame.PayloadAs<AgentInvocation>() is { } invocation:
                await InvocationAsync(invocation, outbox, ct);
                break;
            case FrameTypes.TaskCancel:
                if (frame.PayloadAs<TaskCancelPayload>() is { } cancel && _tasks.TryGetValue(cancel.TaskId, out var cts))
                {
                    await cts.CancelAsync();
                }
                break;
            default:
                break;
        }
    }

    private async Task CommandAsync(CommandPayload command, IHostedOutbox outbox, CancellationToken ct)
    {
        try
        {
            var r = await adapter.InvokeAsync(new ExternalCall("command", command.CommandId, agentId, command.Command, command.Parameters), ct);
            await outbox.SendAsync(FrameTypes.CommandResult, new CommandResultPayload(command.CommandId, CommandStatuses.Completed, r.Output), null);
        }
        catch (AdapterException e)
        {
            await outbox.SendAsync(FrameTypes.CommandResult, new CommandResultPayload(command.CommandId, CommandStatuses.Failed, null, $"{e.Code}: {e.Message}"), null);
        }
    }

    private async Task TaskAsync(TaskPayload task, IHostedOutbox outbox, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        _tasks[task.TaskId] = cts;
        try
        {
            await outbox.SendAsync(FrameTypes.TaskUpdate, new TaskUpdatePayload(task.TaskId, "in_progress", 0, FencingToken: task.FencingToken), null);
            var r = await adapter.InvokeAsync(new ExternalCall("task", task.TaskId, agentId, task.Type, task.InputData), cts.Token);
            await outbox.SendAsync(FrameTypes.TaskUpdate, new TaskUpdatePayload(task.TaskId, "completed", 100, r.Output, FencingToken: task.FencingToken), null);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            // task_cancel: the hub already ended the attempt.
        }
        catch (AdapterException e)
        {
            await outbox.SendAsync(FrameTypes.TaskUpdate, new TaskUpdatePayload(task.TaskId, "failed", Error: $"{e.Code}: {e.Message}", FencingToken: task.FencingToken), null);
        }
        finally
        {
            _tasks.TryRemove(task.TaskId, out _);
        }
    }

    private async Task MessageAsync(AgentMessageDelivery message, IHostedOutbox outbox, CancellationToken ct)
    {
        JsonElement content;
        try
        {
            content = (await adapter.InvokeAsync(new ExternalCall("message", message.CorrelationId ?? Guid.NewGuid().ToString("N"), agentId,
                message.MessageType, message.Content, Sender: message.FromAgent), ct)).Output;
        }
        catch (AdapterException e)
        {
            content = JsonSerializer.SerializeToElement(new { error = $"{e.Code}: {e.Message}" });
        }
        await outbox.SendAsync(FrameTypes.AgentMessage, new AgentMessageSend(message.FromAgent, message.MessageType, content, false, message.CorrelationId), null);
    }

    private async Task RpcAsync(RpcRequest request, IHostedOutbox outbox, CancellationToken ct)
    {
        JsonElement? result = null;
        RpcError? error = null;
        try
        {
            result = (await adapter.InvokeAsync(new ExternalCall("rpc", request.Id ?? Guid.NewGuid().ToString("N"), agentId, request.Method ?? "",
                request.Params ?? default, Sender: request.Origin), ct)).Output;
        }
        catch (AdapterException e)
        {
            error = new RpcError(ErrorCodes.HttpStatus(e.Code), e.Message, e.Code);
        }
        await outbox.SendAsync(FrameTypes.RpcResponse, new RpcResponse(request.Id, agentId, request.Origin, time.GetUtcNow().ToUnixTimeSeconds(), result, error, null), null);
    }

    private async Task InvocationAsync(AgentInvocation invocation, IHostedOutbox outbox, CancellationToken ct)
    {
        var hopId = invocation.Context.HopId;
        InvocationResultPayload answer;
        try
        {
            var r = await adapter.InvokeAsync(new ExternalCall("invocation", hopId ?? invocation.Id, agentId, invocation.Intent, invocation.Payload.Input,
                invocation.Payload.Options, invocation.Context.ThreadId, invocation.Sender), ct);
            answer = new InvocationResultPayload(invocation.Id, hopId, InvocationStatuses.Completed, r.Output);
        }
        catch (AdapterException e)
        {
            answer = new InvocationResultPayload(invocation.Id, hopId, InvocationStatuses.Failed, null, new InvocationError(e.Code, e.Message));
        }
        await outbox.SendAsync(FrameTypes.InvocationResult, answer, null);
    }
}
