using Kai.Hub.Routing;
using Kai.Testing;

namespace Kai.Hub.Tests.Cluster;

/// <summary>
/// <c>Kai:Backplane</c> selection (issue 14 §1): memory stays the default; a bad or unreachable RabbitMQ setting stops the start
/// with one clear line.
/// </summary>
public sealed class BackplaneSettingsTests
{
    private static async Task<(int Code, string Line)> StartFailsAsync(Dictionary<string, string> settings)
    {
        var dir = TestHub.NewDataDirectory();
        var ex = await Assert.ThrowsAnyAsync<Exception>(async () => await (await TestHub.StartAsync(dataDirectory: dir, settings: settings)).DisposeAsync());
        return StartupFailure.Classify(ex, dir, "http://127.0.0.1:0");
    }

    [Fact]
    public async Task The_default_is_the_in_memory_backplane_and_ready_says_healthy()
    {
        await using var hub = await TestHub.StartAsync();
        Assert.IsType<InMemoryBackplane>(hub.Service<IBackplane>());
        Assert.Equal("Healthy", await hub.Http.GetStringAsync("ready"));
    }

    [Fact]
    public async Task A_single_node_lists_itself_with_its_links_and_load()
    {
        await using var hub = await TestHub.StartAsync(settings: Kai.Hub.Tests.Events.EventTestKit.AdminSettings(new() { ["Kai:NodeId"] = "solo" }));
        var user = await hub.NewUserAsync();
        await using var link = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "solo-agent"));
        using var admin = hub.Client(await Kai.Hub.Tests.Events.EventTestKit.AdminTokenAsync(hub));
        var node = Assert.Single((await System.Net.Http.Json.HttpClientJsonExtensions.GetFromJsonAsync<Kai.Hub.Cluster.NodeListResponse>(
            admin, "api/v1/admin/nodes", Kai.Protocol.KaiJson.Options))!.Nodes);
        Assert.Equal(("solo", true, true), (node.NodeId, node.Self, node.Alive));
        Assert.Equal(["solo-agent"], node.AgentLinks);
        Assert.Equal((1, "memory"), (node.Load!.AgentLinks, node.Load.Backplane));
    }

    [Fact]
    public async Task An_unknown_backplane_a_missing_and_a_malformed_uri_are_configuration_errors()
    {
        var (code, line) = await StartFailsAsync(new() { ["Kai:Backplane"] = "kafka" });
        Assert.Equal(StartupFailure.Config, code);
        Assert.Contains("Kai:Backplane must be memory or rabbitmq", line);

        (code, line) = await StartFailsAsync(new() { ["Kai:Backplane"] = "rabbitmq" });
        Assert.Equal(StartupFailure.Config, code);
        Assert.Contains("ConnectionStrings:RabbitMQ is not set", line);

        (code, line) = await StartFailsAsync(new() { ["Kai:Backplane"] = "rabbitmq", ["ConnectionStrings:RabbitMQ"] = "http://user:hunter2@example.com/" });
        Assert.Equal(StartupFailure.Config, code);
        Assert.Contains("must be an AMQP URI", line);
        Assert.DoesNotContain("hunter2", line);
    }

    [Fact]
    public async Task An_unreachable_broker_stops_the_start_with_one_line_naming_it_without_the_password()
    {
        // Port 1 on the loopback: nothing listens, the connection is refused at once.
        var (code, line) = await StartFailsAsync(new() { ["Kai:Backplane"] = "rabbitmq", ["ConnectionStrings:RabbitMQ"] = "amqp://kai:s3cret@127.0.0.1:1/" });
        Assert.Equal(StartupFailure.PortInUse, code);
        Assert.StartsWith("cannot reach RabbitMQ at amqp://kai@127.0.0.1:1/ (ConnectionStrings:RabbitMQ)", line);
        Assert.DoesNotContain("s3cret", line);
        Assert.DoesNotContain("\n", line);
    }
}
