namespace Kai.Hub.Storage;

/// <summary>
/// The hub's whole system of record, as one object: the aggregate of the capability interfaces. Only the composition root
/// (<see cref="StorageServiceCollectionExtensions.AddKaiStorage"/>) and the store contract tests see it; every service
/// depends on the narrow interface(s) it uses. SQLite implements it for the single-node default; PostgreSQL will implement
/// the same interfaces for multi-node, and the same contract suite (<c>tests/Kai.Hub.Tests/Storage</c>) runs against both.
/// </summary>
/// <remarks>
/// Every method that returns after a write has committed it durably (SQLite WAL with
/// <c>synchronous=FULL</c>): a response sent after it survives <c>kill -9</c>.
/// Methods that change state conditionally return whether they did, so callers can race safely.
/// </remarks>
public interface IHubStore :
    IStoreLifecycle, IAuthStore, IAgentStore, ICommandStore, ITaskQueueStore, IScheduleStore, IWorkflowStore, IAuditStore, ILogStore, IMetricsStore
{
}
