using System.Text.Json;
using Kai.Hub.Auth;
using Kai.Hub.Events;
using Kai.Hub.Storage;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;

namespace Kai.Hub.Tasks;

/// <summary>
/// The one seam through which the protocol edges (MCP's <c>ask_agent</c>, A2A's messages) ask an agent, or whichever agent has a
/// capability, for an intent and wait for the answer. Today an ask is a durable task (type = the intent, pinned to the agent when one
/// is named, else routed by capability), so it is stored, retried, cancelable and listed like any task; when KAIL invocations exist,
/// only this class changes.
/// </summary>
/// <remarks>Every call acts as the caller's principal; <see cref="TaskService"/> and <see cref="Access"/> decide what it may reach.</remarks>
internal sealed class AgentAsks(TaskService tasks, EventLog log, TimeProvider time)
{
    /// <summary>The longest wait a caller may ask for, in seconds.</summary>
    public const int MaxWaitSeconds = 300;

    /// <summary>Starts an ask: a task of type <paramref name="intent"/> with <paramref name="input"/> as its <c>input_data</c>.</summary>
    /// <exception cref="Errors.ApiException">VALIDATION_ERROR for a bad intent or input, AGENT_NOT_FOUND for an agent the caller cannot reach.</exception>
    public async Task<TaskRecord> AskAsync(KaiPrincipal caller, string? agentId, string intent, JsonElement? input, string? askId, int? timeoutSeconds, CancellationToken ct) =>
        (await tasks.CreateAsync(caller, new CreateTaskRequest(askId, intent, AssignedAgent: agentId, InputData: input, Timeout: timeoutSeconds), null, ct)).Task;

    /// <summary>The ask as it is now; NOT_FOUND when the caller may not see it.</summary>
    public Task<TaskRecord> GetAsync(KaiPrincipal caller, string askId, CancellationToken ct) => tasks.GetVisibleAsync(caller, askId, ct);

    /// <summary>Cancels an open ask; CONFLICT when it already ended.</summary>
    public Task<TaskRecord> CancelAsync(KaiPrincipal caller, string askId, CancellationToken ct) => tasks.CancelAsync(caller, askId, ct);

    /// <summary>Asks of the caller's tenant, oldest first.</summary>
    public Task<TaskListResponse> ListAsync(KaiPrincipal caller, string? status, string? intent, int? limit, int? offset, CancellationToken ct) =>
        tasks.ListAsync(caller, status, intent, null, null, limit, offset, ct);

    /// <summary>Whether an ask has ended (completed, failed or canceled).</summary>
    public static bool IsTerminal(string status) => status is TaskStatuses.Completed or TaskStatuses.Failed or TaskStatuses.Canceled;

    /// <summary>
    /// Waits until the ask ends, changes from <paramref name="seenStatus"/> (when given), or <paramref name="wait"/> passes, and returns
    /// it as it is then. Every task change is published on the event log, so the wait re-reads the task at each publication.
    /// </summary>
    public async Task<TaskRecord> WaitAsync(KaiPrincipal caller, string askId, TimeSpan wait, CancellationToken ct, string? seenStatus = null, int? seenProgress = null)
    {
        var end = time.GetUtcNow() + wait;
        while (true)
        {
            var next = log.NextPublish;
            var task = await tasks.GetVisibleAsync(caller, askId, ct);
            var changed = seenStatus is not null && (task.Status != seenStatus || (seenProgress is not null && task.Progress != seenProgress));
            var left = end - time.GetUtcNow();
            if (IsTerminal(task.Status) || changed || left <= TimeSpan.Zero)
            {
                return task;
            }
            try
            {
                await next.WaitAsync(left, time, ct);
            }
            catch (TimeoutException)
            {
                // The wait is over: the read above returns the task as it is.
            }
        }
    }
}
