using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Kai.Hub.Tests.A2a;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Kai.Testing;
using Npgsql;

namespace Kai.Hub.Tests.Cluster;

/// <summary>
/// A2A push notifications on a cluster (issue 15, "push per node"): one node sends (the housekeeping leader), what it told is
/// stored with the config, and when it dies the node that takes over resumes from the store, sending the states that were not
/// told and not the one that was. Two real hub processes on one PostgreSQL schema and RabbitMQ, a real receiver.
/// </summary>
[Collection("RabbitMQ")]
public sealed class A2aPushClusterTests
{
    [SkippableFact]
    public async Task When_the_sending_node_dies_another_takes_over_and_sends_only_what_was_not_told()
    {
        TestPostgres.Require();
        RabbitMqServer.Require();
        await using var receiver = await PushReceiver.StartAsync();
        var schema = "kai_c_" + Guid.NewGuid().ToString("N")[..20];
        var postgres = await TestPostgres.CreateSchemaAsync(schema);
        var dir = TestHub.NewDataDirectory();
        var suffix = Guid.NewGuid().ToString("N")[..6];
        string[] extra = ["--Kai:Adapters:Webhook:AllowedCidrs:0=127.0.0.1/32"];
        try
        {
            // Node A alone, so it leads: the task is made with a push config while its agent is offline (submitted).
            await using var a = await ClusterNode.StartAsync($"pa-{suffix}", dir, postgres, RabbitMqServer.Uri, extra);
            var token = await ThreeNodeClusterTests.NewUserAsync(a);
            using var apiA = a.Client(token);
            var config = JsonSerializer.SerializeToElement(new { a2a = new { description = "Books trips." }, max_concurrent_tasks = 5 });
            var reg = await apiA.PostAsJsonAsync("api/v1/agents/register", new RegisterAgentRequest(null, "worker", "travel", "1", ["travel.book"], null, config), KaiJson.Options);
            reg.EnsureSuccessStatusCode();
            var agent = (await reg.Content.ReadFromJsonAsync<AgentCreatedResponse>(KaiJson.Options))!;
            var sent = await apiA.PostAsync($"a2a/agents/{agent.AgentId}", new StringContent(JsonSerializer.Serialize(new
            {
                jsonrpc = "2.0", id = 1, method = "SendMessage",
                @params = new
                {
                    message = new { messageId = "m1", role = "ROLE_USER", parts = new[] { new { text = "paris" } } },
                    configuration = new { returnImmediately = true, taskPushNotificationConfig = new { id = "p", url = receiver.BaseUrl + "/hook", token = "tok" } },
                },
            }), Encoding.UTF8, "application/json"));
            var taskId = JsonDocument.Parse(await sent.Content.ReadAsStringAsync()).RootElement.GetProperty("result").GetProperty("task").GetProperty("id").GetString()!;
            var first = await receiver.NextAsync("/hook");
            Assert.Equal((200, "TASK_STATE_SUBMITTED", "tok"), (first.Status, first.State, first.Token));
            // The told state is in the store (written after the receiver's answer) before A is killed.
            await ThreeNodeClusterTests.UntilAsync(async () => await LastStateAsync(postgres, taskId) is { } s && s.EndsWith(":TASK_STATE_SUBMITTED", StringComparison.Ordinal),
                "node A records the state it told");

            // Node B joins (A still leads, so B sends nothing), then A dies; B takes the lead when A's session lock goes.
            await using var b = await ClusterNode.StartAsync($"pb-{suffix}", dir, postgres, RabbitMqServer.Uri, extra);
            a.Kill();
            await using var worker = new ClusterWorker(agent);
            await worker.ConnectAsync(b.BaseAddress);
            await worker.WaitForAsync([taskId], TimeSpan.FromMinutes(2));

            // B tells the states after SUBMITTED (working may be coalesced into completed), never SUBMITTED again.
            var calls = new List<PushCall>();
            do
            {
                calls.Add(await receiver.NextAsync("/hook"));
            }
            while (calls[^1].State != "TASK_STATE_COMPLETED");
            Assert.All(calls, c => Assert.NotEqual("TASK_STATE_SUBMITTED", c.State));
            Assert.All(calls, c => Assert.Equal((200, "tok", taskId), (c.Status, c.Token, c.Task.GetProperty("id").GetString())));
        }
        finally
        {
            await TestPostgres.DropSchemaAsync(schema);
        }
    }

    private static async Task<string?> LastStateAsync(string postgres, string taskId)
    {
        await using var db = new NpgsqlConnection(postgres);
        await db.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT last_state FROM a2a_push_configs WHERE task_id = @id", db);
        cmd.Parameters.AddWithValue("id", taskId);
        return await cmd.ExecuteScalarAsync() as string;
    }
}
