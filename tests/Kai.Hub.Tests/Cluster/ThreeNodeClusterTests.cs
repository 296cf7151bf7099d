using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;
using Kai.Testing;
using Xunit.Abstractions;

namespace Kai.Hub.Tests.Cluster;

/// <summary>
/// Three hub processes sharing one PostgreSQL schema and one RabbitMQ broker (issue 14, "Tests that must exist"): a task
/// enqueued on one node is taken by an agent on another; an event id from one node recovers on another; <c>kill -9</c> of the
/// node holding the worker's link under task load loses no acknowledged task (its leases are redelivered) and the agent goes
/// offline and comes back online through another node; a RabbitMQ restart under load loses nothing acknowledged. Waits poll
/// observable state (REST) with a bounded limit; nothing is timed.
/// </summary>
[Collection("RabbitMQ")]
public sealed class ThreeNodeClusterTests(SharedCluster shared, ITestOutputHelper output) : IClassFixture<SharedCluster>
{
    private async Task<Cluster> ClusterAsync()
    {
        TestPostgres.Require();
        RabbitMqServer.Require();
        return await shared.GetAsync();
    }

    internal static async Task<string> NewUserAsync(ClusterNode node)
    {
        using var api = node.Client();
        var email = $"c{Guid.NewGuid():N}@example.com";
        (await api.PostAsJsonAsync("api/v1/auth/register", new RegisterRequest(email, "correct-horse-battery", "Cluster", true), KaiJson.Options)).EnsureSuccessStatusCode();
        var login = await api.PostAsJsonAsync("api/v1/auth/login", new LoginRequest(email, "correct-horse-battery"), KaiJson.Options);
        login.EnsureSuccessStatusCode();
        return (await login.Content.ReadFromJsonAsync<TokenResponse>(KaiJson.Options))!.AccessToken;
    }

    internal static async Task<AgentCreatedResponse> NewWorkerAgentAsync(ClusterNode node, string token, string type)
    {
        using var api = node.Client(token);
        var config = JsonSerializer.SerializeToElement(new Dictionary<string, int> { ["max_concurrent_tasks"] = 20 });
        var reg = await api.PostAsJsonAsync("api/v1/agents/register", new RegisterAgentRequest(null, type, type + "-worker", "1", [], null, config), KaiJson.Options);
        reg.EnsureSuccessStatusCode();
        return (await reg.Content.ReadFromJsonAsync<AgentCreatedResponse>(KaiJson.Options))!;
    }

    internal static async Task<HttpStatusCode> EnqueueAsync(HttpClient api, string id, string type)
    {
        using var req = new HttpRequestMessage(HttpMethod.Post, "api/v1/tasks")
        {
            Content = JsonContent.Create(new CreateTaskRequest(id, type, RetryPolicy: new RetryPolicy(20, "none")), options: KaiJson.Options),
        };
        req.Headers.Add("Idempotency-Key", id);
        using var res = await api.SendAsync(req);
        return res.StatusCode;
    }

    internal static async Task<string> StatusAsync(HttpClient api, string agentId) =>
        (await api.GetFromJsonAsync<AgentView>($"api/v1/agents/{agentId}", KaiJson.Options))!.Status;

