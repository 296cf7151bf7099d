using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Hub.Tests.Security;

/// <summary>OWASP API4 (unrestricted resource consumption): rate limits with seed 004 headers, 429 envelopes, and WebSocket limits.</summary>
public sealed class RateLimitTests
{
    private static int Header(HttpResponseMessage res, string name) => int.Parse(res.Headers.GetValues(name).Single(), System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task Every_response_carries_rate_limit_headers()
    {
        await using var kit = await SecurityKit.StartAsync(new Dictionary<string, string> { ["Kai:Security:RateLimits:Authenticated"] = "50" });
        var user = await kit.Hub.NewUserAsync();
        using var client = kit.Hub.Client(user.AccessToken);
        var first = await client.GetAsync("api/v1/agents");
        var second = await client.GetAsync("api/v1/agents");
        Assert.Equal(50, Header(first, "X-RateLimit-Limit"));
        Assert.Equal(Header(first, "X-RateLimit-Remaining") - 1, Header(second, "X-RateLimit-Remaining"));
        Assert.Equal(kit.Time.GetUtcNow().AddMinutes(1).ToUnixTimeSeconds(), Header(first, "X-RateLimit-Reset"));
        // An error answer carries them too.
        var missing = await client.GetAsync("api/v1/agents/nope");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.True(missing.Headers.Contains("X-RateLimit-Remaining"));
    }

    [Fact]
    public async Task Auth_category_answers_429_with_retry_after_and_recovers_after_the_window()
    {
        await using var kit = await SecurityKit.StartAsync(new Dictionary<string, string> { ["Kai:Security:RateLimits:Auth"] = "3" });
        HttpResponseMessage last = null!;
        for (var i = 0; i < 4; i++)
        {
            last = await kit.Hub.Http.PostAsJsonAsync("api/v1/auth/login", new LoginRequest($"x{i}@example.com", "wrong-password-x"), KaiJson.Options);
        }
        var error = await SecurityKit.ErrorAsync(last, HttpStatusCode.TooManyRequests, ErrorCodes.RateLimitExceeded);
        Assert.True(int.Parse(last.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) is > 0 and <= 60);
        Assert.Equal(3, Header(last, "X-RateLimit-Limit"));
        Assert.Equal(0, Header(last, "X-RateLimit-Remaining"));
        Assert.True(error.GetProperty("details").GetProperty("retry_after").GetInt32() > 0);

        kit.Time.Advance(TimeSpan.FromMinutes(1));
        var after = await kit.Hub.Http.PostAsJsonAsync("api/v1/auth/login", new LoginRequest("x9@example.com", "wrong-password-x"), KaiJson.Options);
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
    }

    [Fact]
    public async Task Authenticated_limit_is_per_principal()
    {
        await using var kit = await SecurityKit.StartAsync(new Dictionary<string, string> { ["Kai:Security:RateLimits:Authenticated"] = "3" });
        var alice = await kit.Hub.NewUserAsync();
        var bob = await kit.Hub.NewUserAsync();
        using var a = kit.Hub.Client(alice.AccessToken);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await a.GetAsync("api/v1/agents")).StatusCode);
        }
        await SecurityKit.ErrorAsync(await a.GetAsync("api/v1/agents"), HttpStatusCode.TooManyRequests, ErrorCodes.RateLimitExceeded);
        // Same IP, other principal: its own budget.
        Assert.Equal(HttpStatusCode.OK, (await kit.Hub.Client(bob.AccessToken).GetAsync("api/v1/agents")).StatusCode);
    }

    [Fact]
    public async Task Agent_operations_have_their_own_budget()
    {
        await using var kit = await SecurityKit.StartAsync(new Dictionary<string, string> { ["Kai:Security:RateLimits:AgentOperations"] = "2" });
        var user = await kit.Hub.NewUserAsync();
        await kit.Hub.NewAgentAsync(user.AccessToken, "ops-1", "t");
        await kit.Hub.NewAgentAsync(user.AccessToken, "ops-2", "t");
        var third = await kit.Hub.Client(user.AccessToken).PostAsJsonAsync("api/v1/agents/register", new RegisterAgentRequest("ops-3", "t", null, null, null, null, null), KaiJson.Options);
        await SecurityKit.ErrorAsync(third, HttpStatusCode.TooManyRequests, ErrorCodes.RateLimitExceeded);
        Assert.Equal(2, Header(third, "X-RateLimit-Limit"));
    }

    [Fact]
    public async Task WebSocket_frames_over_the_limit_get_an_error_then_close_4004()
    {
        await using var kit = await SecurityKit.StartAsync(new Dictionary<string, string> { ["Kai:Security:WebSocketMessagesPerMinute"] = "3" });
        var user = await kit.Hub.NewUserAsync();
        await using var link = await kit.Hub.ConnectAgentAsync(await kit.Hub.NewAgentAsync(user.AccessToken, "chatty", "t"));
        for (var i = 0; i < 3; i++)
        {
            await link.SendAsync("heartbeat", new { status = "active" }, $"h{i}");
            Assert.Equal("ack", (await link.ReceiveAsync()).Type);
        }
        await link.SendAsync("heartbeat", new { status = "active" }, "h3");
        var error = await link.ReceiveAsync("error");
        Assert.Equal(ErrorCodes.RateLimitExceeded, error.Payload.GetProperty("code").GetString());
        Assert.Equal(CloseCodes.RateLimited, await link.ReceiveCloseAsync());
    }

    [Fact]
    public async Task WebSocket_connections_per_user_are_capped_with_4004()
    {
        await using var kit = await SecurityKit.StartAsync(new Dictionary<string, string> { ["Kai:Security:MaxWebSocketsPerUser"] = "1" });
        var user = await kit.Hub.NewUserAsync();
        await kit.Hub.NewAgentAsync(user.AccessToken, "capped", "t");
        await using var first = await kit.Hub.ConnectAsync("ws/agents/capped", user.AccessToken);
        Assert.Equal("welcome", (await first.ReceiveAsync()).Type);
        await using (var second = await kit.Hub.ConnectAsync("ws/agents/capped", user.AccessToken))
        {
            Assert.Equal(CloseCodes.RateLimited, await second.ReceiveCloseAsync());
        }
        // The slot is released when a connection ends.
        await first.Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        TestSocket? third = null;
        for (var attempt = 0; attempt < 50; attempt++)
        {
            third = await kit.Hub.ConnectAsync("ws/agents/capped", user.AccessToken);
            var frame = await ReceiveOrCloseAsync(third);
            if (frame == "welcome")
            {
                break;
            }
            await third.DisposeAsync();
            third = null;
            // The server releases the slot after its side of the close completes; retry the connect, no sleeping.
        }
        Assert.NotNull(third);
        await third.DisposeAsync();
    }

    [Fact]
    public async Task A_node_at_its_connection_cap_refuses_with_1013()
    {
        await using var kit = await SecurityKit.StartAsync(new Dictionary<string, string> { ["Kai:Security:MaxWebSocketsPerNode"] = "1" });
        var alice = await kit.Hub.NewUserAsync();
        var bob = await kit.Hub.NewUserAsync();
        await kit.Hub.NewAgentAsync(alice.AccessToken, "node-a", "t");
        await kit.Hub.NewAgentAsync(bob.AccessToken, "node-b", "t");
        await using var first = await kit.Hub.ConnectAsync("ws/agents/node-a", alice.AccessToken);
        Assert.Equal("welcome", (await first.ReceiveAsync()).Type);
        await using var second = await kit.Hub.ConnectAsync("ws/agents/node-b", bob.AccessToken);
        Assert.Equal(1013, await second.ReceiveCloseAsync());
    }

    private static async Task<string> ReceiveOrCloseAsync(TestSocket socket)
    {
        try
        {
            return (await socket.ReceiveAsync()).Type;
        }
        catch (WebSocketCloseException)
        {
            return "closed";
        }
    }
}
