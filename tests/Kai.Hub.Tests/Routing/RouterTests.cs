using System.Text;
using Kai.Hub.Auth;
using Kai.Hub.Routing;
using Kai.Hub.Security;
using Kai.Hub.Storage;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Kai.Hub.Tests.Routing;

/// <summary>What the router specifications share: a hub on a fake clock, users, agents and their live links.</summary>
internal static class RouterKit
{
    public static KaiPrincipal User(string userId) => new(userId, Roles.User, "sess_" + userId, userId, DateTimeOffset.MaxValue);

    public static KaiPrincipal Agent(string agentId, string ownerId) => new(agentId, Roles.Agent, "agt_" + agentId, ownerId, DateTimeOffset.MaxValue);

    public static byte[] Frame(string type, object payload) => Kai.Protocol.Frames.Frame.Encode(type, payload, timestamp: DateTimeOffset.UnixEpoch);

    public static Envelope To(Address address, KaiPrincipal sender, string text = "hello") =>
        new(FrameTypes.AgentMessage, address, Frame(FrameTypes.AgentMessage, new { text }), sender);

    public static async Task<string> TextAsync(TestSocket socket, string type = FrameTypes.AgentMessage)
    {
        var frame = await socket.ReceiveAsync(type);
        return frame.Payload.GetProperty("text").GetString()!;
    }
}

/// <summary>Each address kind resolves to the right links.</summary>
public sealed class AddressResolutionTests
{
    [Fact]
    public async Task Agent_observers_user_kah_and_node_addresses_reach_exactly_their_links()
    {
        await using var hub = await TestHub.StartAsync(TestClock.Create());
        var ada = await hub.NewUserAsync();
        var adaId = ada.UserProfile.UserId;
        var worker = await hub.NewAgentAsync(ada.AccessToken, "worker-1");
        await hub.NewAgentAsync(ada.AccessToken, "worker-2");
        await using var agentLink = await hub.ConnectAgentAsync(worker);
        await using var observer1 = await hub.ConnectAsync("ws/agents/worker-1", ada.AccessToken);
        await observer1.ReceiveAsync(FrameTypes.Welcome);
        await using var observer2 = await hub.ConnectAsync("ws/agents/worker-2", ada.AccessToken);
        await observer2.ReceiveAsync(FrameTypes.Welcome);
        var router = hub.Service<Router>();
        var sender = RouterKit.User(adaId);

        var toAgent = await router.RouteAsync(RouterKit.To(Address.Agent("worker-1"), sender, "to-agent"), default);
        Assert.Equal((RouteStatus.Delivered, 1, "worker-1"), (toAgent.Status, toAgent.Receivers, toAgent.AgentId));
        Assert.Equal("to-agent", await RouterKit.TextAsync(agentLink));

        var toObservers = await router.RouteAsync(RouterKit.To(Address.ObserversOf("worker-1"), sender, "to-observers"), default);
        Assert.Equal(1, toObservers.Receivers);
        Assert.Equal("to-observers", await RouterKit.TextAsync(observer1));

        // The user address: every observer link about the user's agents, whichever agent they watch.
        var toUser = await router.RouteAsync(RouterKit.To(Address.User(adaId), sender, "to-user"), default);
        Assert.Equal(2, toUser.Receivers);
        Assert.Equal("to-user", await RouterKit.TextAsync(observer1));
        Assert.Equal("to-user", await RouterKit.TextAsync(observer2));

        var toHandle = await router.RouteAsync(RouterKit.To(Address.Kah("kah:agent.local.worker-1"), sender, "to-handle"), default);
        Assert.Equal(RouteStatus.Delivered, toHandle.Status);
        Assert.Equal("to-handle", await RouterKit.TextAsync(agentLink));
        Assert.Equal(RouteStatus.NotFound, (await router.RouteAsync(RouterKit.To(Address.Kah("kah:agent.local.nobody"), sender), default)).Status);
        Assert.Equal(RouteStatus.NotFound, (await router.RouteAsync(RouterKit.To(Address.Kah("kah:not-a-handle"), sender), default)).Status);

        // This node is reachable as a node address; an unknown node is not (single node: no peers).
        Assert.Equal(RouteStatus.Delivered, (await router.RouteAsync(RouterKit.To(Address.Node("local"), KaiPrincipal.System), default)).Status);
        Assert.Equal(RouteStatus.Unavailable, (await router.RouteAsync(RouterKit.To(Address.Node("elsewhere"), KaiPrincipal.System), default)).Status);
    }

