using System.Text.Json;
using System.Text.Json.Nodes;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Storage;
using Kai.Hub.Tasks;
using Kai.Protocol;

namespace Kai.Hub.A2a;

/// <summary>
/// One A2A task as the hub keeps it: the hub task of its first message (<see cref="Root"/>, whose id is the A2A task id), then one
/// hub task per follow-up message (<see cref="Turns"/> includes the root first), and the time the client canceled it while it
/// waited for input (no hub task was open then).
/// </summary>
internal sealed record A2aTaskView(TaskRecord Root, IReadOnlyList<TaskRecord> Turns, DateTimeOffset? ClientCanceledAt)
{
    public string Id => Root.TaskId;

    public string ContextId => A2aTranslator.ContextId(Root);

    /// <summary>The turn the task is in: the last one.</summary>
    public TaskRecord Current => Turns[^1];

    /// <summary>The agent answered the last turn with a request for input, and the client has not canceled.</summary>
    public bool InputRequired => ClientCanceledAt is null && A2aTranslator.AsksForInput(Current);

    /// <summary>Ended for good (completed without asking for input, failed, canceled).</summary>
    public bool IsTerminal => ClientCanceledAt is not null || (AgentAsks.IsTerminal(Current.Status) && !InputRequired);

    /// <summary>Where a stream or a blocking send stops: a terminal or an interrupted (input-required) state.</summary>
    public bool IsSettled => IsTerminal || InputRequired;

    public A2aTaskView With(TaskRecord current) => this with { Turns = [.. Turns.Take(Turns.Count - 1), current] };
}

/// <summary>
/// A2A tasks over the hub's asks (docs/protocol.md, "A2A", multi-turn): a first message starts an ask; a follow-up message to a
/// task that asks for input starts the next turn, a new ask of the same intent pinned to the agent that asked, with the earlier
/// messages in <c>input_data.a2a.history</c>; reads resolve an A2A task id to its turns. Every call acts as the caller, so who
/// may see a task is decided by <see cref="AgentAsks"/> (the task service) alone.
/// </summary>
internal sealed class A2aTasks(AgentAsks asks, A2aTranslator translator, IA2aStore store, TimeProvider time)
{
    /// <summary>
    /// Raised with (A2A task id, hub task id) after a task is created, a turn is added (the turn's hub task) or a wait for input
    /// is canceled (the A2A task id twice: no hub task changed), so push notifications watch the new hub task and tell the change.
    /// </summary>
    public event Action<string, string>? Changed;

    /// <summary>Sends a message: a new task, or (with <c>message.taskId</c>) the next turn of a task that waits for input.</summary>
    public async Task<A2aTaskView> SendAsync(KaiPrincipal caller, AgentRecord? agent, JsonElement message, JsonElement? requestMetadata, A2aVersion v, CancellationToken ct)
    {
        var taskId = message.ValueKind == JsonValueKind.Object && message.TryGetProperty("taskId", out var t) && t.ValueKind == JsonValueKind.String
            ? t.GetString() : null;
        if (!string.IsNullOrEmpty(taskId))
        {
            return await FollowUpAsync(caller, taskId, message, requestMetadata, v, ct);
        }
        var (skill, input, _, contextId) = await translator.InputAsync(caller, agent, agent?.AgentId, message, requestMetadata, v, skillRequired: true, ct);
        input["a2a"]!["context_id"] = contextId ?? "ctx_" + Guid.CreateVersion7().ToString("N");
        var root = await Hub(() => asks.AskAsync(caller, agent?.AgentId, skill!, JsonSerializer.SerializeToElement(input), null, null, ct));
        Changed?.Invoke(root.TaskId, root.TaskId);
        return new A2aTaskView(root, [root], null);
    }

    private async Task<A2aTaskView> FollowUpAsync(KaiPrincipal caller, string taskId, JsonElement message, JsonElement? requestMetadata, A2aVersion v, CancellationToken ct)
    {
        var view = await GetAsync(caller, taskId, ct);
        if (message.TryGetProperty("contextId", out var c) && c.ValueKind == JsonValueKind.String && c.GetString() is { Length: > 0 } contextId && contextId != view.ContextId)
        {
            throw A2aException.Invalid("message.contextId", $"is not the context of task '{view.Id}' ({view.ContextId})");
        }
        if (view.IsTerminal)
        {
            throw new A2aException(A2aException.UnsupportedOperation, $"Task '{view.Id}' is {A2aTranslator.State(view, v)}; a task that ended takes no more messages (send a new message without taskId).");
        }
        if (!view.InputRequired)
        {
            throw new A2aException(A2aException.UnsupportedOperation, $"Task '{view.Id}' is {A2aTranslator.State(view, v)}; send the follow-up when the agent asks for input (input-required).");
        }
        var asker = view.Current.CurrentAgent ?? view.Current.AssignedAgent;
        var (_, input, _, _) = await translator.InputAsync(caller, null, asker, message, requestMetadata, v, skillRequired: false, ct);
        var turn = view.Turns.Count;
        var a2a = (JsonObject)input["a2a"]!;
        a2a["context_id"] = view.ContextId;
        a2a["task_id"] = view.Id;
        a2a["turn"] = turn;
        a2a["history"] = new JsonArray([.. A2aTranslator.HubHistory(view)]);
        var hubTaskId = "tsk_" + Guid.CreateVersion7().ToString("N");
        // The turn is claimed first: of two follow-ups racing for the same question, one wins and the other is refused.
        if (!await store.TryAddTurnAsync(new A2aTurn(view.Id, turn, hubTaskId, time.GetUtcNow()), ct))
        {
            throw new A2aException(A2aException.UnsupportedOperation, $"Task '{view.Id}' was already continued by another message.");
        }
        TaskRecord next;
        try
        {
            next = await Hub(() => asks.AskAsync(caller, asker, view.Root.Type, JsonSerializer.SerializeToElement(input), hubTaskId, null, ct));
        }
        catch
        {
            await store.DeleteTurnAsync(view.Id, turn, CancellationToken.None);
            throw;
        }
        Changed?.Invoke(view.Id, next.TaskId);
        return view with { Turns = [.. view.Turns, next] };
    }

