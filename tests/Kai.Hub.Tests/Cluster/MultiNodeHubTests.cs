using System.Net.Http.Json;
using Kai.Hub.Cluster;
using Kai.Hub.Routing;
using Kai.Hub.Tests.Events;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;
using Kai.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Kai.Hub.Tests.Cluster;

/// <summary>
/// Two hub nodes on one RabbitMQ broker sharing one store (issue 14 §3, §6): agents on different nodes exchange
/// <c>agent_message</c>s and commands, and topic events reach subscribers on every node. The nodes run in this test process and
/// share one SQLite file (WAL); the three-process PostgreSQL integration suite is separate.
/// </summary>
[Collection("RabbitMQ")]
public sealed class MultiNodeHubTests
{
    private static Dictionary<string, string> Node(string id) => EventTestKit.AdminSettings(new()
    {
        ["Kai:Backplane"] = "rabbitmq",
        ["ConnectionStrings:RabbitMQ"] = RabbitMqServer.Uri,
        ["Kai:NodeId"] = id,
    });

    private static Task BoundAsync(TestHub hub) => ((RabbitMqBackplane)hub.Service<IBackplane>()).BindingsAppliedAsync();

    [SkippableFact]
    public async Task Agents_on_different_nodes_exchange_messages_and_commands_and_events_reach_every_node()
    {
        RabbitMqServer.Require();
        var dir = TestHub.NewDataDirectory();
        var suffix = Guid.NewGuid().ToString("N")[..6];
        try
        {
            await using var nodeA = await TestHub.StartAsync(dataDirectory: dir, keepData: true, settings: Node("node-a-" + suffix));
            await using var nodeB = await TestHub.StartAsync(dataDirectory: dir, keepData: true, settings: Node("node-b-" + suffix));
            var user = await nodeA.NewUserAsync();
            await nodeA.NewAgentAsync(user.AccessToken, "left");
            var rightAgent = await nodeA.NewAgentAsync(user.AccessToken, "right");
            await using var left = await nodeA.ConnectAgentAsync(await nodeA.NewAgentAsync(user.AccessToken, "left-2"));
            // The token issued by node A is accepted by node B (the signing key is shared through the store / data directory).
            await using var right = await nodeB.ConnectAgentAsync(rightAgent);
            await BoundAsync(nodeB);

            // agent_message across nodes, and the answer back.
            await left.SendAsync("agent_message", new { to_agent = "right", message_type = "greeting", content = new { text = "hi" }, correlation_id = "c-1" }, "m-1");
            var ack = await left.ReceiveAsync("ack");
            Assert.True(ack.Payload.GetProperty("delivered").GetBoolean(), ack.Payload.ToString());
            var got = (await right.ReceiveAsync("agent_message")).PayloadAs<AgentMessageDelivery>()!;
            Assert.Equal(("left-2", "hi", "c-1"), (got.FromAgent, got.Content.GetProperty("text").GetString(), got.CorrelationId));
            await right.SendAsync("agent_message", new { to_agent = "left-2", message_type = "greeting.result", content = "hello back", correlation_id = "c-1" });
            Assert.Equal("hello back", (await left.ReceiveAsync("agent_message")).PayloadAs<AgentMessageDelivery>()!.Content.GetString());

            // A command sent through node A's REST API to the agent on node B: the result, stored by B, answers A's waiting call.
            using var client = nodeA.Client(user.AccessToken);
            var call = client.PostAsJsonAsync("api/v1/agents/right/command",
                new SendCommandRequest("sum", System.Text.Json.JsonDocument.Parse("""{"a": 2, "b": 40}""").RootElement, "high", 30), KaiJson.Options);
            var command = (await right.ReceiveAsync("command")).PayloadAs<CommandPayload>()!;
            var sum = command.Parameters.GetProperty("a").GetInt32() + command.Parameters.GetProperty("b").GetInt32();
            await right.SendAsync("command_result", new { command_id = command.CommandId, status = "completed", result = new { sum } });
            var response = (await (await call).Content.ReadFromJsonAsync<CommandResponse>(KaiJson.Options))!;
            Assert.Equal(("completed", command.CommandId), (response.Status, response.CommandId));
            Assert.Equal(42, response.Result!.Value.GetProperty("sum").GetInt32());

            // Topic events published on one node reach subscribers on both.
            var (onA, _) = await nodeA.EventsAsync(user.AccessToken);
            var (onB, _) = await nodeB.EventsAsync(user.AccessToken);
            await using (onA)
            await using (onB)
            {
                await onA.SubscribeAsync(new { events = new[] { "custom.cluster.>" } });
                await onB.SubscribeAsync(new { events = new[] { "custom.cluster.>" } });
                (await nodeA.PublishRestAsync(user.AccessToken, "custom.cluster.hello", new { n = 1 })).EnsureSuccessStatusCode();
                foreach (var socket in new[] { onA, onB })
                {
                    var e = await socket.NextEventAsync();
                    Assert.Equal(("custom.cluster.hello", 1), (e.Topic, e.Payload.GetProperty("n").GetInt32()));
                }
            }

            // The admin sees both nodes, which node holds which agent's link, and the answering node's load.
            using var admin = nodeB.Client(await nodeB.AdminTokenAsync());
            var nodes = (await admin.GetFromJsonAsync<NodeListResponse>("api/v1/admin/nodes", KaiJson.Options))!.Nodes;
            var a = Assert.Single(nodes, n => n.NodeId == "node-a-" + suffix);
            var b = Assert.Single(nodes, n => n.NodeId == "node-b-" + suffix);
            Assert.Equal((true, false, true, true), (a.Alive, a.Self, b.Alive, b.Self));
            Assert.Equal(["left-2"], a.AgentLinks);
            Assert.Equal(["right"], b.AgentLinks);
            Assert.Null(a.Load);
            Assert.Equal((1, "rabbitmq", (string?)null), (b.Load!.AgentLinks, b.Load.Backplane, b.Load.BackplaneProblem));

            // An agent that is offline everywhere is Unavailable, not delivered.
            await left.SendAsync("agent_message", new { to_agent = "left", message_type = "x", content = 1 }, "m-2");
            var offline = await left.ReceiveAsync();
            Assert.True(offline.Type == "error" || !offline.Payload.GetProperty("delivered").GetBoolean(), offline.Payload.ToString());
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    [SkippableFact]
    public async Task A_tenant_a_node_cached_for_an_agent_on_another_node_never_lets_a_message_reach_a_new_owner_of_its_id()
    {
        RabbitMqServer.Require();
        var dir = TestHub.NewDataDirectory();
        var suffix = Guid.NewGuid().ToString("N")[..6];
        try
        {
            var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
            await using var nodeA = await TestHub.StartAsync(time: clock, dataDirectory: dir, keepData: true, settings: Node("node-a-" + suffix));
            await using var nodeB = await TestHub.StartAsync(dataDirectory: dir, keepData: true, settings: Node("node-b-" + suffix));
            var alice = await nodeA.NewUserAsync();
            var bob = await nodeA.NewUserAsync();
            await using var sender = await nodeA.ConnectAgentAsync(await nodeA.NewAgentAsync(alice.AccessToken, "sender-" + suffix));
            await using var bobsSender = await nodeA.ConnectAgentAsync(await nodeA.NewAgentAsync(bob.AccessToken, "bobs-sender-" + suffix));
            var id = "shared-" + suffix;
            await using (var first = await nodeB.ConnectAgentAsync(await nodeA.NewAgentAsync(alice.AccessToken, id)))
            {
                await BoundAsync(nodeB);
                await sender.SendAsync("agent_message", new { to_agent = id, message_type = "x", content = "for alice's agent" }, "m-1");
                Assert.True((await sender.ReceiveAsync("ack")).Payload.GetProperty("delivered").GetBoolean());
                Assert.Equal("for alice's agent", (await first.ReceiveAsync("agent_message")).PayloadAs<AgentMessageDelivery>()!.Content.GetString());
            }

            // Alice deletes the agent; Bob creates one with the same id and connects it to node B.
            (await nodeB.Client(alice.AccessToken).DeleteAsync($"api/v1/agents/{id}")).EnsureSuccessStatusCode();
            await using var taken = await nodeB.ConnectAgentAsync(await nodeB.NewAgentAsync(bob.AccessToken, id));
            await BoundAsync(nodeB);

            // Node A still has Alice as the id's tenant (AgentDirectory.RemoteTenantTtl) and hands the message on; node B, which holds
            // the link, checks the sender against its owner and drops it.
            await sender.SendAsync("agent_message", new { to_agent = id, message_type = "x", content = "alice's secret" }, "m-2");
            Assert.True((await sender.ReceiveAsync("ack")).Payload.GetProperty("delivered").GetBoolean());
            // Past the window, node A reads the store again: Bob's agent is not Alice's to reach.
            clock.Advance(AgentDirectory.RemoteTenantTtl + TimeSpan.FromSeconds(1));
            await sender.SendAsync("agent_message", new { to_agent = id, message_type = "x", content = "alice again" }, "m-3");
            var refused = await sender.ReceiveAsync();
            Assert.Equal(("error", ErrorCodes.AgentNotFound), (refused.Type, refused.Payload.GetProperty("code").GetString()));

            // Bob's own message, published after Alice's on the same channel, is the first Bob's agent gets: hers never arrived.
            await bobsSender.SendAsync("agent_message", new { to_agent = id, message_type = "x", content = "for bob's agent" }, "m-4");
            Assert.True((await bobsSender.ReceiveAsync("ack")).Payload.GetProperty("delivered").GetBoolean());
            Assert.Equal("for bob's agent", (await taken.ReceiveAsync("agent_message")).PayloadAs<AgentMessageDelivery>()!.Content.GetString());
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }
}
