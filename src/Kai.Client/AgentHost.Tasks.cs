using System.Collections.Concurrent;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Microsoft.Extensions.Logging;

namespace Kai.Client;

/// <summary>What a task handler receives: one attempt of a durable task (seed 004, <c>task</c> frame).</summary>
public sealed class TaskContext
{
    private readonly Func<int?, object?, CancellationToken, Task> _progress;

    internal TaskContext(TaskPayload task, Func<int?, object?, CancellationToken, Task> progress)
    {
        Task = task;
        _progress = progress;
    }

    /// <summary>The task frame: id, type, input, attempt (1-based), fencing token, lease and deadline.</summary>
    public TaskPayload Task { get; }

    /// <summary>The task id.</summary>
    public string TaskId => Task.TaskId;

    /// <summary>The input object (for a workflow stage it includes <c>upstream: {stage_name: result}</c>).</summary>
    public JsonElement Input => Task.InputData;

    /// <summary>Reads a string input field, or null.</summary>
    public string? GetString(string name) =>
        Input.ValueKind == JsonValueKind.Object && Input.TryGetProperty(name, out var v) ? v.ValueKind == JsonValueKind.String ? v.GetString() : v.GetRawText() : null;

    /// <summary>Reports progress (0 to 100) and optional partial output; this also renews the lease.</summary>
    public Task ReportProgressAsync(int progress, object? outputData = null, CancellationToken ct = default) => _progress(progress, outputData, ct);
}

public sealed partial class AgentHost
{
    private readonly Dictionary<string, Func<TaskContext, CancellationToken, Task<object?>>> _tasks = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (long Token, CancellationTokenSource Cancel)> _runningTasks = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskUpdatePayload> _taskResults = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _taskResultOrder = new();

    /// <summary>
    /// Registers the handler of a task type. It returns the result or throws to fail the attempt (the hub retries per the task's policy).
    /// While it runs, the host renews the lease every third of the lease time, so long work is not redelivered; the
    /// handler's token is cancelled when the hub sends <c>task_cancel</c>.
    /// </summary>
    /// <remarks>Tasks are at least once: an attempt may arrive again after a reconnect. A task this host already finished is answered from a
    /// cache of the last 1,024 results with the new attempt's fencing token, without running the handler again.</remarks>
    public AgentHost OnTask(string type, Func<TaskContext, CancellationToken, Task<object?>> handler)
    {
        _tasks[type] = handler;
        return this;
    }

    private void DispatchTask(Frame frame, CancellationToken ct)
    {
        if (frame.Type == FrameTypes.Task && frame.PayloadAs<TaskPayload>() is { } task)
        {
            _ = RunTaskAsync(task, ct);
        }
        else if (frame.Type == FrameTypes.TaskCancel && frame.PayloadAs<TaskCancelPayload>() is { } cancel
            && _runningTasks.TryGetValue(cancel.TaskId, out var running) && running.Token == cancel.FencingToken)
        {
            running.Cancel.Cancel();
        }
    }

    private async Task RunTaskAsync(TaskPayload task, CancellationToken ct)
    {
        if (_taskResults.TryGetValue(task.TaskId, out var done))
        {
            await SendTaskUpdateAsync(done with { FencingToken = task.FencingToken, Attempt = task.Attempt }, ct);
            return;
        }
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (!_runningTasks.TryAdd(task.TaskId, (task.FencingToken, cancel)))
        {
            return;
        }
        TaskUpdatePayload outcome;
        using var renewStop = CancellationTokenSource.CreateLinkedTokenSource(cancel.Token);
        var renew = RenewLeaseLoopAsync(task, renewStop.Token);
        try
        {
            if (!_tasks.TryGetValue(task.Type, out var handler))
            {
                outcome = new TaskUpdatePayload(task.TaskId, "failed", Error: $"no handler for task type '{task.Type}' on agent '{AgentId}'", FencingToken: task.FencingToken);
            }
            else
            {
                try
                {
                    var context = new TaskContext(task, (progress, output, token) => SendTaskUpdateAsync(new TaskUpdatePayload(task.TaskId, "in_progress", progress,
                        FencingToken: task.FencingToken, OutputData: output is null ? null : JsonSerializer.SerializeToElement(output, KaiJson.Options)), token));
                    var value = await handler(context, cancel.Token);
                    outcome = new TaskUpdatePayload(task.TaskId, "completed", 100, JsonSerializer.SerializeToElement(value, KaiJson.Options), FencingToken: task.FencingToken);
                }
                catch (OperationCanceledException) when (cancel.IsCancellationRequested)
                {
                    return; // Canceled by the hub or by shutdown: the hub already knows, or redelivers after the lease.
                }
                catch (Exception ex)
                {
                    outcome = new TaskUpdatePayload(task.TaskId, "failed", Error: ex.Message, FencingToken: task.FencingToken);
                }
            }
        }
        finally
        {
            await renewStop.CancelAsync();
            await renew;
            _runningTasks.TryRemove(task.TaskId, out _);
        }
        if (outcome.Status == "completed")
        {
            _taskResults[task.TaskId] = outcome;
            _taskResultOrder.Enqueue(task.TaskId);
            while (_taskResultOrder.Count > 1024 && _taskResultOrder.TryDequeue(out var old))
            {
                _taskResults.TryRemove(old, out _);
            }
        }
        await SendTaskUpdateAsync(outcome, ct);
    }

    /// <summary>Sends <c>in_progress</c> every third of the lease while the handler runs.</summary>
    private Task RenewLeaseLoopAsync(TaskPayload task, CancellationToken ct)
    {
        var lease = task.LeaseExpiresAt - _options.Time.GetUtcNow();
        var every = TimeSpan.FromMilliseconds(Math.Max(1000, lease.TotalMilliseconds / 3));
        return Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(every, _options.Time);
            try
            {
                while (await timer.WaitForNextTickAsync(ct))
                {
                    await SendTaskUpdateAsync(new TaskUpdatePayload(task.TaskId, "in_progress", FencingToken: task.FencingToken), ct);
                }
            }
            catch (OperationCanceledException)
            {
                // The handler finished.
            }
        }, CancellationToken.None);
    }

    private async Task SendTaskUpdateAsync(TaskUpdatePayload update, CancellationToken ct)
    {
        try
        {
            await CurrentLink().RequestAsync(FrameTypes.TaskUpdate, update, ct: ct);
        }
        catch (HubApiException ex) when (ex.Code == ErrorCodes.Conflict)
        {
            // A newer attempt owns the task (our lease expired): this attempt's word no longer counts.
            Log.TaskSuperseded(_options.Logger, update.TaskId, ex.HubMessage);
        }
        catch (Exception ex) when (ex is HubLinkClosedException or InvalidOperationException or TimeoutException or HubApiException or System.Net.WebSockets.WebSocketException)
        {
            Log.ResultNotSent(_options.Logger, update.TaskId, ex.Message);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(7, LogLevel.Information, "Task {TaskId} was superseded: {Reason}")]
        public static partial void TaskSuperseded(ILogger logger, string taskId, string reason);
    }
}