    /// <summary>Polls (bounded) until <paramref name="condition"/> holds.</summary>
    internal static async Task UntilAsync(Func<Task<bool>> condition, string what)
    {
        var stop = System.Diagnostics.Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(stop.Elapsed < TimeSpan.FromMinutes(2), $"gave up waiting: {what}");
            await Task.Delay(100);
        }
    }

    [SkippableFact]
    public async Task A_task_enqueued_on_one_node_is_taken_by_an_agent_on_another_and_an_event_id_recovers_on_a_third()
    {
        var cluster = await ClusterAsync();
        var (n1, n2, n3) = (cluster.Nodes[0], cluster.Nodes[1], cluster.Nodes[2]);
        var token = await NewUserAsync(n1);
        var agent = await NewWorkerAgentAsync(n1, token, "xnode");
        await using var worker = new ClusterWorker(agent);
        await worker.ConnectAsync(n2.BaseAddress);
        using var api1 = n1.Client(token);
        using var api3 = n3.Client(token);
        await UntilAsync(async () => (await StatusAsync(api3, agent.AgentId)) != AgentStatuses.Offline, "the agent is online (seen from node 3)");

        // Enqueued through node 1; the agent's link is on node 2; the result is read on node 3.
        Assert.Equal(HttpStatusCode.Created, await EnqueueAsync(api1, "xnode-1", "xnode"));
        await UntilAsync(async () => (await api3.GetFromJsonAsync<TaskView>("api/v1/tasks/xnode-1", KaiJson.Options))!.Status == TaskStatuses.Completed,
            "the task enqueued on node 1 completes through the agent on node 2");
        Assert.Equal(1, worker.Deliveries["xnode-1"]);

        // Events: a client saw the first on node 1, then reconnects to node 3 with its id and gets what node 1 and 2 published since.
        var ids = new List<string>();
        foreach (var (node, n) in new[] { (n1, 1), (n1, 2), (n2, 3) })
        {
            using var api = node.Client(token);
            var res = await api.PostAsJsonAsync("api/v1/events", new { topic = "custom.xnode.e", data = new { n } }, KaiJson.Options);
            Assert.Equal(HttpStatusCode.Accepted, res.StatusCode);
            ids.Add((await res.Content.ReadFromJsonAsync<PublishAck>(KaiJson.Options))!.Id);
        }
        var recovered = (await api3.GetFromJsonAsync<EventPollResponse>($"api/v1/events?topics=custom.xnode.*&since={ids[0]}", KaiJson.Options))!;
        Assert.False(recovered.Gap);
        Assert.Equal([2, 3], recovered.Events.Select(e => e.Payload.GetProperty("n").GetInt32()));
        Assert.Equal(ids[2], recovered.NextCursor);
    }

    [SkippableFact]
    public async Task Kill_9_of_a_node_under_task_load_loses_no_acknowledged_task_and_its_agent_moves_to_another_node()
    {
        var cluster = await ClusterAsync();
        var (n1, n2) = (cluster.Nodes[0], cluster.Nodes[1]);
        // The node to kill joins the shared cluster for this test (so the other tests keep their three nodes).
        await using var n3 = await cluster.JoinAsync("n4");
        var token = await NewUserAsync(n1);
        var agent = await NewWorkerAgentAsync(n1, token, "kill9");
        await using var worker = new ClusterWorker(agent);
        await worker.ConnectAsync(n3.BaseAddress);
        using var api1 = n1.Client(token);
        using var api2 = n2.Client(token);
        await UntilAsync(async () => (await StatusAsync(api1, agent.AgentId)) != AgentStatuses.Offline, "the agent is online");

        // Producers on nodes 1 and 2 enqueue; the worker's node 3 is killed after some tasks were acknowledged.
        var acked = new ConcurrentDictionary<string, bool>(StringComparer.Ordinal);
        var killAt = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var producers = new[] { api1, api2 }.Select((api, p) => Task.Run(async () =>
        {
            for (var i = 0; i < 60; i++)
            {
                var id = $"kill9-{p}-{i}";
                if (await EnqueueAsync(api, id, "kill9") is HttpStatusCode.Created or HttpStatusCode.OK)
                {
                    acked[id] = true;
                }
                if (acked.Count >= 40)
                {
                    killAt.TrySetResult();
                }
            }
        })).ToList();
        await killAt.Task.WaitAsync(TimeSpan.FromMinutes(2));
        n3.Kill();
        await worker.Disconnected;

        // Node 3 stops heart-beating; after Kai:NodeTimeout another node expires its links: the agent is offline.
        await UntilAsync(async () => (await StatusAsync(api1, agent.AgentId)) == AgentStatuses.Offline, "the killed node's agent is marked offline");
        // The agent reconnects through another node and is online again; its leases from node 3 are redelivered.
        await worker.ConnectAsync(n2.BaseAddress);
        await UntilAsync(async () => (await StatusAsync(api1, agent.AgentId)) != AgentStatuses.Offline, "the agent is online again on node 2");
        await Task.WhenAll(producers);
        await UntilAsync(() => Task.FromResult(worker.HasCompleted(acked.Keys)), $"all {acked.Count} acknowledged tasks complete");
        foreach (var id in acked.Keys)
        {
            Assert.Equal(TaskStatuses.Completed, (await api1.GetFromJsonAsync<TaskView>($"api/v1/tasks/{id}", KaiJson.Options))!.Status);
        }
        output.WriteLine($"{acked.Count} acknowledged, all completed; {worker.Deliveries.Values.Sum() - worker.Deliveries.Count} duplicate deliveries");
    }

    [SkippableFact]
    public async Task A_RabbitMQ_restart_under_task_load_answers_unavailable_on_ready_and_loses_no_acknowledged_task()
    {
        var cluster = await ClusterAsync();
        var (n1, n2) = (cluster.Nodes[0], cluster.Nodes[1]);
        var token = await NewUserAsync(n1);
        var agent = await NewWorkerAgentAsync(n1, token, "rmq");
        await using var worker = new ClusterWorker(agent);
        await worker.ConnectAsync(n2.BaseAddress);
        using var api1 = n1.Client(token);
        await UntilAsync(async () => (await StatusAsync(api1, agent.AgentId)) != AgentStatuses.Offline, "the agent is online");

        var acked = new ConcurrentBag<string>();
        var i = 0;
        async Task EnqueueSomeAsync(int count)
        {
            for (var k = 0; k < count; k++, i++)
            {
                if (await EnqueueAsync(api1, $"rmq-{i}", "rmq") is HttpStatusCode.Created or HttpStatusCode.OK)
                {
                    acked.Add($"rmq-{i}");
                }
            }
        }
        await EnqueueSomeAsync(10);
        await RabbitMqServer.CtlAsync("stop_app");
        try
        {
            // The broker is gone: node 1 is not ready and says why, but it still takes tasks (the store is the system of record).
            await UntilAsync(async () => (await n1.Client().GetAsync("ready")).StatusCode == HttpStatusCode.ServiceUnavailable, "node 1 reports the lost backplane");
            var ready = await (await n1.Client().GetAsync("ready")).Content.ReadAsStringAsync();
            Assert.Contains("RabbitMQ", ready, StringComparison.Ordinal);
            await EnqueueSomeAsync(10);
        }
        finally
        {
            await RabbitMqServer.CtlAsync("start_app");
        }
        await UntilAsync(async () => (await n1.Client().GetAsync("ready")).StatusCode == HttpStatusCode.OK, "node 1 ready again after the broker restart");
        await EnqueueSomeAsync(10);
        await UntilAsync(() => Task.FromResult(worker.HasCompleted(acked)), $"all {acked.Count} acknowledged tasks complete");
        Assert.Equal(30, acked.Count);
    }
}