    [Fact]
    public async Task Session_and_stream_groups_reach_the_links_that_joined_and_no_others()
    {
        await using var hub = await TestHub.StartAsync(TestClock.Create());
        var ada = await hub.NewUserAsync();
        var adaId = ada.UserProfile.UserId;
        await hub.NewAgentAsync(ada.AccessToken, "watched-a");
        await hub.NewAgentAsync(ada.AccessToken, "watched-b");
        await using var member = await hub.ConnectAsync("ws/agents/watched-a", ada.AccessToken);
        await member.ReceiveAsync(FrameTypes.Welcome);
        await using var outsider = await hub.ConnectAsync("ws/agents/watched-b", ada.AccessToken);
        await outsider.ReceiveAsync(FrameTypes.Welcome);
        var router = hub.Service<Router>();
        var memberLink = Assert.Single(hub.Service<ConnectionRegistry>().Observers("watched-a"));
        var session = Address.Session("session_1", adaId);
        var stream = Address.Stream("str_1", adaId);

        // A join queues its replay before membership: the member reads the replay, then live frames, in order.
        router.Join(session, memberLink, [RouterKit.Frame(FrameTypes.AgentMessage, new { text = "replayed" })]);
        router.Join(stream, memberLink);
        Assert.Equal(1, (await router.RouteAsync(RouterKit.To(session, KaiPrincipal.System, "in-session"), default)).Receivers);
        Assert.Equal(1, (await router.RouteAsync(RouterKit.To(stream, KaiPrincipal.System, "in-stream"), default)).Receivers);
        Assert.Equal("replayed", await RouterKit.TextAsync(member));
        Assert.Equal("in-session", await RouterKit.TextAsync(member));
        Assert.Equal("in-stream", await RouterKit.TextAsync(member));

        router.Disband(session);
        Assert.Equal(RouteStatus.Unavailable, (await router.RouteAsync(RouterKit.To(session, KaiPrincipal.System, "after"), default)).Status);
        Assert.Equal(1, (await router.RouteAsync(RouterKit.To(stream, KaiPrincipal.System, "still"), default)).Receivers);
        Assert.Equal("still", await RouterKit.TextAsync(member));
        // The outsider got none of it: the next thing it reads is a frame routed to it.
        await router.RouteAsync(RouterKit.To(Address.ObserversOf("watched-b"), KaiPrincipal.System, "only-for-b"), default);
        Assert.Equal("only-for-b", await RouterKit.TextAsync(outsider));
    }

    [Fact]
    public async Task An_unknown_agent_is_not_found_and_a_known_one_without_a_link_is_unavailable()
    {
        await using var hub = await TestHub.StartAsync(TestClock.Create());
        var ada = await hub.NewUserAsync();
        await hub.NewAgentAsync(ada.AccessToken, "sleeper");
        var router = hub.Service<Router>();
        var sender = RouterKit.User(ada.UserProfile.UserId);

        Assert.Equal(RouteStatus.NotFound, (await router.RouteAsync(RouterKit.To(Address.Agent("ghost"), sender), default)).Status);
        var offline = await router.RouteAsync(RouterKit.To(Address.Agent("sleeper"), sender), default);
        Assert.Equal((RouteStatus.Unavailable, "sleeper"), (offline.Status, offline.AgentId));
        Assert.Equal(RouteStatus.Unavailable, (await router.RouteAsync(RouterKit.To(Address.ObserversOf("sleeper"), sender), default)).Status);
        Assert.Equal(RouteStatus.NotFound, (await router.RouteAsync(RouterKit.To(Address.Capability("no.such.capability", ada.UserProfile.UserId), sender), default)).Status);
    }
}

