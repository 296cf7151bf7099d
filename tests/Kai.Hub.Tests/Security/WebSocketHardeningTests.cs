using System.Net;
using System.Net.WebSockets;
using Kai.Hub.Housekeeping;
using Kai.Hub.Observability;
using Kai.Protocol;

namespace Kai.Hub.Tests.Security;

/// <summary>Origin allow-list for browser WebSockets (cross-site WebSocket hijacking), idle timeout. The 1009 close for an oversized
/// frame is AgentLinkTests.</summary>
public sealed class WebSocketHardeningTests
{
    private static async Task<(ClientWebSocket Socket, HttpStatusCode? Status)> ConnectWithOriginAsync(SecurityKit kit, string path, string token, string origin)
    {
        var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Origin", origin);
        socket.Options.CollectHttpResponseDetails = true;
        try
        {
            await socket.ConnectAsync(kit.Hub.WebSocketUri(path, token), CancellationToken.None);
            return (socket, HttpStatusCode.SwitchingProtocols);
        }
        catch (WebSocketException)
        {
            return (socket, socket.HttpStatusCode);
        }
    }

    [Fact]
    public async Task A_foreign_origin_is_refused_before_the_upgrade_and_audited()
    {
        await using var kit = await SecurityKit.StartAsync(new Dictionary<string, string> { ["Kai:Security:AllowedOrigins:0"] = "https://app.example.com" });
        var user = await kit.Hub.NewUserAsync();
        await kit.Hub.NewAgentAsync(user.AccessToken, "origin-agent", "t");

        var (evil, evilStatus) = await ConnectWithOriginAsync(kit, "ws/agents/origin-agent", user.AccessToken, "https://evil.example.net");
        Assert.Equal(HttpStatusCode.Forbidden, evilStatus);
        evil.Dispose();

        var (good, goodStatus) = await ConnectWithOriginAsync(kit, "ws/agents/origin-agent", user.AccessToken, "https://app.example.com");
        Assert.Equal(HttpStatusCode.SwitchingProtocols, goodStatus);
        await using (var s = new Kai.Testing.TestSocket(good))
        {
            Assert.Equal("welcome", (await s.ReceiveAsync()).Type);
        }
        // No Origin at all: a non-browser client, allowed.
        await using var plain = await kit.Hub.ConnectAsync("ws/agents/origin-agent", user.AccessToken);
        Assert.Equal("welcome", (await plain.ReceiveAsync()).Type);
        Assert.Single(await kit.AuditAsync("access.origin_refused"));
    }

    [Fact]
    public async Task An_idle_observer_link_is_closed()
    {
        await using var kit = await SecurityKit.StartAsync(new Dictionary<string, string> { ["Kai:Security:WebSocketIdleTimeout"] = "00:01:00" });
        var user = await kit.Hub.NewUserAsync();
        await kit.Hub.NewAgentAsync(user.AccessToken, "idle-agent", "t");
        await using var observer = await kit.Hub.ConnectAsync("ws/agents/idle-agent", user.AccessToken);
        Assert.Equal("welcome", (await observer.ReceiveAsync()).Type);
        kit.Time.Advance(TimeSpan.FromSeconds(61));
        await kit.Hub.Service<HubSweeper>().SweepOnceAsync(CancellationToken.None);
        Assert.Equal(CloseCodes.GenericError, await observer.ReceiveCloseAsync());
    }

    [Fact]
    public async Task A_frame_type_outside_the_edges_table_is_refused()
    {
        await using var kit = await SecurityKit.StartAsync();
        var user = await kit.Hub.NewUserAsync();
        await kit.Hub.NewAgentAsync(user.AccessToken, "frame-agent", "t");
        await using var observer = await kit.Hub.ConnectAsync("ws/agents/frame-agent", user.AccessToken);
        await observer.ReceiveAsync("welcome");
        // An observer may not speak for the agent: agent frames are not in the observer edge's table.
        await observer.SendAsync("task_update", new { task_id = "x", status = "completed" }, "f-1");
        var error = await observer.ReceiveAsync("error");
        Assert.Equal(ErrorCodes.UnsupportedFrame, error.Payload.GetProperty("code").GetString());
    }
}
