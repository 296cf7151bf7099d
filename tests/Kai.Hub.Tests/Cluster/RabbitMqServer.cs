using System.Diagnostics;
using System.Net.Sockets;
using Kai.Testing;

namespace Kai.Hub.Tests.Cluster;

/// <summary>
/// The RabbitMQ broker the backplane tests run against: <c>KAI_TEST_RABBITMQ</c> (an AMQP URI; default
/// <c>amqp://guest:guest@127.0.0.1:5672/</c>), started by <c>.ci/setup/81-rabbitmq.sh</c>; <c>KAI_TEST_RABBITMQCTL</c> (default
/// <c>rabbitmqctl</c> on PATH or <c>/usr/sbin/rabbitmqctl</c>) stops and starts it for the outage tests.
/// </summary>
internal static class RabbitMqServer
{
    public static string Uri => Environment.GetEnvironmentVariable("KAI_TEST_RABBITMQ") is { Length: > 0 } uri ? uri : "amqp://guest:guest@127.0.0.1:5672/";

    public static string? Ctl => Environment.GetEnvironmentVariable("KAI_TEST_RABBITMQCTL") is { Length: > 0 } ctl && File.Exists(ctl)
        ? ctl
        : ExternalServers.FindProgram("rabbitmqctl", "/usr/sbin/rabbitmqctl");

    /// <summary>Skips (locally) or fails (in CI) unless the broker accepts TCP connections.</summary>
    public static void Require()
    {
        var uri = new Uri(Uri);
        var reachable = false;
        try
        {
            using var tcp = new TcpClient();
            reachable = tcp.ConnectAsync(uri.Host, uri.Port > 0 ? uri.Port : 5672).Wait(TimeSpan.FromSeconds(3));
        }
        catch (AggregateException)
        {
        }
        ExternalServers.Require(reachable, $"RabbitMQ at {uri.Host} (apt-get install rabbitmq-server; .ci/setup/81-rabbitmq.sh starts it)");
    }

    /// <summary>Runs rabbitmqctl (as the user running the tests: root in CI, which the broker's cookie allows).</summary>
    public static async Task CtlAsync(params string[] args)
    {
        ExternalServers.Require(Ctl is not null, "rabbitmqctl (apt-get install rabbitmq-server)");
        var start = new ProcessStartInfo(Ctl!) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"rabbitmqctl {string.Join(' ', args)} failed ({process.ExitCode}): {await stderr}");
    }

    /// <summary>Waits (up to 2 minutes, polling) until <paramref name="condition"/> holds; fails naming <paramref name="what"/> otherwise.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what)
    {
        var stop = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(stop.Elapsed < TimeSpan.FromMinutes(2), $"gave up waiting: {what}");
            await Task.Delay(50);
        }
    }
}

/// <summary>The tests that use the broker run one at a time (one of them stops it).</summary>
[CollectionDefinition("RabbitMQ", DisableParallelization = true)]
public sealed class RabbitMqCollection;