/// <summary>The filters: a denied reach, a rate limit, the deadline.</summary>
public sealed class RouteFilterTests
{
    [Fact]
    public async Task A_reach_into_another_tenant_looks_like_not_found_and_is_audited()
    {
        await using var hub = await TestHub.StartAsync(TestClock.Create());
        var ada = await hub.NewUserAsync();
        var bob = await hub.NewUserAsync();
        var target = await hub.NewAgentAsync(ada.AccessToken, "adas-agent");
        await using var link = await hub.ConnectAgentAsync(target);
        var router = hub.Service<Router>();
        var bobs = RouterKit.User(bob.UserProfile.UserId);

        foreach (var address in new[] { Address.Agent("adas-agent"), Address.ObserversOf("adas-agent"), Address.Kah("kah:agent.local.adas-agent"),
                     Address.Capability("worker", ada.UserProfile.UserId), Address.User(ada.UserProfile.UserId), Address.Session("s", ada.UserProfile.UserId) })
        {
            var result = await router.RouteAsync(RouterKit.To(address, bobs, "should-not-arrive"), default);
            Assert.Equal(RouteStatus.NotFound, result.Status);
        }
        // Exactly what an unknown target answers, so ids cannot be probed.
        Assert.Equal(RouteStatus.NotFound, (await router.RouteAsync(RouterKit.To(Address.Agent("no-such-agent"), bobs), default)).Status);
        var audit = await hub.Service<IAuditStore>().ListAuditAsync(new AuditQuery(null, AuditActions.PermissionDenied, null, null, 100, 0), default);
        Assert.Contains(audit.Items, e => e.ActorId == bob.UserProfile.UserId && e.Target!.Contains("agent:adas-agent", StringComparison.Ordinal));
        // Ada's own message still arrives: the denial changed nothing for the target.
        Assert.Equal(RouteStatus.Delivered, (await router.RouteAsync(RouterKit.To(Address.Agent("adas-agent"), RouterKit.User(ada.UserProfile.UserId), "mine"), default)).Status);
        Assert.Equal("mine", await RouterKit.TextAsync(link));
    }

    [Fact]
    public async Task A_sender_over_its_budget_is_rate_limited_until_the_bucket_refills()
    {
        var clock = TestClock.Create();
        await using var hub = await TestHub.StartAsync(clock, settings: new Dictionary<string, string>
        {
            ["Kai:Routing:MaxPerSecondPerSender"] = "2",
            ["Kai:Routing:Burst"] = "3",
        });
        var ada = await hub.NewUserAsync();
        await hub.NewAgentAsync(ada.AccessToken, "busy");
        var router = hub.Service<Router>();
        var sender = RouterKit.User(ada.UserProfile.UserId);
        for (var i = 0; i < 3; i++)
        {
            Assert.NotEqual(RouteStatus.RateLimited, (await router.RouteAsync(RouterKit.To(Address.Agent("busy"), sender), default)).Status);
        }
        var limited = await router.RouteAsync(RouterKit.To(Address.Agent("busy"), sender), default);
        Assert.Equal(RouteStatus.RateLimited, limited.Status);
        Assert.Equal(TimeSpan.FromSeconds(0.5), limited.RetryAfter);
        // The hub itself is never limited.
        Assert.NotEqual(RouteStatus.RateLimited, (await router.RouteAsync(RouterKit.To(Address.Agent("busy"), KaiPrincipal.System), default)).Status);
        clock.Advance(TimeSpan.FromMilliseconds(500));
        Assert.NotEqual(RouteStatus.RateLimited, (await router.RouteAsync(RouterKit.To(Address.Agent("busy"), sender), default)).Status);
        Assert.Equal(RouteStatus.RateLimited, (await router.RouteAsync(RouterKit.To(Address.Agent("busy"), sender), default)).Status);
    }

