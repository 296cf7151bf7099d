using System.CommandLine;
using Kai.Cli.Agent;
using Kai.Cli.Cli;
using Kai.Client;
using Kai.Protocol.Rest;

namespace Kai.Cli.Commands;

/// <summary><c>kai agent run</c>: hosts an agent process with the built-in handlers until Ctrl-C.</summary>
internal static class AgentRunCommand
{
    public static Command Create()
    {
        var credentials = new Option<string?>("--credentials") { Description = "A credentials file (as saved by `kai agents create`)." };
        var id = new Option<string?>("--id") { Description = "The agent id: its saved credentials (agents/<id>.json in the config directory) are used; with --type, registered if none are saved." };
        var name = new Option<string?>("--name") { Description = "Register a new agent with this display name (needs --type and a login)." };
        var type = new Option<string?>("--type") { Description = "The type of the agent to register." };
        var capability = new Option<string[]>("--capability") { Description = "A capability of the agent to register; repeat for several.", DefaultValueFactory = _ => [] };
        var allowShell = new Option<string[]>("--allow-shell")
        {
            Description = "A program the `shell` command may run, matched exactly on the name given in the command (no shell, no globbing); repeat for several. None by default.",
            DefaultValueFactory = _ => [],
        };
        var shellTimeout = new Option<double>("--shell-timeout") { Description = "Seconds a `shell` program may run before its process tree is killed.", DefaultValueFactory = _ => 10 };
        var shellMaxOutput = new Option<int>("--shell-max-output") { Description = "Bytes of stdout and of stderr kept per `shell` run; more stops the program.", DefaultValueFactory = _ => 64 * 1024 };
        var run = new Command("run", """
            Host an agent process: connect it to the hub and answer commands until Ctrl-C, reconnecting when the link drops.
            Commands: text.stats {path|text, top?}, ask {to, message_type, content} or {to, paths}, shell {command, args?}, ping, restart.
            Messages: text.stats (answered with text.stats.result).
            Tasks: text.stats {path|text, top?}; text.merge (a workflow join: input upstream {stage: text.stats result} becomes one summary).
            Streams: the words of the prompt, or of context.path, one chunk per word (context.delay_ms between chunks, default 30).
            """)
        {
            credentials, id, name, type, capability, allowShell, shellTimeout, shellMaxOutput,
        };
        run.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            var timeout = parse.GetValue(shellTimeout);
            if (timeout is <= 0 or > 3600)
            {
                throw new CliException("--shell-timeout must be more than 0 and at most 3600 seconds.", ExitCodes.Usage);
            }
            var maxOutput = parse.GetValue(shellMaxOutput);
            if (maxOutput is < 1 or > 16 * 1024 * 1024)
            {
                throw new CliException("--shell-max-output must be 1 byte to 16 MiB.", ExitCodes.Usage);
            }
            var (creds, saved) = await ResolveCredentialsAsync(ctx, parse.GetValue(credentials), parse.GetValue(id), parse.GetValue(name), parse.GetValue(type), parse.GetValue(capability) ?? [], ct);
            var logger = new StderrLogger();
            await using var host = new AgentHost(new AgentHostOptions
            {
                Credentials = creds,
                Logger = logger,
                // After `kai agents rotate-secret` the hub closes the link and refuses the old secret: re-read the saved file
                // (rotate-secret rewrites it) instead of exiting.
                ReloadCredentials = _ => ValueTask.FromResult(File.Exists(saved) ? Reload(saved, creds, ctx) : null),
            });
            var shell = new ShellRunner(new ShellOptions
            {
                Allowed = parse.GetValue(allowShell) ?? [], Timeout = TimeSpan.FromSeconds(timeout), MaxOutputBytes = maxOutput,
            });
            new BuiltInHandlers(host, shell, logger).Install();
            Console.Error.WriteLine($"agent {creds.AgentId} starting on {creds.HubUrl}; shell allow-list: {(shell.Options.Allowed.Count == 0 ? "(none)" : string.Join(", ", shell.Options.Allowed))}; Ctrl-C stops");
            await host.RunAsync(ct);
            Console.Error.WriteLine($"agent {creds.AgentId} stopped");
            return ct.IsCancellationRequested ? ExitCodes.Ok : ExitCodes.Error;
        }));
        var agent = new Command("agent", "Run an agent process.");
        agent.Subcommands.Add(run);
        return agent;
    }

    private static AgentCredentials? Reload(string path, AgentCredentials current, CliContext ctx)
    {
        try
        {
            var fresh = AgentCredentials.Load(path);
            return ctx.ExplicitUrl is null ? fresh with { HubUrl = current.HubUrl } : fresh with { HubUrl = ctx.Url };
        }
        catch (Exception ex) when (ex is IOException or System.Text.Json.JsonException or UnauthorizedAccessException or InvalidOperationException)
        {
            // Half-written or unreadable right now: the host retries with backoff and reads it again.
            return null;
        }
    }

    /// <summary>The credentials and the file they are saved in (re-read after a rotation).</summary>
    private static async Task<(AgentCredentials Credentials, string Path)> ResolveCredentialsAsync(
        CliContext ctx, string? file, string? id, string? name, string? type, string[] capabilities, CancellationToken ct)
    {
        AgentCredentials creds;
        string path;
        if (file is not null)
        {
            path = Path.GetFullPath(file);
            creds = AgentCredentials.Load(file);
        }
        else if (id is not null && File.Exists(ctx.Store.AgentCredentialsPath(id)))
        {
            path = ctx.Store.AgentCredentialsPath(id);
            creds = AgentCredentials.Load(path);
        }
        else if (type is not null)
        {
            using var owner = await ctx.UserClientAsync(ct);
            var created = await owner.RegisterAgentAsync(new RegisterAgentRequest(id, type, name, null, capabilities, null, null), ct);
            creds = new AgentCredentials(ctx.Url, created.AgentId, created.ClientId, created.ClientSecret);
            ConfigStore.EnsureDirectory(ctx.Store.AgentsDirectory);
            path = ctx.Store.AgentCredentialsPath(created.AgentId);
            creds.Save(path);
            Console.Error.WriteLine($"registered agent {created.AgentId}; credentials saved to {ctx.Store.AgentCredentialsPath(created.AgentId)}");
        }
        else if (id is not null)
        {
            throw new CliException($"no saved credentials for agent '{id}' ({ctx.Store.AgentCredentialsPath(id)}); create it with `kai agents create --id {id} --name ... --type ...`, or pass --type to register it now.");
        }
        else
        {
            throw new CliException("say which agent to run: --credentials FILE, --id ID (saved credentials), or --name NAME --type TYPE [--capability C]... to register a new one.", ExitCodes.Usage);
        }
        // An explicit --url or KAI_URL wins over the URL saved with the credentials (the hub may have moved).
        return (ctx.ExplicitUrl is null ? creds : creds with { HubUrl = ctx.Url }, path);
    }
}
