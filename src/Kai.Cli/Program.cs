using System.CommandLine;
using Kai.Cli.Cli;
using Kai.Cli.Commands;

var root = new RootCommand("""
    kai: the command line of Kai Hub.
    Configuration lives in $KAI_CONFIG_DIR (default ~/.config/kai); KAI_URL, KAI_TOKEN, KAI_EMAIL and KAI_PASSWORD override it.
    """)
{
    CliContext.UrlOption,
};
foreach (var command in AuthCommands.Create().Concat([AgentsCommands.Create()]).Concat(AdminCommands.Create()).Concat(SendCommand.Create()).Concat([TailCommand.Create(), AgentRunCommand.Create(), TaskCommands.Create(), WorkflowCommands.Create(), EventsCommand.Create(), StreamCommand.Create(), InvokeCommand.Create(), LogsCommand.Create(), FilesCommands.Create(), RpcCommand.Create(), ChatCommand.Create()]))
{
    root.Subcommands.Add(command);
}
// Ctrl-C cancels the command's token; a command gets 30 s to finish (say, to ask whether to cancel a workflow run) before the
// process is ended (System.CommandLine's default is 2 s).
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(30) });
