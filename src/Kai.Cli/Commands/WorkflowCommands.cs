using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Kai.Cli.Cli;
using Kai.Client;
using Kai.Protocol.Rest;
using Spectre.Console;

namespace Kai.Cli.Commands;

/// <summary><c>kai workflow run|status|list|cancel</c>: seed 004 workflows (docs/tasks.md, "Workflows").</summary>
internal static class WorkflowCommands
{
    private static readonly Option<bool> JsonOutput = new("--json-output") { Description = "Print the hub's JSON instead of text." };

    public static Command Create()
    {
        var workflow = new Command("workflow", "Run workflows from a JSON or YAML file and follow, list or cancel them.");
        workflow.Subcommands.Add(Run());
        workflow.Subcommands.Add(Status());
        workflow.Subcommands.Add(List());
        workflow.Subcommands.Add(Cancel());
        return workflow;
    }

    private static Command Run()
    {
        var file = new Argument<string>("file") { Description = "The workflow definition: .json, or .yaml/.yml; the seed 004 body {name, stages: [{name, agent_type, dependencies?, input_data?, timeout?}], configuration?}." };
        var id = new Option<string?>("--id") { Description = "The run id (a repeated id returns the existing run)." };
        var noWait = new Option<bool>("--no-wait") { Description = "Start the run, print its id and return at once." };
        var interval = new Option<int>("--interval") { Description = "Milliseconds between status polls while following.", DefaultValueFactory = _ => 300 };
        var defaultTimeout = new Option<int>("--stage-timeout")
        {
            Description = "Seconds a stage without its own `timeout` may take from ready (queued) to done before the run is cancelled.",
            DefaultValueFactory = _ => DefaultStageTimeoutSeconds,
        };
        var command = new Command("run", """
            Start a workflow and follow it: one line per stage with its status and progress, redrawn in place on a terminal,
            one line per change otherwise. At the end the results of the last stages are printed.
            Before starting it says which stages no registered (or no connected) agent can take. A stage that has not ended
            within its timeout (the stage's `timeout`, else the hub's default of 300 s), counted from when it became ready and
            so including the time it waited in the queue, cancels the run.
            Ctrl-C asks whether to cancel the run (without a terminal on stdin it is cancelled).
            Exit code: 0 the workflow completed, 1 it failed, timed out or was canceled (or the hub refused it), 130 Ctrl-C.
            """)
        {
            file, id, noWait, interval, defaultTimeout, JsonOutput,
        };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            var request = WorkflowFile.Load(parse.GetRequiredValue(file));
            if (parse.GetValue(id) is { } runId)
            {
                request = request with { Id = runId };
            }
            var every = parse.GetValue(interval);
            if (every is < 50 or > 60_000)
            {
                throw new CliException("--interval must be 50 to 60000 ms.", ExitCodes.Usage);
            }
            var fallback = parse.GetValue(defaultTimeout);
            if (fallback is < 1 or > 86_400)
            {
                throw new CliException("--stage-timeout must be 1 to 86400 seconds.", ExitCodes.Usage);
            }
            using var client = await ctx.UserClientAsync(ct);
            foreach (var warning in await MissingAgentsAsync(client, request, ct))
            {
                Console.Error.WriteLine(warning);
            }
            var run = await client.CreateWorkflowAsync(request, ct);
            if (parse.GetValue(noWait))
            {
                Console.WriteLine(parse.GetValue(JsonOutput) ? Output.Json(run) : run.WorkflowId);
                return ExitCodes.Ok;
            }
            Console.Error.WriteLine($"workflow {run.WorkflowId} ({run.Name}) started with {run.Stages.Count} stages");
            var timeouts = (request.Stages ?? []).ToDictionary(s => s.Name, s => TimeSpan.FromSeconds(s.Timeout ?? fallback), StringComparer.Ordinal);
            WorkflowView final;
            try
            {
                final = await FollowAsync(client, run, TimeSpan.FromMilliseconds(every), !Console.IsOutputRedirected, timeouts, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return await InterruptedAsync(client, run.WorkflowId);
            }
            catch (StageTimedOutException timedOut)
            {
                Console.Error.WriteLine($"error: {timedOut.Message}; cancelling workflow {run.WorkflowId}");
                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await client.CancelWorkflowAsync(run.WorkflowId, grace.Token);
                return ExitCodes.Error;
            }
            if (parse.GetValue(JsonOutput))
            {
                Console.WriteLine(Output.Json(final));
            }
            else
            {
                PrintResults(final);
            }
            if (final.Status == "completed")
            {
                return ExitCodes.Ok;
            }
            Console.Error.WriteLine($"error: workflow {final.WorkflowId} {final.Status}" + (final.Error is { } e ? $": {e}" : ""));
            return ExitCodes.Error;
        }));
        return command;
    }

    /// <summary>The hub's default task timeout (<c>Kai:Tasks:DefaultTimeoutSeconds</c>), used for stages without their own.</summary>
    internal const int DefaultStageTimeoutSeconds = 300;

    /// <summary>A stage did not end within its timeout, counted from when it became ready.</summary>
    internal sealed class StageTimedOutException(string message) : Exception(message);

    /// <summary>
    /// One warning per stage that no agent can take: none of the caller's agents has the stage's type as its type or a capability,
    /// or none of those is connected (the stage would wait in the queue until one connects).
    /// </summary>
    internal static async Task<List<string>> MissingAgentsAsync(HubClient client, CreateWorkflowRequest request, CancellationToken ct)
    {
        var agents = new List<AgentView>();
        while (true)
        {
            var page = await client.ListAgentsAsync(limit: 100, offset: agents.Count, ct: ct);
            agents.AddRange(page.Agents);
            if (page.Agents.Count == 0 || agents.Count >= page.Total)
            {
                break;
            }
        }
        var warnings = new List<string>();
        foreach (var stage in request.Stages ?? [])
        {
            var able = agents.Where(a => a.Type == stage.AgentType || a.Capabilities.Contains(stage.AgentType, StringComparer.Ordinal)).ToList();
            if (able.Count == 0)
            {
                var known = agents.SelectMany(a => a.Capabilities.Append(a.Type)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
                warnings.Add($"warning: no agent has capability '{stage.AgentType}' (stage {stage.Name}); it waits in the queue until one connects "
                    + $"(your agents offer: {(known.Count == 0 ? "nothing; create one with `kai agents create`" : string.Join(", ", known))})");
            }
            else if (!able.Any(a => a.Connected))
            {
                warnings.Add($"warning: no connected agent has capability '{stage.AgentType}' (stage {stage.Name}; registered: {string.Join(", ", able.Select(a => a.AgentId))}); "
                    + $"start one with `kai agent run --id {able[0].AgentId}`");
            }
        }
        return warnings;
    }

    /// <summary>
    /// Ctrl-C while following: asks whether to cancel the run (on a terminal; 20 s without an answer counts as no), and cancels it
    /// without asking when stdin is not a terminal. Exit code 130 either way.
    /// </summary>
    private static async Task<int> InterruptedAsync(HubClient client, string workflowId)
    {
        var cancel = true;
        if (!Console.IsInputRedirected)
        {
            Console.Error.Write($"\ncancel workflow {workflowId}? [y/N] ");
            var answer = Task.Run(Console.ReadLine);
            cancel = await Task.WhenAny(answer, Task.Delay(TimeSpan.FromSeconds(20))) == answer
                && (await answer)?.Trim() is { } a && (a.Equals("y", StringComparison.OrdinalIgnoreCase) || a.Equals("yes", StringComparison.OrdinalIgnoreCase));
        }
        if (!cancel)
        {
            Console.Error.WriteLine($"workflow {workflowId} goes on; follow it with `kai workflow status {workflowId}`, stop it with `kai workflow cancel {workflowId}`");
            return ExitCodes.Interrupted;
        }
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            var canceled = await client.CancelWorkflowAsync(workflowId, grace.Token);
            Console.Error.WriteLine($"workflow {workflowId}: {canceled.Status}");
        }
        catch (Exception ex) when (ex is HubApiException or HttpRequestException or OperationCanceledException)
        {
            Console.Error.WriteLine($"workflow {workflowId}: cancel not confirmed ({ex.Message}); run `kai workflow cancel {workflowId}`");
        }
        return ExitCodes.Interrupted;
    }

    /// <summary>
    /// Polls the run until it ends: on a terminal as live Spectre.Console progress bars (one per stage, redrawn in place), otherwise
    /// one line per stage change. Throws <see cref="StageTimedOutException"/> for a stage past its timeout.
    /// </summary>
    private static async Task<WorkflowView> FollowAsync(
        HubClient client, WorkflowView run, TimeSpan interval, bool terminal, IReadOnlyDictionary<string, TimeSpan> timeouts, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var ready = new Dictionary<string, TimeSpan>(StringComparer.Ordinal);
        if (terminal)
        {
            var progress = AnsiConsole.Progress()
                .AutoClear(false)
                .HideCompleted(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn());
            return await progress.StartAsync(async live =>
            {
                var width = run.Stages.Max(s => s.Name.Length);
                var bars = run.Stages.ToDictionary(s => s.Name, s => live.AddTask(Markup.Escape(s.Name), autoStart: false, maxValue: 100), StringComparer.Ordinal);
                while (true)
                {
                    foreach (var stage in run.Stages)
                    {
                        var bar = bars[stage.Name];
                        var color = stage.Status switch { "completed" => "green", "failed" or "canceled" => "red", "in_progress" => "yellow", _ => "grey" };
                        var agent = stage.AssignedAgent is { } a ? $" on {a}" : "";
                        bar.Description = $"{Markup.Escape(stage.Name.PadRight(width))}  [{color}]{Markup.Escape(stage.Status),-11}[/]{Markup.Escape(agent)}"
                            + (stage.Error is { } e ? $" [red]{Markup.Escape(e)}[/]" : "");
                        bar.Value = stage.Status == "completed" ? 100 : Math.Clamp(stage.Progress, 0, 100);
                        if (stage.Status is not "pending" && !bar.IsStarted)
                        {
                            bar.StartTask();
                        }
                        if (stage.Status is "completed" or "failed" or "canceled" && !bar.IsFinished)
                        {
                            bar.StopTask();
                        }
                    }
                    live.Refresh();
                    CheckTimeouts(run, clock.Elapsed, ready, timeouts);
                    if (run.Status is not "running")
                    {
                        return run;
                    }
                    await Task.Delay(interval, ct);
                    run = await client.GetWorkflowAsync(run.WorkflowId, ct);
                }
            });
        }
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        while (true)
        {
            var width = run.Stages.Max(s => s.Name.Length);
            foreach (var stage in run.Stages)
            {
                var state = stage.Status + "/" + stage.Progress.ToString(CultureInfo.InvariantCulture);
                if (!seen.TryGetValue(stage.Name, out var before) || before != state)
                {
                    seen[stage.Name] = state;
                    Console.WriteLine($"{DateTimeOffset.UtcNow.UtcDateTime.ToString("HH:mm:ss", CultureInfo.InvariantCulture)}  {StageLine(stage, stage.Progress, width).TrimEnd()}");
                }
            }
            CheckTimeouts(run, clock.Elapsed, ready, timeouts);
            if (run.Status is not "running")
            {
                Console.WriteLine($"workflow {run.WorkflowId} {run.Status} in {clock.Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s");
                return run;
            }
            await Task.Delay(interval, ct);
            run = await client.GetWorkflowAsync(run.WorkflowId, ct);
        }
    }

    /// <summary>
    /// A stage's clock starts when it is ready (no longer waiting for its dependencies), so the time it waits in the queue counts
    /// toward its timeout; a stage still queued or in progress past it ends the follow.
    /// </summary>
    private static void CheckTimeouts(WorkflowView run, TimeSpan now, Dictionary<string, TimeSpan> ready, IReadOnlyDictionary<string, TimeSpan> timeouts)
    {
        foreach (var stage in run.Stages)
        {
            if (stage.Status is not "pending" && !ready.ContainsKey(stage.Name))
            {
                ready[stage.Name] = now;
            }
            if (run.Status is "running" && stage.Status is "queued" or "in_progress" && ready.TryGetValue(stage.Name, out var since)
                && timeouts.TryGetValue(stage.Name, out var limit) && now - since > limit)
            {
                var seconds = limit.TotalSeconds.ToString("0", CultureInfo.InvariantCulture);
                throw new StageTimedOutException(stage.Status == "queued"
                    ? $"stage {stage.Name} waited {seconds} s in the queue and no agent took it (is an agent with capability '{stage.AgentType}' running?)"
                    : $"stage {stage.Name} did not finish within its {seconds} s timeout");
            }
        }
    }

    /// <summary>One stage: name, status, a progress bar, the agent, attempts and error.</summary>
    internal static string StageLine(WorkflowStageView s, int progress, int width)
    {
        var pct = s.Status == "completed" ? 100 : Math.Clamp(progress, 0, 100);
        var filled = pct / 10;
        var bar = "[" + new string('#', filled) + new string('.', 10 - filled) + "]";
        var agent = s.AssignedAgent is { } a ? $"  on {a}" : "";
        var attempts = s.Attempts > 1 ? $"  attempt {s.Attempts}" : "";
        var error = s.Error is { } e ? $"  {e}" : "";
        return $"  stage {s.Name.PadRight(width)}  {s.Status,-11}  {bar} {pct,3}%{agent}{attempts}{error}";
    }

    /// <summary>Prints the results of the stages no other stage depends on (the run's outputs).</summary>
    private static void PrintResults(WorkflowView run)
    {
        var upstream = run.Stages.SelectMany(s => s.Dependencies).ToHashSet(StringComparer.Ordinal);
        foreach (var stage in run.Stages.Where(s => !upstream.Contains(s.Name) && s.Result is not null))
        {
            Console.WriteLine($"result of {stage.Name}:");
            Console.WriteLine(Output.Json(stage.Result));
        }
    }

    private static Command Status()
    {
        var id = new Argument<string>("workflow-id") { Description = "The run id." };
        var command = new Command("status", "Show a run and each stage (exit code 0 completed, 1 failed or canceled, 3 still running).") { id, JsonOutput };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            using var client = await ctx.UserClientAsync(ct);
            var run = await client.GetWorkflowAsync(parse.GetRequiredValue(id), ct);
            if (parse.GetValue(JsonOutput))
            {
                Console.WriteLine(Output.Json(run));
            }
            else
            {
                Console.WriteLine($"workflow {run.WorkflowId} ({run.Name}): {run.Status}" + (run.Error is { } e ? $": {e}" : ""));
                var width = run.Stages.Max(s => s.Name.Length);
                foreach (var stage in run.Stages)
                {
                    Console.WriteLine(StageLine(stage, stage.Progress, width));
                }
                PrintResults(run);
            }
            return run.Status switch { "completed" => ExitCodes.Ok, "running" => ExitCodes.Pending, _ => ExitCodes.Error };
        }));
        return command;
    }

    private static Command List()
    {
        var command = new Command("list", "List your workflow runs.") { JsonOutput };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            using var client = await ctx.UserClientAsync(ct);
            var page = await client.ListWorkflowsAsync(limit: 100, ct: ct);
            if (parse.GetValue(JsonOutput))
            {
                Console.WriteLine(Output.Json(page));
                return ExitCodes.Ok;
            }
            if (page.Workflows.Count == 0)
            {
                Console.WriteLine("no workflows; start one with `kai workflow run FILE`");
                return ExitCodes.Ok;
            }
            Console.Write(Output.Table(
                ["ID", "NAME", "STATUS", "STAGES", "CREATED"],
                page.Workflows.Select(w => (IReadOnlyList<string>)[
                    w.WorkflowId, w.Name, w.Status, $"{w.Stages.Count(s => s.Status == "completed")}/{w.Stages.Count} done", Output.Time(w.CreatedAt)])));
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Cancel()
    {
        var id = new Argument<string>("workflow-id") { Description = "The run id." };
        var command = new Command("cancel", "Cancel a running workflow and its open stages.") { id, JsonOutput };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            using var client = await ctx.UserClientAsync(ct);
            var run = await client.CancelWorkflowAsync(parse.GetRequiredValue(id), ct);
            Console.WriteLine(parse.GetValue(JsonOutput) ? Output.Json(run) : $"workflow {run.WorkflowId}: {run.Status}");
            return ExitCodes.Ok;
        }));
        return command;
    }
}