internal sealed class Cluster : IAsyncDisposable
{
    private readonly string _schema;
    private readonly string _dir;

    private readonly string _postgres;
    private readonly string _suffix;
    private readonly string[] _extra;

    private Cluster(string schema, string postgres, string dir, string suffix, string[] extra, IReadOnlyList<ClusterNode> nodes)
    {
        _schema = schema;
        _postgres = postgres;
        _dir = dir;
        _suffix = suffix;
        _extra = extra;
        Nodes = nodes;
    }

    /// <summary>Starts one more node on the cluster's store, broker and keys (the caller disposes it).</summary>
    public Task<ClusterNode> JoinAsync(string name) => ClusterNode.StartAsync($"{name}-{_suffix}", _dir, _postgres, RabbitMqServer.Uri, _extra);

    public IReadOnlyList<ClusterNode> Nodes { get; }

    public static async Task<Cluster> StartAsync(params string[] extra)
    {
        TestPostgres.Require();
        RabbitMqServer.Require();
        var schema = "kai_c_" + Guid.NewGuid().ToString("N")[..20];
        var postgres = await TestPostgres.CreateSchemaAsync(schema);
        var dir = TestHub.NewDataDirectory();
        var suffix = Guid.NewGuid().ToString("N")[..6];
        var nodes = new List<ClusterNode>();
        try
        {
            // The first node migrates and makes the signing keys (in the shared data directory); the others start together.
            nodes.Add(await ClusterNode.StartAsync($"n1-{suffix}", dir, postgres, RabbitMqServer.Uri, extra));
            nodes.AddRange(await Task.WhenAll(
                ClusterNode.StartAsync($"n2-{suffix}", dir, postgres, RabbitMqServer.Uri, extra),
                ClusterNode.StartAsync($"n3-{suffix}", dir, postgres, RabbitMqServer.Uri, extra)));
        }
        catch
        {
            foreach (var n in nodes)
            {
                await n.DisposeAsync();
            }
            await TestPostgres.DropSchemaAsync(schema);
            throw;
        }
        return new Cluster(schema, postgres, dir, suffix, extra, nodes);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var n in Nodes)
        {
            await n.DisposeAsync();
        }
        await TestPostgres.DropSchemaAsync(_schema);
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}

/// <summary>
/// One three-node cluster shared by the tests of a class that leave every node running (starting three processes is most of
/// a test's time). Started on first use, after the test's own Require checks, so a missing server skips instead of failing.
/// </summary>
public sealed class SharedCluster : IAsyncLifetime
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Cluster? _cluster;

    internal async Task<Cluster> GetAsync()
    {
        await _gate.WaitAsync();
        try
        {
            return _cluster ??= await Cluster.StartAsync();
        }
        finally
        {
            _gate.Release();
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    /// <summary>xUnit (v2) disposes a class fixture through IAsyncLifetime, not IAsyncDisposable: this stops the node processes.</summary>
    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
        _gate.Dispose();
    }
}
