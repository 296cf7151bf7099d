using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Kai.Cli.Cli;
using Kai.Client;
using Kai.Protocol.Rest;

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
        var command = new Command("run", """
            Start a workflow and follow it: one line per stage with its status and progress, redrawn in place on a terminal,
            one line per change otherwise. At the end the results of the last stages are printed.
            Exit code: 0 the workflow completed, 1 it failed or was canceled (or the hub refused it), 130 Ctrl-C (the run goes on).
            """)
        {
            file, id, noWait, interval, JsonOutput,
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
            using var client = await ctx.UserClientAsync(ct);
            var run = await client.CreateWorkflowAsync(request, ct);
            if (parse.GetValue(noWait))
            {
                Console.WriteLine(parse.GetValue(JsonOutput) ? Output.Json(run) : run.WorkflowId);
                return ExitCodes.Ok;
            }
            Console.Error.WriteLine($"workflow {run.WorkflowId} ({run.Name}) started with {run.Stages.Count} stages");
            var final = await FollowAsync(client, run, TimeSpan.FromMilliseconds(every), !Console.IsOutputRedirected, ct);
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

    /// <summary>Polls the run until it ends, drawing the stage lines.</summary>
    private static async Task<WorkflowView> FollowAsync(HubClient client, WorkflowView run, TimeSpan interval, bool terminal, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var drawn = 0;
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        while (true)
        {
            var width = run.Stages.Max(s => s.Name.Length);
            var lines = run.Stages.Select(s => StageLine(s, s.Progress, width)).ToList();
            var header = $"{run.Name}  {run.Status}  {clock.Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s";
            if (terminal)
            {
                // Redraw in place: move up over the previous drawing, clear each line as it is rewritten.
                var frame = new System.Text.StringBuilder();
                if (drawn > 0)
                {
                    frame.Append(CultureInfo.InvariantCulture, $"\u001b[{drawn}A");
                }
                foreach (var line in lines.Prepend(header))
                {
                    frame.Append("\u001b[2K\r").Append(line).Append('\n');
                }
                Console.Write(frame.ToString());
                drawn = lines.Count + 1;
            }
            else
            {
                for (var i = 0; i < run.Stages.Count; i++)
                {
                    var key = run.Stages[i].Name;
                    var state = run.Stages[i].Status + "/" + run.Stages[i].Progress.ToString(CultureInfo.InvariantCulture);
                    if (!seen.TryGetValue(key, out var before) || before != state)
                    {
                        seen[key] = state;
                        Console.WriteLine($"{DateTimeOffset.UtcNow.UtcDateTime.ToString("HH:mm:ss", CultureInfo.InvariantCulture)}  {lines[i].TrimEnd()}");
                    }
                }
            }
            if (run.Status is not "running")
            {
                if (!terminal)
                {
                    Console.WriteLine($"workflow {run.WorkflowId} {run.Status} in {clock.Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s");
                }
                return run;
            }
            await Task.Delay(interval, ct);
            run = await client.GetWorkflowAsync(run.WorkflowId, ct);
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
