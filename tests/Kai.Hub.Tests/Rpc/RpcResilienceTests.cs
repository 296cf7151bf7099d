using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Kai.Hub.Routing;
using Kai.Hub.Rpc;
using Kai.Protocol;
using Kai.Protocol.Rpc;
using Kai.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Kai.Hub.Tests.Rpc;

/// <summary>Deadlines, retries to another instance, the circuit breaker, the seed 001 §7 table and its validation, telemetry; time is the fake clock.</summary>
public sealed class RpcResilienceTests
{
    [Fact]
    public async Task A_silent_agent_times_out_and_the_retry_goes_to_another_instance_of_the_capability()
    {
        var clock = TestClock.Create();
        await using var hub = await TestHub.StartAsync(clock, settings: new Dictionary<string, string>
        {
            ["Kai:Rpc:Methods:memory.*:Backoff"] = "none",
        });
        var user = await hub.NewUserAsync();
        var a = await hub.NewAgentAsync(user.AccessToken, "mem-a", capabilities: ["memory"]);
        var b = await hub.NewAgentAsync(user.AccessToken, "mem-b", capabilities: ["memory"]);
        await hub.RegisterAsync(await hub.AgentTokenAsync(a), "memory");
        await hub.RegisterAsync(await hub.AgentTokenAsync(b), "memory");
        await using var linkA = await hub.ConnectAgentAsync(a);
        await using var linkB = await hub.ConnectAgentAsync(b);
        var pending = hub.Service<PendingRequests>();

        var call = hub.Client(user.AccessToken).CallAsync(RpcKit.Envelope("q-1", "memory.query", new { q = "cat" }, timestamp: RpcKit.Now(clock)));
        var toA = linkA.NextRequestAsync();
        var toB = linkB.NextRequestAsync();
        var first = await Task.WhenAny(toA, toB);
        var (silent, second) = first == toA ? ("mem-a", toB) : ("mem-b", toA);
        Assert.Equal(2500, (await first).Headers!.Ttl); // memory.*: 2500 ms per attempt (seed 001 §7)
        await WaitUntilAsync(() => pending.IsWaiting("rpc:q-1"));
        clock.Advance(TimeSpan.FromMilliseconds(2500));

        var retried = await second;
        Assert.Equal("q-1", retried.Id);
        var other = first == toA ? linkB : linkA;
        await other.AnswerAsync(retried, new { hits = 3 });
        var (status, body) = await call;
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(3, body.GetProperty("result").GetProperty("hits").GetInt32());
        Assert.Equal(1, body.GetProperty("metrics").GetProperty("retries").GetInt32());
        Assert.NotEqual(silent, body.GetProperty("origin").GetString());
    }

