using System.Reflection;
using Kai.Hub.Storage;
using Kai.Testing;

namespace Kai.Hub.Tests.Storage;

/// <summary>Services depend on the capability interfaces they use, and all of them are the one store object (one writer).</summary>
public sealed class StoreDependencyTests
{
    [Fact]
    public void No_service_or_handler_outside_storage_takes_the_whole_store()
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        var offenders = typeof(IHubStore).Assembly.GetTypes()
            .Where(t => t.Namespace != typeof(IHubStore).Namespace)
            .SelectMany(t => t.GetConstructors(all).Cast<MethodBase>().Concat(t.GetMethods(all))
                .Where(m => m.GetParameters().Any(p => p.ParameterType == typeof(IHubStore)))
                .Select(m => $"{t.FullName}.{m.Name}"))
            .ToList();
        Assert.Empty(offenders);
        // The check sees constructors and handlers: the narrow interfaces are where it would find them.
        Assert.Contains(typeof(Kai.Hub.Agents.AgentAccess).GetConstructors(all).Single().GetParameters(), p => p.ParameterType == typeof(IAgentStore));
    }

    [Fact]
    public async Task Every_capability_interface_resolves_to_the_one_store_object()
    {
        await using var hub = await TestHub.StartAsync();
        var store = hub.Service<IHubStore>();
        object[] narrow =
        [
            hub.Service<IStoreLifecycle>(), hub.Service<IAuthStore>(), hub.Service<IAgentStore>(), hub.Service<ICommandStore>(),
            hub.Service<ITaskQueueStore>(), hub.Service<IScheduleStore>(), hub.Service<IWorkflowStore>(), hub.Service<IAuditStore>(),
            hub.Service<ILogStore>(), hub.Service<IMetricsStore>(),
        ];
        Assert.All(narrow, s => Assert.Same(store, s));
        Assert.Equal(typeof(IHubStore).GetInterfaces().Length, narrow.Length);
    }
}
