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
