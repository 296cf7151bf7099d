using System.CommandLine;
using Kai.Cli.Cli;
using Kai.Client;
using Kai.Protocol.Rest;

namespace Kai.Cli.Commands;

/// <summary><c>kai agents list|show|create|rotate-secret</c>.</summary>
internal static class AgentsCommands
{
    public static Command Create()
    {
        var agents = new Command("agents", "List, show and create agents you own.");
        agents.Subcommands.Add(List());
        agents.Subcommands.Add(Show());
        agents.Subcommands.Add(CreateAgent());
        agents.Subcommands.Add(RotateSecret());
        return agents;
    }

    private static readonly Option<bool> JsonOutput = new("--json") { Description = "Print the hub's JSON instead of text." };

    private static Command List()
    {
        var status = new Option<string?>("--status") { Description = "Only agents with this status: active, idle, offline or error." };
        var capability = new Option<string?>("--capability") { Description = "Only agents with this capability." };
        var type = new Option<string?>("--type") { Description = "Only agents of this type." };
        var command = new Command("list", "List your agents as a table.") { status, capability, type, JsonOutput };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            using var client = await ctx.UserClientAsync(ct);
            var all = new List<AgentView>();
            int total;
            do
            {
                var page = await client.ListAgentsAsync(parse.GetValue(status), parse.GetValue(capability), parse.GetValue(type), limit: 100, offset: all.Count, ct: ct);
                all.AddRange(page.Agents);
                total = page.Total;
                if (page.Agents.Count == 0)
                {
                    break;
                }
            }
            while (all.Count < total);
            if (parse.GetValue(JsonOutput))
            {
                Console.WriteLine(Output.Json(all));
                return ExitCodes.Ok;
            }
            if (all.Count == 0)
            {
                Console.WriteLine("no agents; create one with `kai agents create --name NAME --type TYPE`");
                return ExitCodes.Ok;
            }
            Console.Write(Output.Table(
                ["ID", "NAME", "TYPE", "STATUS", "CONNECTED", "CAPABILITIES", "LAST ACTIVITY"],
                all.Select(a => (IReadOnlyList<string>)[a.AgentId, a.Name, a.Type, a.Status, a.Connected ? "yes" : "no", string.Join(',', a.Capabilities), Output.Time(a.LastActivity)])));
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Show()
    {
        var id = new Argument<string>("id") { Description = "The agent id." };
        var command = new Command("show", "Show an agent's details and live status.") { id, JsonOutput };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            using var client = await ctx.UserClientAsync(ct);
            var agentId = parse.GetRequiredValue(id);
            var agent = await client.GetAgentAsync(agentId, ct);
            var status = await client.GetAgentStatusAsync(agentId, ct);
            if (parse.GetValue(JsonOutput))
            {
                Console.WriteLine(Output.Json(new { agent, status }));
                return ExitCodes.Ok;
            }
            Console.Write(Output.Table(["FIELD", "VALUE"],
            [
                ["id", agent.AgentId],
                ["name", agent.Name],
                ["type", agent.Type],
                ["version", agent.Version ?? "-"],
                ["capabilities", agent.Capabilities.Count == 0 ? "-" : string.Join(", ", agent.Capabilities)],
                ["status", status.Status],
                ["connected", status.Health.Connected ? "yes" : "no"],
                ["reported status", status.Health.ReportedStatus ?? "-"],
                ["last heartbeat", Output.Time(status.Health.LastHeartbeat)],
                ["missed heartbeats", status.Health.MissedHeartbeats.ToString(System.Globalization.CultureInfo.InvariantCulture)],
                ["heartbeat interval", $"{status.Health.HeartbeatInterval} s"],
                ["current tasks", status.ResourceUsage.CurrentTasks.ToString(System.Globalization.CultureInfo.InvariantCulture)],
                ["last activity", Output.Time(status.LastActivity)],
                ["owner", agent.OwnerId],
                ["created", Output.Time(agent.CreatedAt)],
                ["updated", Output.Time(agent.UpdatedAt)],
                ["config", Output.Compact(agent.Config)],
            ]));
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command CreateAgent()
    {
        var name = new Option<string>("--name", "-n") { Description = "The display name.", Required = true };
        var type = new Option<string>("--type", "-t") { Description = "The agent type, for example text_stats.", Required = true };
        var capability = new Option<string[]>("--capability", "-c") { Description = "A capability; repeat for several.", DefaultValueFactory = _ => [] };
        var id = new Option<string?>("--id") { Description = "The agent id (3 to 64 of letters, digits, . _ -); generated when absent." };
        var command = new Command("create", "Register a new agent and save its credentials to the config directory (agents/<id>.json).")
        {
            name, type, capability, id,
        };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            using var client = await ctx.UserClientAsync(ct);
            var created = await client.RegisterAgentAsync(
                new RegisterAgentRequest(parse.GetValue(id), parse.GetRequiredValue(type), parse.GetRequiredValue(name), null, parse.GetValue(capability), null, null), ct);
            var credentials = new AgentCredentials(ctx.Url, created.AgentId, created.ClientId, created.ClientSecret);
            var path = ctx.Store.AgentCredentialsPath(created.AgentId);
            ConfigStore.EnsureDirectory(ctx.Store.AgentsDirectory);
            credentials.Save(path);
            Console.WriteLine($"created agent {created.AgentId}");
            Console.WriteLine($"  client_id:     {created.ClientId}");
            Console.WriteLine($"  client_secret: {created.ClientSecret}");
            Console.WriteLine($"  live link:     {created.WebsocketUrl}");
            Console.WriteLine($"  saved to:      {path}");
            Console.Error.WriteLine("warning: the client secret is shown only this once; the hub keeps only a hash of it.");
            Console.Error.WriteLine($"run it with: kai agent run --id {created.AgentId}");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command RotateSecret()
    {
        var id = new Argument<string>("id") { Description = "The agent id." };
        var command = new Command("rotate-secret", "Give an agent a new client secret and save it (agents/<id>.json); the old secret stops working at once.") { id };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            using var client = await ctx.UserClientAsync(ct);
            var rotated = await client.RotateAgentSecretAsync(parse.GetRequiredValue(id), ct);
            var path = ctx.Store.AgentCredentialsPath(rotated.AgentId);
            ConfigStore.EnsureDirectory(ctx.Store.AgentsDirectory);
            new AgentCredentials(ctx.Url, rotated.AgentId, rotated.ClientId, rotated.ClientSecret).Save(path);
            Console.WriteLine($"rotated the secret of agent {rotated.AgentId}");
            Console.WriteLine($"  client_id:     {rotated.ClientId}");
            Console.WriteLine($"  client_secret: {rotated.ClientSecret}");
            Console.WriteLine($"  saved to:      {path}");
            Console.Error.WriteLine("warning: the client secret is shown only this once; the hub keeps only a hash of it.");
            Console.Error.WriteLine("the old secret and its tokens are revoked: a running `kai agent run` for this agent is disconnected and must be restarted "
                + $"to pick up the new credentials: kai agent run --id {rotated.AgentId}");
            return ExitCodes.Ok;
        }));
        return command;
    }
}