    [Fact]
    public async Task An_envelope_past_its_deadline_is_refused_and_not_delivered()
    {
        var clock = TestClock.Create();
        await using var hub = await TestHub.StartAsync(clock);
        var ada = await hub.NewUserAsync();
        await using var link = await hub.ConnectAgentAsync(await hub.NewAgentAsync(ada.AccessToken, "punctual"));
        var router = hub.Service<Router>();
        var sender = RouterKit.User(ada.UserProfile.UserId);

        var late = new Envelope(FrameTypes.AgentMessage, Address.Agent("punctual"), RouterKit.Frame(FrameTypes.AgentMessage, new { text = "late" }), sender)
        {
            Deadline = clock.GetUtcNow(),
        };
        Assert.Equal(RouteStatus.Expired, (await router.RouteAsync(late, default)).Status);
        var timely = new Envelope(FrameTypes.AgentMessage, Address.Agent("punctual"), RouterKit.Frame(FrameTypes.AgentMessage, new { text = "timely" }), sender)
        {
            Deadline = clock.GetUtcNow() + TimeSpan.FromSeconds(1),
        };
        Assert.Equal(RouteStatus.Delivered, (await router.RouteAsync(timely, default)).Status);
        Assert.Equal("timely", await RouterKit.TextAsync(link));   // the late one never arrived before it
    }
}

/// <summary>Request/response correlation, with a timeout on the fake clock.</summary>
public sealed class RequestResponseTests
{
    [Fact]
    public async Task A_request_gets_its_reply_by_correlation_id_or_times_out_at_its_deadline()
    {
        var clock = TestClock.Create();
        await using var hub = await TestHub.StartAsync(clock);
        var ada = await hub.NewUserAsync();
        await using var link = await hub.ConnectAgentAsync(await hub.NewAgentAsync(ada.AccessToken, "answerer"));
        var router = hub.Service<Router>();
        var sender = RouterKit.User(ada.UserProfile.UserId);

        Envelope Request(string id) => new(FrameTypes.AgentMessage, Address.Agent("answerer"), RouterKit.Frame(FrameTypes.AgentMessage, new { text = id }), sender)
        {
            Delivery = Delivery.Request, CorrelationId = id, Deadline = clock.GetUtcNow() + TimeSpan.FromSeconds(5),
        };
        var answered = router.RequestAsync(Request("req-1"), default);
        Assert.Equal("req-1", await RouterKit.TextAsync(link));
        Assert.True(router.Complete("req-1", "the answer"));
        var (route, reply) = await answered;
        Assert.Equal((RouteStatus.Delivered, "the answer"), (route.Status, reply));
        Assert.False(router.Complete("req-1", "late duplicate"));   // nobody waits any more

        var unanswered = router.RequestAsync(Request("req-2"), default);
        Assert.Equal("req-2", await RouterKit.TextAsync(link));
        clock.Advance(TimeSpan.FromSeconds(5));
        await Assert.ThrowsAsync<TimeoutException>(() => unanswered);
        Assert.Equal(0, router.Pending.Count);

        // Nothing to deliver to: the route result comes back at once, no waiter is left behind.
        var nowhere = new Envelope(FrameTypes.AgentMessage, Address.Agent("ghost"), RouterKit.Frame(FrameTypes.AgentMessage, new { text = "x" }), sender)
        {
            Delivery = Delivery.Request, CorrelationId = "req-3",
        };
        Assert.Equal(RouteStatus.NotFound, (await router.RequestAsync(nowhere, default)).Route.Status);
        Assert.Equal(0, router.Pending.Count);
    }
}

