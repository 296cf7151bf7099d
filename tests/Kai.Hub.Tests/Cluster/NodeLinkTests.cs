using Kai.Hub.Housekeeping;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Hub.Cluster;
using Kai.Hub.Observability;
using Kai.Hub.Storage;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Testing;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Tests.Cluster;

/// <summary>Link state per node: the node id, a restart that resets only its own links, and the expiry of a dead node's links.</summary>
public sealed class NodeLinkTests
{
    private static Dictionary<string, string> Node(string id) => new() { ["Kai:NodeId"] = id };

    private static async Task<string> StatusAsync(TestHub hub, string token, string agentId) =>
        (await hub.Client(token).GetFromJsonAsync<JsonElement>($"api/v1/agents/{agentId}", KaiJson.Options)).GetProperty("status").GetString()!;

    [Fact]
    public async Task A_link_records_this_node_and_a_restart_resets_only_this_nodes_links()
    {
        var dir = TestHub.NewDataDirectory();
        string token;
        await using (var first = await TestHub.StartAsync(dataDirectory: dir, keepData: true, settings: Node("node-a")))
        {
            var user = await first.NewUserAsync();
            token = user.AccessToken;
            var here = await first.NewAgentAsync(token, "here");
            await first.NewAgentAsync(token, "elsewhere");
            var store = first.Service<IAgentStore>();
            var link = await first.ConnectAgentAsync(here);
            var linked = await store.GetAgentAsync("here", CancellationToken.None);
            Assert.Equal((true, "node-a"), (linked!.Linked, linked.LinkNode));
            Assert.Equal("node-a", first.Service<NodeIdentity>().Id);
            // Another node holds this agent's link (as node-b would record it in a shared database).
            await store.HeartbeatNodeAsync("node-b", DateTimeOffset.UtcNow, CancellationToken.None);
            await store.UpdatePresenceAsync(new AgentPresenceUpdate("elsewhere", "active", DateTimeOffset.UtcNow, Linked: true, LinkNode: "node-b"), CancellationToken.None);
            link.Socket.Abort();
            await first.App.StopAsync();
        }
        await using var second = await TestHub.StartAsync(dataDirectory: dir, settings: Node("node-a"));
        Assert.Equal("offline", await StatusAsync(second, token, "here"));
        Assert.Equal("active", await StatusAsync(second, token, "elsewhere"));
        var elsewhere = await second.Service<IAgentStore>().GetAgentAsync("elsewhere", CancellationToken.None);
        Assert.Equal((true, "node-b"), (elsewhere!.Linked, elsewhere.LinkNode));
    }

    [Fact]
    public async Task The_agents_of_a_node_that_stopped_heart_beating_go_offline_and_observers_are_told()
    {
        var clock = TestClock.Create();
        await using var hub = await TestHub.StartAsync(clock, settings: Node("node-a"));
        var user = await hub.NewUserAsync();
        var mine = await hub.NewAgentAsync(user.AccessToken, "mine");
        await hub.NewAgentAsync(user.AccessToken, "remote");
        await using var link = await hub.ConnectAgentAsync(mine);
        await using var observer = await hub.ConnectAsync("ws/agents/remote", user.AccessToken);
        await observer.ReceiveAsync("welcome");
        var store = hub.Service<IAgentStore>();
        await store.HeartbeatNodeAsync("node-b", clock.GetUtcNow(), CancellationToken.None);
        await store.UpdatePresenceAsync(new AgentPresenceUpdate("remote", "active", clock.GetUtcNow(), Linked: true, LinkNode: "node-b"), CancellationToken.None);
        var sweeper = hub.Service<HubSweeper>();
        var timeout = hub.Service<IOptions<ClusterOptions>>().Value.NodeTimeout;

        clock.Advance(timeout);
        await sweeper.SweepOnceAsync(CancellationToken.None);
        Assert.Equal("active", await StatusAsync(hub, user.AccessToken, "remote"));

        clock.Advance(TimeSpan.FromSeconds(1));
        await sweeper.SweepOnceAsync(CancellationToken.None);
        var offline = (await observer.ReceiveAsync("status_update")).PayloadAs<StatusUpdatePayload>()!;
        Assert.Equal(("remote", "offline", "active", "node_lost"), (offline.AgentId, offline.Status, offline.PreviousStatus, offline.Reason));
        Assert.Equal("offline", await StatusAsync(hub, user.AccessToken, "remote"));
        Assert.Equal(["node-a"], (await store.ListNodesAsync(CancellationToken.None)).Select(n => n.NodeId));
        // This node heart-beats on every sweep, so its own agent keeps its link.
        var own = await store.GetAgentAsync("mine", CancellationToken.None);
        Assert.Equal((true, "node-a", "active"), (own!.Linked, own.LinkNode, own.Status));
    }

    [Fact]
    public async Task Without_a_configured_id_the_node_generates_one_once_and_keeps_it_in_the_data_directory()
    {
        var dir = TestHub.NewDataDirectory();
        string id;
        await using (var first = await TestHub.StartAsync(dataDirectory: dir, keepData: true))
        {
            id = first.Service<NodeIdentity>().Id;
        }
        Assert.Matches("^node-[0-9a-f]{16}$", id);
        Assert.Equal(id, File.ReadAllText(Path.Combine(dir, NodeIdentity.FileName)).Trim());
        await using (var second = await TestHub.StartAsync(dataDirectory: dir, keepData: true))
        {
            Assert.Equal(id, second.Service<NodeIdentity>().Id);
        }
        await using var configured = await TestHub.StartAsync(dataDirectory: dir, settings: Node("configured.node_1"));
        Assert.Equal("configured.node_1", configured.Service<NodeIdentity>().Id);
    }

    [Fact]
    public async Task A_bad_node_id_stops_the_start_with_a_clear_error()
    {
        var bad = await Assert.ThrowsAsync<OptionsValidationException>(() => TestHub.StartAsync(settings: Node("has spaces/and slashes")));
        Assert.Contains("Kai:NodeId", bad.Message, StringComparison.Ordinal);

        var dir = TestHub.NewDataDirectory();
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, NodeIdentity.FileName), "not a node id!\n");
        try
        {
            var corrupt = await Assert.ThrowsAsync<InvalidOperationException>(() => TestHub.StartAsync(dataDirectory: dir));
            Assert.Contains(NodeIdentity.FileName, corrupt.Message, StringComparison.Ordinal);
            Assert.Equal("not a node id!\n", File.ReadAllText(Path.Combine(dir, NodeIdentity.FileName)));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