    /// <summary>The A2A task <paramref name="taskId"/> as the caller may see it; TaskNotFound for a hub task that is a follow-up turn.</summary>
    public async Task<A2aTaskView> GetAsync(KaiPrincipal caller, string taskId, CancellationToken ct)
    {
        var root = await Hub(() => asks.GetAsync(caller, taskId, ct));
        if (A2aTranslator.FollowUpOf(root) is not null)
        {
            throw new A2aException(A2aException.TaskNotFound, $"{ErrorCodes.NotFound}: Task '{taskId}' was not found (it is a turn of another task).", ErrorCodes.NotFound);
        }
        return await ResolveAsync(caller, root, ct);
    }

    /// <summary>The view of a first-turn hub task the caller has read.</summary>
    public async Task<A2aTaskView> ResolveAsync(KaiPrincipal caller, TaskRecord root, CancellationToken ct)
    {
        if (!A2aTranslator.IsFromA2a(root) || !A2aTranslator.AsksForInput(root))
        {
            // Only a task whose first answer asked for input can have more turns.
            return new A2aTaskView(root, [root], null);
        }
        var turns = new List<TaskRecord> { root };
        DateTimeOffset? canceled = null;
        foreach (var row in await store.TurnsAsync(root.TaskId, ct))
        {
            if (row.HubTaskId is null)
            {
                canceled = row.CreatedAt;
                break;
            }
            try
            {
                turns.Add(await asks.GetAsync(caller, row.HubTaskId, ct));
            }
            catch (ApiException e) when (e.Code == ErrorCodes.NotFound)
            {
                // The turn is claimed but its ask is not created yet (or its creation failed): the task is still where it was.
                break;
            }
        }
        return new A2aTaskView(root, turns, canceled);
    }

    /// <summary>The view again, with its current turn re-read.</summary>
    public async Task<A2aTaskView> WaitAsync(KaiPrincipal caller, A2aTaskView view, TimeSpan wait, CancellationToken ct, bool untilChange)
    {
        var current = view.Current;
        var next = await Hub(() => untilChange
            ? asks.WaitAsync(caller, current.TaskId, wait, ct, current.Status, current.Progress)
            : asks.WaitAsync(caller, current.TaskId, wait, ct));
        return view.With(next);
    }

    /// <summary>Cancels: the open turn's ask, or (while the agent waits for input) the wait itself.</summary>
    public async Task<A2aTaskView> CancelAsync(KaiPrincipal caller, string taskId, CancellationToken ct)
    {
        var view = await GetAsync(caller, taskId, ct);
        if (view.InputRequired)
        {
            if (!await store.TryAddTurnAsync(new A2aTurn(view.Id, view.Turns.Count, null, time.GetUtcNow()), ct))
            {
                // A follow-up message won: cancel the turn it started.
                view = await GetAsync(caller, taskId, ct);
                if (view.InputRequired || view.IsTerminal)
                {
                    throw NotCancelable(view);
                }
            }
            else
            {
                Changed?.Invoke(view.Id, view.Id);
                return await GetAsync(caller, taskId, ct);
            }
        }
        if (view.IsTerminal)
        {
            throw NotCancelable(view);
        }
        var canceled = await Hub(() => asks.CancelAsync(caller, view.Current.TaskId, ct), cancel: true);
        return view.With(canceled);
    }

    private static A2aException NotCancelable(A2aTaskView view) =>
        new(A2aException.TaskNotCancelable, $"{ErrorCodes.Conflict}: Task '{view.Id}' is {A2aTranslator.State(view, A2aVersion.V1)} and cannot be canceled.", ErrorCodes.Conflict);

    private static async Task<T> Hub<T>(Func<Task<T>> call, bool cancel = false)
    {
        try
        {
            return await call();
        }
        catch (ApiException e)
        {
            throw A2aTranslator.FromHub(e, cancel);
        }
    }
}
