using Kai.Hub.Tests.Events;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Protocol.Frames;
using Kai.Testing;

namespace Kai.Hub.Tests.Messaging;

/// <summary>Seed 000: <c>subscribe</c> is accepted on <c>/ws/agents/{agent_id}</c> too, on agent and observer links, with the rules of <c>/ws</c>.</summary>
public sealed class AgentLinkSubscribeTests
{
    [Fact]
    public async Task Subscribe_on_agent_and_observer_links_sees_only_the_own_tenants_events()
    {
        await using var hub = await TestHub.StartAsync();
        var ada = await hub.NewUserAsync();
        var bob = await hub.NewUserAsync();
        var adasAgent = await hub.NewAgentAsync(ada.AccessToken, "ada-sub");
        await using var agentLink = await hub.ConnectAgentAsync(adasAgent);
        await using var observer = await hub.ConnectAsync("ws/agents/ada-sub", ada.AccessToken);
        await observer.ReceiveAsync(FrameTypes.Welcome);
        await agentLink.SubscribeAsync(new { events = new[] { "app.>" } }, "s-agent");
        await observer.SubscribeAsync(new { events = new[] { "app.>", "custom.*" } }, "s-observer");

        // Bob's publication stays in Bob's tenant; Ada's reaches both of Ada's links, once each.
        var (bobs, _) = await hub.EventsAsync(bob.AccessToken);
        await using var bw = bobs;
        await bobs.PublishAsync("app.secret", new { of = "bob" });
        Assert.Equal(System.Net.HttpStatusCode.Accepted, (await hub.PublishRestAsync(ada.AccessToken, "app.news", new { of = "ada" })).StatusCode);
        var seenByAgent = await agentLink.NextEventAsync();
        var seenByObserver = await observer.NextEventAsync();
        Assert.Equal(("app.news", "ada"), (seenByAgent.Topic, seenByAgent.Payload.GetProperty("of").GetString()));
        Assert.Equal(("app.news", "ada"), (seenByObserver.Topic, seenByObserver.Payload.GetProperty("of").GetString()));

        // Unsubscribe answers with what was removed; afterwards nothing more arrives on that link.
        await agentLink.SendAsync("unsubscribe", new { events = new[] { "app.>", "never.subscribed" } }, "u-1");
        var ack = await agentLink.ReceiveAsync(FrameTypes.Ack);
        Assert.Equal("app.>", Assert.Single(ack.Payload.GetProperty("unsubscribed").EnumerateArray()).GetString());
        await hub.PublishRestAsync(ada.AccessToken, "app.after", new { of = "ada" });
        Assert.Equal("app.after", (await observer.NextEventAsync()).Topic);
        await agentLink.SendAsync(FrameTypes.Heartbeat, new { status = "active" }, "hb-1");
        Assert.Equal("hb-1", (await agentLink.ReceiveAsync(FrameTypes.Ack)).Id);   // the next frame is the ack, not the event

        // Bad input gets the same clear errors as on /ws.
        Assert.Equal(ErrorCodes.ValidationError, (await observer.ErrorAsync("subscribe", new { events = new[] { "bad..pattern" } }, "bad-1")).Code);
        Assert.Equal(ErrorCodes.ValidationError, (await observer.ErrorAsync("subscribe", new { events = Array.Empty<string>() }, "bad-2")).Code);
    }
}
