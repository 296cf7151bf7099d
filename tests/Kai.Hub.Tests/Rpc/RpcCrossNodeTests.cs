using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Hub.Routing;
using Kai.Hub.Tests.Invocations;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Kail;
using Kai.Protocol.Rpc;
using Kai.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Kai.Hub.Tests.Rpc;

/// <summary>
/// RPC and KAIL replies crossing nodes (issue 11, docs/operations.md "What crosses nodes"): two hubs in this process on one in-memory
/// cluster (the router's backplane seam) and one SQLite file. The caller waits on node A, the agent's link is on node B; B forwards
/// the agent's rpc_response / invocation_result through the backplane and A admits it only from the agent the request went to.
/// </summary>
public sealed class RpcCrossNodeTests
{
    private static Task<TestHub> NodeAsync(InMemoryCluster cluster, string dir, string id) =>
        TestHub.StartAsync(dataDirectory: dir, keepData: true, settings: new Dictionary<string, string> { ["Kai:NodeId"] = id },
            configure: b => b.Services.AddSingleton(cluster));

    [Fact]
    public async Task An_rpc_and_an_invocation_answered_on_another_node_complete_the_callers_wait_and_a_foreign_answer_does_not()
    {
        var cluster = new InMemoryCluster();
        var dir = TestHub.NewDataDirectory();
        try
        {
            await using var nodeA = await NodeAsync(cluster, dir, "node-a");
            await using var nodeB = await NodeAsync(cluster, dir, "node-b");
            await RunAsync(nodeA, nodeB, "node-b", () => Task.CompletedTask);
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>The scenario on any backplane: node A waits, the agents' links are on node B (<paramref name="bound"/>: B's bindings are live).</summary>
    internal static async Task RunAsync(TestHub nodeA, TestHub nodeB, string nodeBId, Func<Task> bound)
    {
        Assert.True(nodeA.Service<IBackplane>().HasPeers);
        var user = await nodeA.NewUserAsync();
        var worker = await nodeA.NewAgentAsync(user.AccessToken, "far-worker");
        var other = await nodeA.NewAgentAsync(user.AccessToken, "far-other");
        await using var link = await nodeB.ConnectAgentAsync(worker);
        await using var otherLink = await nodeB.ConnectAgentAsync(other);
        await bound();
        var http = nodeA.Client(user.AccessToken);

        // RPC: sent on A, delivered on B, answered on B, the answer returns to A's waiting call.
        var call = http.CallAsync(RpcKit.Envelope("x-1", "memory.query", new { q = "cat" }, destination: "far-worker"));
        var request = await link.NextRequestAsync();
        Assert.Equal("x-1", request.Id);
        // Another agent on B answering the same id is forwarded too, but node A refuses it: it is not the agent the request went to.
        await otherLink.AnswerAsync(request, new { hits = -1 });
        Assert.True((await link.AnswerAsync(request, new { hits = 3 })).GetProperty("accepted").GetBoolean());
        var (status, body) = await call;
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        Assert.Equal(3, body.GetProperty("result").GetProperty("hits").GetInt32());
        Assert.Equal("far-worker", body.GetProperty("origin").GetString());

        // KAIL: the invocation admitted on A reaches the agent on B; its invocation_result, sent on B, completes A's try.
        var invoke = Kail.InvokeAsync(http, Kail.Envelope($"kah:agent.{nodeBId}.far-worker", "summarize", "long text"));
        var invocation = await Kail.NextInvocationAsync(link);
        await Kail.AnswerAsync(otherLink, invocation, "forged"); // forwarded by B, refused by A (not this try's agent)
        await Kail.AnswerAsync(link, invocation, new { summary = "short" });
        var res = await invoke;
        var result = await Kail.JsonAsync(res);
        Assert.True(res.StatusCode == HttpStatusCode.OK, result.ToString());
        Assert.Equal("completed", result.GetProperty("status").GetString());
        Assert.Equal("short", result.GetProperty("output").GetProperty("summary").GetString());
        Assert.EndsWith(".far-worker", result.GetProperty("agent").GetString());
        Assert.Single(result.GetProperty("stack").EnumerateArray());
    }
}

/// <summary>The same two-node scenario on a real RabbitMQ broker (the production backplane); skipped locally without one, run in CI.</summary>
[Collection("RabbitMQ")]
public sealed class RpcCrossNodeRabbitMqTests
{
    private static Dictionary<string, string> Node(string id) => new()
    {
        ["Kai:Backplane"] = "rabbitmq",
        ["ConnectionStrings:RabbitMQ"] = Cluster.RabbitMqServer.Uri,
        ["Kai:NodeId"] = id,
    };

    [SkippableFact]
    public async Task An_rpc_and_an_invocation_answered_on_another_node_over_rabbitmq_complete_the_callers_wait()
    {
        Cluster.RabbitMqServer.Require();
        var dir = TestHub.NewDataDirectory();
        var suffix = Guid.NewGuid().ToString("N")[..6];
        try
        {
            await using var nodeA = await TestHub.StartAsync(dataDirectory: dir, keepData: true, settings: Node("rpc-a-" + suffix));
            await using var nodeB = await TestHub.StartAsync(dataDirectory: dir, keepData: true, settings: Node("rpc-b-" + suffix));
            await RpcCrossNodeTests.RunAsync(nodeA, nodeB, "rpc-b-" + suffix,
                () => ((Kai.Hub.Cluster.RabbitMqBackplane)nodeB.Service<IBackplane>()).BindingsAppliedAsync());
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }
}
