using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Serialization;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Protocol.Frames;

namespace Kai.Hub.Hosting;

/// <summary>
/// Where a hosted agent's frames go: the frames an agent sends on its live link (<c>command_result</c>,
/// <c>task_update</c>, <c>agent_message</c>, <c>stream_chunk</c>), with the payload records of <c>Kai.Protocol.Frames</c>.
/// The lead wires it to the hub's agent-frame handling; today <see cref="HostedAgentSupervisor"/> bridges it.
/// </summary>
internal interface IHostedOutbox
{
    /// <summary>Sends one frame as the agent.</summary>
    /// <param name="type">A <see cref="FrameTypes"/> name.</param>
    /// <param name="payload">Its payload record, for example <see cref="CommandResultPayload"/>.</param>
    /// <param name="id">Optional frame id.</param>
    Task SendAsync(string type, object payload, string? id);
}

/// <summary>A hosted agent's settings, resolved from its stored config, its provider and its secret.</summary>
internal sealed record HostedAgentDefinition(
    string AgentId, string OwnerId, string ProviderName, ProviderOptions Provider, string Model, Uri BaseUrl, string? ApiKey,
    string? SystemPrompt, float? Temperature, int? MaxTokens);

/// <summary>
/// An LLM agent run inside the hub, speaking the agent wire protocol frame in, frame out (docs/protocol.md): a
/// <c>command</c> (<c>chat</c>, <c>ask</c>, <c>complete</c>) gets a <c>command_result</c>; a <c>task</c> gets
/// <c>task_update</c> in_progress then completed or failed; an <c>agent_message</c> with <c>requires_response</c> gets an
/// <c>agent_message</c> back; with <c>stream: true</c> tokens go out as <c>stream_chunk</c> frames first.
/// </summary>
/// <remarks>
/// Parameters (command <c>parameters</c>, task <c>input_data</c>, message <c>content</c>):
/// <c>{prompt | messages[{role, content}], thread_id?, model?, temperature?, max_tokens?, stream?, stream_id?}</c>; a
/// message's content may also be a plain string (the prompt). With <c>thread_id</c>, the thread's earlier turns (kept per
/// agent and thread, at most <see cref="HostingOptions.HistoryLimit"/>) precede the new ones, and the new turns and
/// the answer are appended. The result is <c>{text, model, thread_id, usage{input_tokens, output_tokens}, retries}</c>.
/// </remarks>
internal sealed class HostedAgent(
    HostedAgentDefinition definition, IAgentInterfaceAdapter adapter, IHostedAgentStore store, HostingOptions options, TimeProvider time)
    : IHostedRuntime
{
    public static readonly IReadOnlyList<string> ChatCommands = ["chat", "ask", "complete"];

    private readonly ConcurrentDictionary<string, CancellationTokenSource> _tasks = new(StringComparer.Ordinal);

    public HostedAgentDefinition Definition => definition;

    public string AgentId => definition.AgentId;

    public string OwnerId => definition.OwnerId;

    public string Describe => $"{definition.ProviderName}, model {definition.Model}";

    public async Task HandleAsync(Frame frame, IHostedOutbox outbox, CancellationToken ct)
    {
        switch (frame.Type)
        {
            case FrameTypes.Command:
                await CommandAsync(frame.PayloadAs<CommandPayload>()!, outbox, ct);
                break;
            case FrameTypes.Task:
                await TaskAsync(frame.PayloadAs<TaskPayload>()!, outbox, ct);
                break;
            case FrameTypes.AgentMessage:
                await MessageAsync(frame.PayloadAs<AgentMessageDelivery>()!, outbox, ct);
                break;
            case FrameTypes.RpcRequest:
                await RpcAsync(frame.PayloadAs<Kai.Protocol.Rpc.RpcRequest>()!, outbox, ct);
                break;
            case FrameTypes.Invocation:
                await InvocationAsync(frame.PayloadAs<Kai.Protocol.Kail.AgentInvocation>()!, outbox, ct);
                break;
            case FrameTypes.TaskCancel:
                if (frame.PayloadAs<TaskCancelPayload>() is { } cancel && _tasks.TryGetValue(cancel.TaskId, out var cts))
                {
                    await cts.CancelAsync();
                }
                break;
            default:
                // welcome, ack, error, status_update, log: nothing for an LLM agent to do.
                break;
        }
    }

    private async Task CommandAsync(CommandPayload command, IHostedOutbox outbox, CancellationToken ct)
    {
        if (!ChatCommands.Contains(command.Command, StringComparer.Ordinal))
        {
            await outbox.SendAsync(FrameTypes.CommandResult, new CommandResultPayload(command.CommandId, CommandStatuses.Failed, null,
                $"{ErrorCodes.ValidationError}: unknown command '{command.Command}'; a hosted LLM agent answers {string.Join(", ", ChatCommands)}."), null);
            return;
        }
        try
        {
            var result = await ChatAsync(command.Parameters, command.CommandId, outbox, ct);
            await outbox.SendAsync(FrameTypes.CommandResult, new CommandResultPayload(command.CommandId, CommandStatuses.Completed, result), null);
        }
        catch (Exception e) when (Failure(e) is { } error)
        {
            await outbox.SendAsync(FrameTypes.CommandResult, new CommandResultPayload(command.CommandId, CommandStatuses.Failed, null, error), null);
        }
    }

    private async Task TaskAsync(TaskPayload task, IHostedOutbox outbox, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        _tasks[task.TaskId] = cts;
        try
        {
            await outbox.SendAsync(FrameTypes.TaskUpdate, new TaskUpdatePayload(task.TaskId, "in_progress", 0, FencingToken: task.FencingToken), null);
            var result = await ChatAsync(task.InputData, task.TaskId, outbox, cts.Token);
            await outbox.SendAsync(FrameTypes.TaskUpdate, new TaskUpdatePayload(task.TaskId, "completed", 100, result, FencingToken: task.FencingToken), null);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            // task_cancel: the hub already ended the attempt; further updates would be refused.
        }
        catch (Exception e) when (Failure(e) is { } error)
        {
            await outbox.SendAsync(FrameTypes.TaskUpdate, new TaskUpdatePayload(task.TaskId, "failed", Error: error, FencingToken: task.FencingToken), null);
        }
        finally
        {
            _tasks.TryRemove(task.TaskId, out _);
        }
    }

    private async Task MessageAsync(AgentMessageDelivery message, IHostedOutbox outbox, CancellationToken ct)
    {
        if (!message.RequiresResponse)
        {
            return;
        }
        var parameters = message.Content.ValueKind == JsonValueKind.String
            ? JsonSerializer.SerializeToElement(new { prompt = message.Content.GetString() })
            : message.Content;
        JsonElement content;
        try
        {
            content = await ChatAsync(parameters, message.CorrelationId ?? Guid.NewGuid().ToString("N"), outbox, ct);
        }
        catch (Exception e) when (Failure(e) is { } error)
        {
            content = JsonSerializer.SerializeToElement(new { error });
        }
        await outbox.SendAsync(FrameTypes.AgentMessage,
            new AgentMessageSend(message.FromAgent, message.MessageType, content, false, message.CorrelationId), null);
    }

    /// <summary>AMRI methods a hosted LLM agent serves (seed 001): <c>llm_chat.*</c>, <c>llm.chat</c> and <c>chat</c>, with the chat parameters.</summary>
    public static bool IsChatMethod(string? method) =>
        method is "chat" or "llm.chat" || (method?.StartsWith("llm_chat.", StringComparison.Ordinal) ?? false) || (method?.StartsWith("llm.chat.", StringComparison.Ordinal) ?? false);

    private async Task RpcAsync(Kai.Protocol.Rpc.RpcRequest request, IHostedOutbox outbox, CancellationToken ct)
    {
        Kai.Protocol.Rpc.RpcError? error = null;
        JsonElement? result = null;
        if (!IsChatMethod(request.Method))
        {
            error = new Kai.Protocol.Rpc.RpcError(404, $"A hosted LLM agent serves llm_chat.*, llm.chat and chat; not '{request.Method}'.", ErrorCodes.MethodNotFound);
        }
        else
        {
            try
            {
                result = await ChatAsync(request.Params ?? default, request.Id ?? Guid.NewGuid().ToString("N"), outbox, ct);
            }
            catch (LlmException l)
            {
                error = new Kai.Protocol.Rpc.RpcError(ErrorCodes.HttpStatus(l.Code), l.Message, l.Code);
            }
            catch (ChatRequestException v)
            {
                error = new Kai.Protocol.Rpc.RpcError(400, v.Message, ErrorCodes.ValidationError);
            }
        }
        await outbox.SendAsync(FrameTypes.RpcResponse, new Kai.Protocol.Rpc.RpcResponse(request.Id, definition.AgentId, request.Origin,
            time.GetUtcNow().ToUnixTimeSeconds(), result, error, null), null);
    }

    /// <summary>
    /// A KAIL invocation (seed 002): <c>payload.input</c> is the prompt (a string) or chat parameters (an object <c>{prompt | messages}</c>);
    /// <c>context.thread_id</c> brings the thread's history; <c>options</c> map onto the request (<c>model</c>, <c>temperature</c>, <c>max_tokens</c>,
    /// <c>stream</c>: tokens go out as <c>stream_chunk</c> frames whose <c>stream_id</c> is the try's <c>hop_id</c>). The answer is an
    /// <c>invocation_result</c> whose output is the chat result <c>{text, model, thread_id, usage, retries}</c>.
    /// </summary>
    private async Task InvocationAsync(Kai.Protocol.Kail.AgentInvocation invocation, IHostedOutbox outbox, CancellationToken ct)
    {
        var hopId = invocation.Context.HopId;
        Kai.Protocol.Kail.InvocationResultPayload answer;
        try
        {
            var p = new Dictionary<string, object?>(StringComparer.Ordinal);
            var input = invocation.Payload.Input;
            if (input.ValueKind == JsonValueKind.Object)
            {
                foreach (var prop in input.EnumerateObject())
                {
                    p[prop.Name] = prop.Value.Clone();
                }
            }
            else
            {
                p["prompt"] = input.ValueKind == JsonValueKind.String ? input.GetString() : input.GetRawText();
            }
            if (invocation.Payload.Options is { ValueKind: JsonValueKind.Object } options)
            {
                foreach (var name in new[] { "model", "temperature", "max_tokens", "stream" })
                {
                    if (options.TryGetProperty(name, out var v))
                    {
                        p[name] = v.Clone();
                    }
                }
            }
            if (invocation.Context.ThreadId is { } thread)
            {
                p["thread_id"] = thread;
            }
            p["stream_id"] = hopId ?? invocation.Id;
            var output = await ChatAsync(JsonSerializer.SerializeToElement(p, KaiJson.Options), hopId ?? invocation.Id, outbox, ct);
            answer = new Kai.Protocol.Kail.InvocationResultPayload(invocation.Id, hopId, Kai.Protocol.Kail.InvocationStatuses.Completed, output);
        }
        catch (Exception e) when (Failure(e) is not null)
        {
            var code = e is LlmException l ? l.Code : ErrorCodes.ValidationError;
            answer = new Kai.Protocol.Kail.InvocationResultPayload(invocation.Id, hopId, Kai.Protocol.Kail.InvocationStatuses.Failed, null,
                new Kai.Protocol.Kail.InvocationError(code, e.Message));
        }
        await outbox.SendAsync(FrameTypes.InvocationResult, answer, null);
    }

    /// <summary>The error text of a failure the caller should see (code first); null lets cancellation and bugs propagate.</summary>
    private static string? Failure(Exception e) => e switch
    {
        LlmException l => $"{l.Code}: {l.Message}",
        ChatRequestException v => $"{ErrorCodes.ValidationError}: {v.Message}",
        _ => null,
    };

    private async Task<JsonElement> ChatAsync(JsonElement parameters, string defaultStreamId, IHostedOutbox outbox, CancellationToken ct)
    {
        var request = ChatRequest.Parse(parameters);
        var model = definition.Provider.ResolveModel(request.Model ?? definition.Model)
            ?? throw new ChatRequestException($"model '{request.Model}' is not offered by provider '{definition.ProviderName}'; models: {string.Join(", ", definition.Provider.Models)}");
        var turns = new List<ChatTurn>();
        if (!string.IsNullOrEmpty(definition.SystemPrompt))
        {
            turns.Add(new ChatTurn("system", definition.SystemPrompt));
        }
        if (request.ThreadId is { } thread)
        {
            turns.AddRange(await store.HistoryAsync(definition.AgentId, thread, options.HistoryLimit, ct));
        }
        turns.AddRange(request.Turns);
        var invocation = new AdapterInvocation(turns, model, request.Temperature ?? definition.Temperature, request.MaxTokens ?? definition.MaxTokens);

        AdapterResult result;
        if (request.Stream)
        {
            var streamId = request.StreamId ?? defaultStreamId;
            var text = new System.Text.StringBuilder();
            var index = 0;
            await foreach (var chunk in adapter.StreamAsync(invocation, ct))
            {
                text.Append(chunk.Text);
                await outbox.SendAsync(FrameTypes.StreamChunk, new StreamChunkPayload(streamId, chunk.Text, index++), null);
            }
            await outbox.SendAsync(FrameTypes.StreamChunk, new StreamChunkPayload(streamId, "", index, IsFinal: true), null);
            result = new AdapterResult(text.ToString(), model, null, null, 0);
        }
        else
        {
            result = await adapter.InvokeAsync(invocation, ct);
        }
        if (request.ThreadId is { } t)
        {
            await store.AppendAsync(definition.AgentId, t, [.. request.Turns, new ChatTurn("assistant", result.Text)], options.HistoryLimit, time.GetUtcNow(), ct);
        }
        return JsonSerializer.SerializeToElement(new ChatResult(result.Text, result.Model, request.ThreadId,
            result.InputTokens is null && result.OutputTokens is null ? null : new ChatUsage(result.InputTokens, result.OutputTokens), result.Retries), KaiJson.Options);
    }

    private sealed record ChatResult(string Text, string Model, string? ThreadId, ChatUsage? Usage, int Retries);

    private sealed record ChatUsage(long? InputTokens, long? OutputTokens);
}

