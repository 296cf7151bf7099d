using Microsoft.Extensions.Time.Testing;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Hub.Tests.Observability;

public sealed partial class MetricsTests
{
    [Fact]
    public async Task Metrics_after_traffic_hold_the_named_series_and_pass_promtool()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        await using var a = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "m-a"));
        await using var b = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "m-b"));
        await a.SendAsync("agent_message", new { to_agent = "m-b", message_type = "x", content = 1 }, "1");
        await a.ReceiveAsync("ack");
        await b.ReceiveAsync("agent_message");
        await a.SendAsync("heartbeat", new { }, "2");
        await a.ReceiveAsync("ack");
        await hub.Client(user.AccessToken).PostAsJsonAsync("api/v1/agents/m-b/command", new SendCommandRequest("noop", Timeout: 0), KaiJson.Options);
        (await hub.Client(user.AccessToken).PostAsJsonAsync("api/v1/tasks", new CreateTaskRequest(null, "nobody-does-this"), KaiJson.Options)).EnsureSuccessStatusCode();

        await using var events = await hub.ConnectAsync("ws", user.AccessToken);
        await events.ReceiveAsync("welcome");
        await events.SendAsync("subscribe", new { events = new[] { "app.>" } }, "s");
        await events.ReceiveAsync("ack");
        (await hub.Client(user.AccessToken).PostAsJsonAsync("api/v1/events", new { topic = "app.demo", data = 1 }, KaiJson.Options)).EnsureSuccessStatusCode();
        await events.ReceiveAsync("event");

        var response = await hub.Http.GetAsync("metrics");
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        var text = await response.Content.ReadAsStringAsync();
        foreach (var expected in new[]
        {
            "kai_connections{kind=\"agent\"} 2",
            "kai_frames_received_total{type=\"agent_message\"} 1",
            "kai_frames_received_total{type=\"heartbeat\"} 1",
            "kai_frames_sent_total{type=\"agent_message\"} 1",
            "kai_routing_duration_seconds_bucket{kind=\"agent\",le=\"+Inf\"}",
            "kai_commands_total{status=\"queued\"} 1",
            "kai_commands_open 1",
            "kai_connections{kind=\"events\"} 1",
            "kai_frames_sent_total{type=\"event\"} 1",
            "kai_routing_duration_seconds_bucket{kind=\"topic\",le=\"+Inf\"}",
            "kai_tasks{status=\"queued\"} 1",
            "# TYPE http_server_request_duration_seconds histogram",
            "# TYPE dotnet_gc_collections_total counter",
            "# TYPE dotnet_process_memory_working_set_bytes gauge",
        })
        {
            Assert.Contains(expected, text, StringComparison.Ordinal);
        }
        await AssertPromtoolAccepts(text);
    }

    [Fact]
    public async Task Lease_expiries_are_counted()
    {
        var clock = TestClock.Create();
        await using var hub = await TestHub.StartAsync(clock);
        var user = await hub.NewUserAsync();
        await using var worker = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "dies", "worker", "job"));
        (await hub.Client(user.AccessToken).PostAsJsonAsync("api/v1/tasks", new CreateTaskRequest(null, "job"), KaiJson.Options)).EnsureSuccessStatusCode();
        await worker.ReceiveAsync("task");
        // The worker keeps its link (heartbeats) but never reports on the task: its lease runs out.
        clock.Advance(TimeSpan.FromSeconds(31));
        await hub.Service<Kai.Hub.Housekeeping.HubSweeper>().SweepOnceAsync(CancellationToken.None);
        var text = await hub.Http.GetStringAsync("metrics");
        Assert.Contains("kai_tasks_lease_expiries_total{reason=\"lease_expired\"} 1", text, StringComparison.Ordinal);
        await AssertPromtoolAccepts(text);
    }

    [Fact]
    public async Task The_metrics_summary_counts_a_scripted_scenario_and_needs_system_metrics_read()
    {
        await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string>
        {
            ["Kai:Auth:BootstrapAdminEmail"] = "root@example.com", ["Kai:Auth:BootstrapAdminPassword"] = "bootstrap-password",
        });
        var user = await hub.NewUserAsync();
        await using var a = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "sum-a"));
        await hub.NewAgentAsync(user.AccessToken, "sum-b");
        using var client = hub.Client(user.AccessToken);
        foreach (var outcome in new[] { "completed", "completed", "failed" })
        {
            var call = client.PostAsJsonAsync("api/v1/agents/sum-a/command", new SendCommandRequest("work", Timeout: 10), KaiJson.Options);
            var command = (await a.ReceiveAsync("command")).PayloadAs<CommandPayload>()!;
            await a.SendAsync("command_result", new { command_id = command.CommandId, status = outcome, error = outcome == "failed" ? "no" : null });
            (await call).EnsureSuccessStatusCode();
        }
        await client.PostAsJsonAsync("api/v1/agents/sum-b/command", new SendCommandRequest("later", Timeout: 0), KaiJson.Options);

        Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync("api/v1/metrics")).StatusCode);
        var admin = await hub.Http.PostAsJsonAsync("api/v1/auth/login", new LoginRequest("root@example.com", "bootstrap-password"), KaiJson.Options);
        var adminToken = (await admin.Content.ReadFromJsonAsync<TokenResponse>(KaiJson.Options))!.AccessToken;
        var summary = await hub.Client(adminToken).GetFromJsonAsync<JsonElement>("api/v1/metrics", KaiJson.Options);

        var system = summary.GetProperty("system_metrics");
        Assert.Equal(1, system.GetProperty("active_agents").GetInt32());
        Assert.Equal(1, system.GetProperty("pending_tasks").GetInt32());
        Assert.Equal(0, system.GetProperty("completed_workflows").GetInt32());
        Assert.True(system.GetProperty("average_response_time").GetDouble() > 0);
        Assert.Equal(0, system.GetProperty("error_rate").GetDouble());
        var agentA = summary.GetProperty("agent_metrics").GetProperty("sum-a");
        Assert.Equal(2, agentA.GetProperty("tasks_completed").GetInt32());
        Assert.Equal(0.6667, agentA.GetProperty("success_rate").GetDouble());
        Assert.True(agentA.GetProperty("average_execution_time").GetDouble() >= 0);
        Assert.Equal(0, summary.GetProperty("agent_metrics").GetProperty("sum-b").GetProperty("tasks_completed").GetInt32());
    }

    /// <summary>
    /// Runs Debian's promtool on the exposition. CI installs it (.ci/run); on a developer machine without it the
    /// format is still checked line by line here, and the test says promtool was not run.
    /// </summary>
    /// <summary>
    /// One line of the Prometheus text format 0.0.4, as promtool reads it: <c># HELP</c>/<c># TYPE</c>, or a sample
    /// <c>name{label="value",…} value [timestamp]</c> where a label value is any text with <c>\\</c>, <c>\"</c> and <c>\n</c> escaped
    /// (so <c>}</c>, <c>,</c>, <c>=</c> and spaces may appear inside it, as in <c>http_route="/ws/agents/{agentId}"</c>).
    /// </summary>
    internal static bool IsExpositionLine(string line) => ExpositionLine().IsMatch(line);

    [System.Text.RegularExpressions.GeneratedRegex(
        """^(?:# HELP [a-zA-Z_:][a-zA-Z0-9_:]* (?:[^\\\n]|\\[\\n])*|# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (?:counter|gauge|histogram|summary|untyped)|# (?!HELP |TYPE ).*"""
        + """|[a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*,?)?\})?"""
        + """ (?:[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]Inf|NaN)(?: -?[0-9]+)?)$""")]
    private static partial System.Text.RegularExpressions.Regex ExpositionLine();

    [Theory]
    [InlineData("""http_server_request_duration_seconds_bucket{http_route="/ws/agents/{agentId}",le="0.5"} 3""", true)]
    [InlineData("""kai_frames_total{type="a\"b\\c\nd"} 1 1700000000000""", true)]
    [InlineData("""kai_up 1""", true)]
    [InlineData("""kai_ratio{a="x, y = z"} -1.5e-3""", true)]
    [InlineData("""kai_x{} +Inf""", true)]
    [InlineData("""# HELP kai_up Whether the hub is up.""", true)]
    [InlineData("""# TYPE kai_up gauge""", true)]
    [InlineData("""kai_frames_total{type="a"b"} 1""", false)]
    [InlineData("""kai_frames_total{type="a\qb"} 1""", false)]
    [InlineData("""kai_frames_total{type="open} 1""", false)]
    [InlineData("""kai_frames_total{type=unquoted} 1""", false)]
    [InlineData("""kai_frames_total{1type="a"} 1""", false)]
    [InlineData("""kai frames 1""", false)]
    [InlineData("""kai_up one""", false)]
    [InlineData("""# TYPE kai_up thing""", false)]
    public void The_fallback_format_check_reads_label_values_with_escapes_as_promtool_does(string line, bool valid) =>
        Assert.Equal(valid, IsExpositionLine(line));

    internal static async Task AssertPromtoolAccepts(string exposition)
    {
        var promtool = new[] { "/usr/bin/promtool", "/usr/local/bin/promtool" }.FirstOrDefault(File.Exists);
        if (promtool is null)
        {
            Assert.False(Environment.GetEnvironmentVariable("CI") == "true", "promtool is required in CI: apt-get install prometheus");
            foreach (var line in exposition.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                Assert.True(IsExpositionLine(line), $"not a Prometheus text-format line: {line}");
            }
            return;
        }
        var psi = new ProcessStartInfo(promtool, "check metrics") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(psi)!;
        await process.StandardInput.WriteAsync(exposition);
        process.StandardInput.Close();
        var output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"promtool check metrics failed ({process.ExitCode}):\n{output}");
    }
}
