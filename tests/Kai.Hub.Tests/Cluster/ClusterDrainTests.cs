using System.Net;
using System.Net.Http.Json;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;

namespace Kai.Hub.Tests.Cluster;

/// <summary>
/// Drain (issue 14 §5) on three hub processes (PostgreSQL + RabbitMQ): SIGTERM closes the node's links with 1001 and hands
/// its agents' task leases back, so the agent gets them again through another node long before the lease would expire. Its
/// own cluster: the leases here are 10 minutes long, so a redelivery within the bounded wait can only be the hand-back.
/// </summary>
[Collection("RabbitMQ")]
public sealed class ClusterDrainTests
{
    [SkippableFact]
    public async Task Sigterm_drains_a_node_closing_links_with_1001_and_handing_its_task_leases_to_another_node()
    {
        // Leases of 10 minutes: a redelivery within the 2-minute wait below is the hand-back, not an expiry.
        await using var cluster = await Cluster.StartAsync("--Kai:Tasks:LeaseDuration=00:10:00");
        var (n1, n3) = (cluster.Nodes[0], cluster.Nodes[2]);
        var token = await ThreeNodeClusterTests.NewUserAsync(n1);
        var agent = await ThreeNodeClusterTests.NewWorkerAgentAsync(n1, token, "drain");
        await using var worker = new ClusterWorker(agent) { Hold = true };
        await worker.ConnectAsync(n3.BaseAddress);
        using var api1 = n1.Client(token);
        await ThreeNodeClusterTests.UntilAsync(async () => (await ThreeNodeClusterTests.StatusAsync(api1, agent.AgentId)) != AgentStatuses.Offline, "the agent is online");
        var ids = Enumerable.Range(0, 5).Select(i => $"drain-{i}").ToList();
        foreach (var id in ids)
        {
            Assert.Equal(HttpStatusCode.Created, await ThreeNodeClusterTests.EnqueueAsync(api1, id, "drain"));
        }
        await ThreeNodeClusterTests.UntilAsync(() => Task.FromResult(ids.All(worker.Deliveries.ContainsKey)), "the worker on node 3 holds all five leases");

        await n3.TerminateAsync();
        await worker.Disconnected;
        Assert.Equal(System.Net.WebSockets.WebSocketCloseStatus.EndpointUnavailable, worker.CloseStatus);
        foreach (var id in ids)
        {
            Assert.Equal(TaskStatuses.Queued, (await api1.GetFromJsonAsync<TaskView>($"api/v1/tasks/{id}", KaiJson.Options))!.Status);
        }

        // The agent reconnects through another node: the handed-back tasks come again at once and complete.
        worker.Hold = false;
        await worker.ConnectAsync(n1.BaseAddress);
        await ThreeNodeClusterTests.UntilAsync(() => Task.FromResult(worker.HasCompleted(ids)), "the handed-back tasks complete on node 1");
        Assert.All(ids, id => Assert.Equal(2, worker.Deliveries[id]));
    }
}
