using Kai.Hub.Auth;
using Kai.Hub.Storage;
using Kai.Protocol.Frames;

namespace Kai.Hub.Tasks;

/// <summary>Tasks as work that references files: an agent holds a task while it is in progress on a lease of that agent.</summary>
internal sealed class TaskWorkHolder(ITaskQueueStore store) : IWorkHolder
{
    public string Kind => WorkKinds.Task;

    public async Task<string?> HeldTenantAsync(string workId, string agentId, CancellationToken ct) =>
        await store.GetTaskAsync(workId, ct) is { Status: TaskStatuses.InProgress } task && task.CurrentAgent == agentId ? task.OwnerId : null;

    public async Task<string?> TenantAsync(string workId, CancellationToken ct) => (await store.GetTaskAsync(workId, ct))?.OwnerId;
}