/// <summary>The capability resolver: least loaded, health-scored, failover.</summary>
public sealed class CapabilityResolverTests
{
    [Fact]
    public void A_capability_with_unhealthy_full_and_healthy_candidates_chooses_the_healthy_one()
    {
        var clock = TestClock.Create();
        var resolver = new CapabilityResolver(clock);
        for (var i = 0; i < 3; i++)
        {
            resolver.RecordFailure("flaky");
        }
        var candidates = new[]
        {
            new Candidate("flaky", MaxConcurrent: 5, InFlight: 0, Status: AgentStatuses.Active),
            new Candidate("full", MaxConcurrent: 2, InFlight: 2, Status: AgentStatuses.Active),
            new Candidate("broken", MaxConcurrent: 5, InFlight: 0, Status: AgentStatuses.Error),
            new Candidate("healthy", MaxConcurrent: 5, InFlight: 4, Status: AgentStatuses.Active),
        };
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal("healthy", resolver.Choose("t", "cap", candidates)!.AgentId);
        }
        Assert.False(resolver.IsHealthy("flaky"));
        // Failover: with the healthy one excluded (it just failed), the unhealthy one is the last resort; full and error never are.
        Assert.Equal("flaky", resolver.Choose("t", "cap", candidates, new HashSet<string> { "healthy" })!.AgentId);
        Assert.Null(resolver.Choose("t", "cap", candidates, new HashSet<string> { "healthy", "flaky" }));
        // Failures are forgotten after 30 s.
        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.True(resolver.IsHealthy("flaky"));
    }

    [Fact]
    public void Weighted_round_robin_spreads_work_by_free_capacity_and_response_time()
    {
        var resolver = new CapabilityResolver(TestClock.Create());
        resolver.RecordSuccess("fast", TimeSpan.FromMilliseconds(1));
        resolver.RecordSuccess("slow", TimeSpan.FromMilliseconds(300));
        var candidates = new[]
        {
            new Candidate("fast", 10, 0, AgentStatuses.Active),
            new Candidate("slow", 10, 0, AgentStatuses.Active),
            new Candidate("idle", 10, 0, AgentStatuses.Idle),
        };
        var counts = new Dictionary<string, int>();
        for (var i = 0; i < 900; i++)
        {
            var id = resolver.Choose("t", "cap", candidates)!.AgentId;
            counts[id] = counts.GetValueOrDefault(id) + 1;
        }
        // Every candidate gets work, in proportion to its score: the agent without samples and the fast one alike, the slow one least.
        Assert.Equal(3, counts.Count);
        Assert.True(counts["slow"] < counts["fast"] / 2, $"slow {counts["slow"]}, fast {counts["fast"]}");
        Assert.InRange(counts["idle"] - counts["fast"], -10, 10);

        // Load counts too: a half-busy agent gets about half the share of an idle one.
        var loaded = new[] { new Candidate("a", 10, 5, AgentStatuses.Active), new Candidate("b", 10, 0, AgentStatuses.Active) };
        var a = Enumerable.Range(0, 300).Count(_ => resolver.Choose("t", "other", loaded)!.AgentId == "a");
        Assert.InRange(a, 90, 110);
    }

    [Fact]
    public async Task Capability_routes_fail_over_to_a_connected_agent_and_skip_offline_ones()
    {
        await using var hub = await TestHub.StartAsync(TestClock.Create());
        var ada = await hub.NewUserAsync();
        await hub.NewAgentAsync(ada.AccessToken, "offline-summarizer", "worker", "summarize");
        await using var online = await hub.ConnectAgentAsync(await hub.NewAgentAsync(ada.AccessToken, "online-summarizer", "worker", "summarize"));
        var router = hub.Service<Router>();
        var sender = RouterKit.User(ada.UserProfile.UserId);
        for (var i = 0; i < 3; i++)
        {
            var result = await router.RouteAsync(RouterKit.To(Address.Capability("summarize", ada.UserProfile.UserId), sender, $"job-{i}"), default);
            Assert.Equal((RouteStatus.Delivered, "online-summarizer"), (result.Status, result.AgentId));
            Assert.Equal($"job-{i}", await RouterKit.TextAsync(online));
        }
    }
}
