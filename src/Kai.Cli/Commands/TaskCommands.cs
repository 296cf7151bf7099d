using System.CommandLine;
using Kai.Cli.Cli;
using Kai.Client;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;

namespace Kai.Cli.Commands;

/// <summary><c>kai task create|list|show|cancel|retry</c>: the durable task queue (docs/tasks.md).</summary>
internal static class TaskCommands
{
    private static readonly Option<bool> JsonOutput = new("--json-output") { Description = "Print the hub's JSON instead of text." };

    public static Command Create()
    {
        var task = new Command("task", "Create, list, show, cancel and re-drive durable tasks.");
        task.Subcommands.Add(CreateTask());
        task.Subcommands.Add(List());
        task.Subcommands.Add(Show());
        task.Subcommands.Add(Act("cancel", "Cancel a task that has not ended; the agent working it gets task_cancel.", (c, id, ct) => c.CancelTaskAsync(id, ct)));
        task.Subcommands.Add(Act("retry", "Re-drive a failed (dead-lettered) or canceled task: attempts restart at 0.", (c, id, ct) => c.RetryTaskAsync(id, ct)));
        return task;
    }

    private static Command CreateTask()
    {
        var type = new Option<string>("--type") { Description = "The task type; agents whose type or capabilities include it may take it.", Required = true };
        var json = new Option<string?>("--json") { Description = "The input_data as a JSON object, e.g. '{\"path\": \"README.md\"}'." };
        var priority = new Option<string?>("--priority") { Description = "low, normal, high or urgent (default normal)." };
        priority.AcceptOnlyFromAmong([.. CommandStatuses.Priorities]);
        var agent = new Option<string?>("--agent") { Description = "Assign the task to this agent only." };
        var dependsOn = new Option<string[]>("--depends-on") { Description = "A task that must complete first; repeat for several.", DefaultValueFactory = _ => [] };
        var maxAttempts = new Option<int?>("--max-attempts") { Description = "Attempts in all, including the first (1 to 100)." };
        var backoff = new Option<string?>("--backoff") { Description = "Backoff between attempts: none, linear or exponential." };
        backoff.AcceptOnlyFromAmong("none", "linear", "exponential");
        var timeout = new Option<int?>("--timeout") { Description = "Seconds one attempt may take." };
        var id = new Option<string?>("--id") { Description = "The task id (a repeated id returns the existing task)." };
        var key = new Option<string?>("--idempotency-key") { Description = "Sent as Idempotency-Key: a repeated create with the same key returns the existing task." };
        var wait = new Option<double>("--wait")
        {
            Description = "Seconds to wait for the task to end before printing it (0: print it as created). Default 5.",
            DefaultValueFactory = _ => 5,
        };
        var command = new Command("create", """
            Enqueue a durable task, wait up to --wait seconds for it to end, and print it as it is then
            (completed with its result, failed with its error, or still queued/in progress when the wait ran out).
            """)
        {
            type, json, priority, agent, dependsOn, maxAttempts, backoff, timeout, id, key, wait, JsonOutput,
        };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            var input = SendCommand.BuildParameters(parse.GetValue(json), []);
            var attempts = parse.GetValue(maxAttempts);
            var strategy = parse.GetValue(backoff);
            var request = new CreateTaskRequest(
                parse.GetValue(id), parse.GetRequiredValue(type), parse.GetValue(priority), parse.GetValue(agent), null, input,
                parse.GetValue(dependsOn) is { Length: > 0 } deps ? deps : null, parse.GetValue(timeout),
                attempts is null && strategy is null ? null : new RetryPolicy(attempts, strategy));
            var seconds = parse.GetValue(wait);
            if (seconds is < 0 or > 3600)
            {
                throw new CliException("--wait must be 0 to 3600 seconds.", ExitCodes.Usage);
            }
            using var client = await ctx.UserClientAsync(ct);
            var task = await client.CreateTaskAsync(request, parse.GetValue(key), ct);
            task = await WaitForEndAsync(client, task, TimeSpan.FromSeconds(seconds), ct);
            Print(task, parse.GetValue(JsonOutput));
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command List()
    {
        var status = new Option<string?>("--status") { Description = "pending, queued, in_progress, completed, failed or canceled." };
        var type = new Option<string?>("--type") { Description = "Only tasks of this type." };
        var agent = new Option<string?>("--agent") { Description = "Only tasks assigned to this agent." };
        var workflow = new Option<string?>("--workflow") { Description = "Only the stage tasks of this workflow run." };
        var limit = new Option<int>("--limit") { Description = "At most this many (1 to 100).", DefaultValueFactory = _ => 50 };
        var command = new Command("list", "List your tasks, newest first.") { status, type, agent, workflow, limit, JsonOutput };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            using var client = await ctx.UserClientAsync(ct);
            var page = await client.ListTasksAsync(parse.GetValue(status), parse.GetValue(type), parse.GetValue(agent), parse.GetValue(workflow), parse.GetValue(limit), ct: ct);
            if (parse.GetValue(JsonOutput))
            {
                Console.WriteLine(Output.Json(page));
                return ExitCodes.Ok;
            }
            if (page.Tasks.Count == 0)
            {
                Console.WriteLine("no tasks");
                return ExitCodes.Ok;
            }
            Console.Write(Output.Table(
                ["ID", "TYPE", "STATUS", "PROGRESS", "ATTEMPTS", "AGENT", "UPDATED"],
                page.Tasks.Select(t => (IReadOnlyList<string>)[t.TaskId, t.Type, t.Status, $"{t.Progress}%", $"{t.Attempts}/{t.MaxAttempts}", t.AssignedAgent ?? "-", Output.Time(t.UpdatedAt)])));
            if (page.Total > page.Tasks.Count)
            {
                Console.WriteLine($"({page.Tasks.Count} of {page.Total}; narrow with --status/--type/--agent/--workflow)");
            }
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Show()
    {
        var id = new Argument<string>("task-id") { Description = "The task id." };
        var command = new Command("show", "Show one task with its input, result and error.") { id, JsonOutput };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            using var client = await ctx.UserClientAsync(ct);
            Print(await client.GetTaskAsync(parse.GetRequiredValue(id), ct), parse.GetValue(JsonOutput));
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Act(string name, string description, Func<HubClient, string, CancellationToken, Task<TaskView>> act)
    {
        var id = new Argument<string>("task-id") { Description = "The task id." };
        var command = new Command(name, description) { id, JsonOutput };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            using var client = await ctx.UserClientAsync(ct);
            Print(await act(client, parse.GetRequiredValue(id), ct), parse.GetValue(JsonOutput));
            return ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>The terminal states of a task (docs/tasks.md).</summary>
    internal static bool HasEnded(TaskView t) => t.Status is "completed" or "failed" or "canceled";

    /// <summary>Polls the task (100 ms apart) until it ends or <paramref name="wait"/> passes; returns the last view.</summary>
    internal static async Task<TaskView> WaitForEndAsync(HubClient client, TaskView task, TimeSpan wait, CancellationToken ct)
    {
        var deadline = DateTimeOffset.UtcNow + wait;
        while (!HasEnded(task) && DateTimeOffset.UtcNow < deadline)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), ct);
            task = await client.GetTaskAsync(task.TaskId, ct);
        }
        return task;
    }

    /// <summary>Prints a task as aligned <c>field: value</c> lines (or its JSON).</summary>
    public static void Print(TaskView t, bool json)
    {
        if (json)
        {
            Console.WriteLine(Output.Json(t));
            return;
        }
        Console.WriteLine($"task_id:      {t.TaskId}");
        Console.WriteLine($"type:         {t.Type}");
        Console.WriteLine($"status:       {t.Status}" + (t.ErrorCode is { } code ? $" ({code})" : ""));
        Console.WriteLine($"priority:     {t.Priority}");
        Console.WriteLine($"progress:     {t.Progress}%");
        Console.WriteLine($"attempts:     {t.Attempts}/{t.MaxAttempts} (backoff {t.BackoffStrategy})");
        Console.WriteLine($"agent:        {t.AssignedAgent ?? "-"}");
        if (t.Dependencies.Count > 0)
        {
            Console.WriteLine($"depends on:   {string.Join(", ", t.Dependencies)}");
        }
        if (t.ParentWorkflowId is { } wf)
        {
            Console.WriteLine($"workflow:     {wf}" + (t.StageName is { } stage ? $" (stage {stage})" : ""));
        }
        Console.WriteLine($"input:        {Output.Compact(t.InputData)}");
        if (t.Result is { } result)
        {
            Console.WriteLine($"result:       {Output.Compact(result, 400)}");
        }
        if (t.Error is { } error)
        {
            Console.WriteLine($"error:        {error}");
        }
        Console.WriteLine($"created:      {Output.Time(t.CreatedAt)}");
        Console.WriteLine($"updated:      {Output.Time(t.UpdatedAt)}");
    }
}