    [Fact]
    public async Task No_answer_within_the_deadline_is_deadline_exceeded_and_ttl_caps_the_method_deadline()
    {
        var clock = TestClock.Create();
        await using var hub = await TestHub.StartAsync(clock);
        var user = await hub.NewUserAsync();
        await using var agent = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "slow-1"));
        var pending = hub.Service<PendingRequests>();
        var http = hub.Client(user.AccessToken);

        // media_gen.*: 15000 ms and no retry; a ttl of 4000 ms cuts it to 4000.
        var call = http.CallAsync(RpcKit.Envelope("g-1", "media_gen.image", destination: "slow-1", ttl: 4000, timestamp: RpcKit.Now(clock)));
        var request = await agent.NextRequestAsync();
        Assert.InRange(request.Headers!.Ttl!.Value, 3000, 4000);
        await WaitUntilAsync(() => pending.IsWaiting("rpc:g-1"));
        clock.Advance(TimeSpan.FromMilliseconds(4000));
        var (status, body) = await call;
        Assert.Equal(HttpStatusCode.GatewayTimeout, status);
        Assert.Equal(ErrorCodes.DeadlineExceeded, body.ErrorType());
        Assert.Equal(504, body.GetProperty("error").GetProperty("code").GetInt32());
        Assert.Equal(0, body.GetProperty("metrics").GetProperty("retries").GetInt32());
        Assert.Equal(4000, body.GetProperty("metrics").GetProperty("latency_ms").GetInt64());
        // The late answer is not accepted.
        Assert.False((await agent.AnswerAsync(request, new { late = true })).GetProperty("accepted").GetBoolean());
    }

    [Fact]
    public void The_seed_table_is_the_default_and_configuration_overrides_a_pattern()
    {
        var rpc = new RpcOptions();
        rpc.Methods["memory.*"].TimeoutMs = 999;
        var service = Policies(rpc);
        Assert.Equal((5000, 3, RpcBackoff.Linear, 1000), Of(service.PolicyFor("agent.ping")));
        Assert.Equal((999, 2, RpcBackoff.Exponential), Of3(service.PolicyFor("memory.query")));
        Assert.Equal((10_000, 1, RpcBackoff.None), Of3(service.PolicyFor("llm_chat.complete")));
        Assert.Equal((15_000, 0, RpcBackoff.None), Of3(service.PolicyFor("media_gen.image.hd")));
        Assert.Equal("*", service.PolicyFor("agentx.ping").Pattern); // a prefix matches on a dot boundary only
        Assert.Equal("*", service.PolicyFor("memory").Pattern);

        static (int, int, RpcBackoff, int) Of((string, RpcMethodPolicy P) x) => (x.P.TimeoutMs, x.P.Retries, x.P.Backoff, x.P.DelayMs);
        static (int, int, RpcBackoff) Of3((string, RpcMethodPolicy P) x) => (x.P.TimeoutMs, x.P.Retries, x.P.Backoff);
    }

    [Theory]
    [InlineData("Kai:Rpc:Methods:agent.*:TimeoutMs", "0", "Kai:Rpc:Methods:agent.*:TimeoutMs")]
    [InlineData("Kai:Rpc:Methods:bad pattern!:Retries", "1", "is not a method pattern")]
    [InlineData("Kai:Rpc:Routes:llm.chat", "agent:", "is not a target")]
    [InlineData("Kai:Routing:CircuitBreaker:FailureThreshold", "1", "FailureThreshold")]
    public async Task Bad_rpc_configuration_stops_the_start_naming_the_key(string key, string value, string expected)
    {
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => TestHub.StartAsync(settings: new Dictionary<string, string> { [key] = value }));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Circuit_opens_after_five_failures_lets_three_trials_through_after_the_break_and_closes_on_success()
    {
        var clock = TestClock.Create();
        var breakers = new CircuitBreakers(clock, Options.Create(new CircuitBreakerOptions()));
        for (var i = 0; i < 4; i++)
        {
            Assert.True(breakers.TryAcquire("agent-x"));
            breakers.Record("agent-x", success: false);
        }
        Assert.False(breakers.IsOpen("agent-x")); // four failures: still closed
        breakers.Record("agent-x", success: false);
        Assert.True(breakers.IsOpen("agent-x"));
        Assert.False(breakers.TryAcquire("agent-x"));
        Assert.Equal(CircuitStatus.Open, breakers.Status("agent-x"));
        Assert.True(breakers.TryAcquire("agent-y")); // per target

        clock.Advance(TimeSpan.FromSeconds(29));
        Assert.False(breakers.TryAcquire("agent-x"));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(CircuitStatus.HalfOpen, breakers.Status("agent-x"));
        Assert.True(breakers.TryAcquire("agent-x"));
        Assert.True(breakers.TryAcquire("agent-x"));
        Assert.True(breakers.TryAcquire("agent-x"));
        Assert.False(breakers.TryAcquire("agent-x")); // three half-open trials at most

        // A failed trial opens it for another break; then a successful trial closes it.
        breakers.Record("agent-x", success: false);
        Assert.Equal(CircuitStatus.Open, breakers.Status("agent-x"));
        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.True(breakers.TryAcquire("agent-x"));
        breakers.Record("agent-x", success: true);
        Assert.Equal(CircuitStatus.Closed, breakers.Status("agent-x"));
        Assert.True(breakers.TryAcquire("agent-x"));
    }

    [Fact]
    public async Task An_open_circuit_refuses_calls_to_that_agent_with_circuit_open()
    {
        var clock = TestClock.Create();
        await using var hub = await TestHub.StartAsync(clock, settings: new Dictionary<string, string>
        {
            ["Kai:Routing:CircuitBreaker:FailureThreshold"] = "2",
        });
        var user = await hub.NewUserAsync();
        await using var agent = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "flaky"));
        var pending = hub.Service<PendingRequests>();
        var http = hub.Client(user.AccessToken);
        for (var i = 0; i < 2; i++)
        {
            var call = http.CallAsync(RpcKit.Envelope($"f-{i}", "flaky.op", destination: "flaky", timestamp: RpcKit.Now(clock)));
            await agent.NextRequestAsync();
            await WaitUntilAsync(() => pending.IsWaiting($"rpc:f-{i}"));
            clock.Advance(TimeSpan.FromSeconds(10));
            Assert.Equal(ErrorCodes.DeadlineExceeded, (await call).Body.ErrorType());
        }
        var (status, body) = await http.CallAsync(RpcKit.Envelope("f-open", "flaky.op", destination: "flaky", timestamp: RpcKit.Now(clock)));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal(ErrorCodes.CircuitOpen, body.ErrorType());
    }

    [Fact]
    public async Task Every_call_is_a_span_in_the_callers_w3c_trace_and_an_event_on_telemetry_rpc()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        await using var agent = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "traced"));
        var traceId = Guid.NewGuid();
        var hex = traceId.ToString("N");
        var spans = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == "Kai.Hub",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a =>
            {
                if (a.TraceId.ToHexString() == hex)
                {
                    lock (spans)
                    {
                        spans.Add(a);
                    }
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        var (events, _) = await Events.EventTestKit.EventsAsync(hub, user.AccessToken);
        await using var _e = events;
        await Events.EventTestKit.SubscribeAsync(events, new { events = new[] { "telemetry.rpc" } });

        var call = hub.Client(user.AccessToken).CallAsync(RpcKit.Envelope("t-1", "trace.me", destination: "traced", traceId: traceId.ToString()));
        var request = await agent.NextRequestAsync();
        await agent.AnswerAsync(request, new { ok = true });
        Assert.Equal(HttpStatusCode.OK, (await call).Status);

        var e = await events.ReceiveAsync("event");
        var data = e.Payload.GetProperty("payload");
        Assert.Equal("telemetry.rpc", e.Payload.GetProperty("event_type").GetString());
        Assert.Equal("trace.me", data.GetProperty("method").GetString());
        Assert.Equal("ok", data.GetProperty("outcome").GetString());
        Assert.Equal(0, data.GetProperty("retries").GetInt32());
        Assert.True(data.GetProperty("latency_ms").GetInt64() >= 0);
        Assert.Equal(traceId.ToString(), data.GetProperty("trace_id").GetString());
        Assert.Equal("traced", data.GetProperty("target_agent").GetString());
        Assert.Equal(user.UserProfile.UserId, data.GetProperty("user_id").GetString());

        Activity span;
        lock (spans)
        {
            span = spans.Single(a => a.OperationName == "kai.rpc trace.me");
            Assert.Contains(spans, a => a.OperationName == "kai.route rpc_request" && a.ParentSpanId == span.SpanId); // the router's span is its child
        }
        Assert.Equal("traced", span.GetTagItem("kai.target_agent"));
        Assert.Equal(user.UserProfile.UserId, span.GetTagItem("kai.user_id"));
        Assert.Equal("ok", span.GetTagItem("kai.rpc.outcome"));
    }

    private static RpcService Policies(RpcOptions options) => new(null!, null!, null!, null!, null!, null!, null!, null!, Options.Create(options), Options.Create(new HubOptions()),
        null!, new Microsoft.Extensions.Hosting.Internal.HostingEnvironment { EnvironmentName = "Production" }, TimeProvider.System,
        null!, Microsoft.Extensions.Logging.Abstractions.NullLogger<RpcService>.Instance);

    internal static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 400 && !condition(); i++)
        {
            await Task.Delay(10);
        }
        Assert.True(condition(), "condition not reached");
    }
}