/// <summary>Bad chat parameters; reported as <c>VALIDATION_ERROR: …</c> in the result.</summary>
internal sealed class ChatRequestException(string message) : Exception(message);

/// <summary>The parameters of a chat call (see <see cref="HostedAgent"/>).</summary>
internal sealed record ChatRequest(IReadOnlyList<ChatTurn> Turns, string? ThreadId, string? Model, float? Temperature, int? MaxTokens, bool Stream, string? StreamId)
{
    public static ChatRequest Parse(JsonElement p)
    {
        if (p.ValueKind != JsonValueKind.Object)
        {
            throw new ChatRequestException("parameters must be an object {prompt | messages, thread_id?, model?, temperature?, max_tokens?, stream?}");
        }
        var turns = new List<ChatTurn>();
        if (p.TryGetProperty("prompt", out var prompt))
        {
            if (prompt.ValueKind != JsonValueKind.String || prompt.GetString() is not { Length: > 0 } text)
            {
                throw new ChatRequestException("prompt must be a non-empty string");
            }
            turns.Add(new ChatTurn("user", text));
        }
        else if (p.TryGetProperty("messages", out var messages) && messages.ValueKind == JsonValueKind.Array && messages.GetArrayLength() > 0)
        {
            var i = 0;
            foreach (var m in messages.EnumerateArray())
            {
                var role = m.ValueKind == JsonValueKind.Object && m.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
                var content = m.ValueKind == JsonValueKind.Object && m.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
                if (role is not ("system" or "user" or "assistant") || content is null)
                {
                    throw new ChatRequestException($"messages[{i}] must be {{role: system|user|assistant, content: string}}");
                }
                turns.Add(new ChatTurn(role, content));
                i++;
            }
        }
        else
        {
            throw new ChatRequestException("give prompt (a string) or messages (a non-empty array of {role, content})");
        }
        var thread = String(p, "thread_id", 128);
        var model = String(p, "model", 128);
        var streamId = String(p, "stream_id", 128);
        float? temperature = null;
        if (p.TryGetProperty("temperature", out var t) && t.ValueKind != JsonValueKind.Null)
        {
            temperature = t.ValueKind == JsonValueKind.Number && t.GetDouble() is >= 0 and <= 2 ? (float)t.GetDouble()
                : throw new ChatRequestException("temperature must be a number from 0 to 2");
        }
        int? maxTokens = null;
        if (p.TryGetProperty("max_tokens", out var mt) && mt.ValueKind != JsonValueKind.Null)
        {
            maxTokens = mt.ValueKind == JsonValueKind.Number && mt.TryGetInt32(out var n) && n is >= 1 and <= 1_000_000 ? n
                : throw new ChatRequestException("max_tokens must be an integer from 1 to 1000000");
        }
        var stream = p.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;
        return new ChatRequest(turns, thread, model, temperature, maxTokens, stream, streamId);
    }

    private static string? String(JsonElement p, string name, int max)
    {
        if (!p.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        return v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 } s && s.Length <= max ? s
            : throw new ChatRequestException($"{name} must be a string of 1 to {max} characters");
    }
}
