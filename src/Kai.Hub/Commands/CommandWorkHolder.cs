using Kai.Hub.Auth;
using Kai.Hub.Storage;
using Kai.Protocol.Frames;

namespace Kai.Hub.Commands;

/// <summary>Commands as work that references files: the agent a command is addressed to holds it until it is answered or expires.</summary>
internal sealed class CommandWorkHolder(ICommandStore store) : IWorkHolder
{
    public string Kind => WorkKinds.Command;

    public async Task<string?> HeldTenantAsync(string workId, string agentId, CancellationToken ct) =>
        await store.GetCommandAsync(workId, ct) is { Status: CommandStatuses.Queued or CommandStatuses.Executing } c && c.AgentId == agentId ? c.OwnerId : null;

    public async Task<string?> TenantAsync(string workId, CancellationToken ct) => (await store.GetCommandAsync(workId, ct))?.OwnerId;
}
