using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Kai.Protocol.Rpc;
using Kai.Testing;

namespace Kai.Hub.Tests.Rpc;

/// <summary>Bad AMRI input: each gets a clear error envelope with a code, nothing reaches an agent, nothing stored changes.</summary>
public sealed class RpcBadInputTests
{
    [Fact]
    public async Task Malformed_unknown_expired_offline_and_denied_requests_get_error_envelopes_and_change_nothing()
    {
        await using var hub = await TestHub.StartAsync();
        var alice = await hub.NewUserAsync();
        var bob = await hub.NewUserAsync();
        var alicesAgent = await hub.NewAgentAsync(alice.AccessToken, "alice-worker", capabilities: ["work"]);
        await hub.NewAgentAsync(alice.AccessToken, "alice-sleeper");
        await hub.NewAgentAsync(bob.AccessToken, "bob-worker");
        await using var agent = await hub.ConnectAgentAsync(alicesAgent);
        var http = hub.Client(alice.AccessToken);
        var before = await http.GetFromJsonAsync<AgentView>("api/v1/agents/alice-worker", KaiJson.Options);

        async Task Expect(HttpStatusCode status, string type, Task<(HttpStatusCode, JsonElement)> call, string? id = null)
        {
            var (s, body) = await call;
            Assert.True(s == status, $"{s}: {body}");
            Assert.Equal(type, body.ErrorType());
            Assert.Equal((int)status, body.GetProperty("error").GetProperty("code").GetInt32());
            Assert.False(string.IsNullOrWhiteSpace(body.GetProperty("error").GetProperty("message").GetString()));
            Assert.Equal(JsonValueKind.Null, body.GetProperty("result").ValueKind);
            Assert.False(body.GetProperty("error").TryGetProperty("stack", out _)); // Production: never a stack
            Assert.Equal("hub", body.GetProperty("origin").GetString());
            if (id is not null)
            {
                Assert.Equal(id, body.GetProperty("id").GetString());
            }
        }

        // Not JSON, not an object, wrong field types, missing id or method, a bad method name, a bad ttl.
        await Expect(HttpStatusCode.BadRequest, ErrorCodes.ValidationError, http.PostTextAsync("api/v1/rpc", "{\"id\": \"x\", "));
        await Expect(HttpStatusCode.BadRequest, ErrorCodes.ValidationError, http.PostTextAsync("api/v1/rpc", "[1, 2]"));
        await Expect(HttpStatusCode.BadRequest, ErrorCodes.ValidationError, http.PostTextAsync("api/v1/rpc",
            """{"id": "t-1", "method": "work.do", "timestamp": "2026-01-01T00:00:00Z"}"""), "t-1");
        await Expect(HttpStatusCode.BadRequest, ErrorCodes.ValidationError, http.CallAsync(new { method = "work.do", destination = "alice-worker" }));
        await Expect(HttpStatusCode.BadRequest, ErrorCodes.ValidationError, http.CallAsync(new { id = "no-method", destination = "alice-worker" }), "no-method");
        await Expect(HttpStatusCode.BadRequest, ErrorCodes.ValidationError, http.CallAsync(RpcKit.Envelope("bad-name", "work do!", destination: "alice-worker")), "bad-name");
        await Expect(HttpStatusCode.BadRequest, ErrorCodes.ValidationError, http.CallAsync(RpcKit.Envelope("bad-ttl", "work.do", destination: "alice-worker", ttl: -5)), "bad-ttl");
        await Expect(HttpStatusCode.BadRequest, ErrorCodes.ValidationError, http.CallAsync(new { id = "p", method = "work.do", destination = "alice-worker", @params = "text" }), "p");

        // No route for the method.
        await Expect(HttpStatusCode.NotFound, ErrorCodes.MethodNotFound, http.CallAsync(RpcKit.Envelope("u-1", "unknown.method")), "u-1");
        // Sent a minute ago with a 5 s ttl: expired on arrival, never routed.
        await Expect(HttpStatusCode.RequestTimeout, ErrorCodes.TtlExpired,
            http.CallAsync(RpcKit.Envelope("old-1", "work.do", destination: "alice-worker", ttl: 5000, timestamp: RpcKit.Now() - 60)), "old-1");
        // An agent of the caller with no live link.
        await Expect(HttpStatusCode.ServiceUnavailable, ErrorCodes.AgentUnavailable, http.CallAsync(RpcKit.Envelope("off-1", "work.do", destination: "alice-sleeper")), "off-1");
        // Another owner's agent looks exactly like one that does not exist.
        var (deniedStatus, denied) = await http.CallAsync(RpcKit.Envelope("d-1", "work.do", destination: "bob-worker"));
        var (missingStatus, missing) = await http.CallAsync(RpcKit.Envelope("d-2", "work.do", destination: "no-such-agent"));
        Assert.Equal(HttpStatusCode.NotFound, deniedStatus);
        Assert.Equal(missingStatus, deniedStatus);
        Assert.Equal(ErrorCodes.AgentNotFound, denied.ErrorType());
        Assert.Equal(missing.ErrorType(), denied.ErrorType());
        Assert.Equal(missing.GetProperty("error").GetProperty("message").GetString()!.Replace("no-such-agent", "X", StringComparison.Ordinal),
            denied.GetProperty("error").GetProperty("message").GetString()!.Replace("bob-worker", "X", StringComparison.Ordinal));

        // A bad agent.register changes nothing stored.
        var (regStatus, reg) = await hub.Client(await hub.AgentTokenAsync(alicesAgent)).CallAsync(
            RpcKit.Envelope("r-1", RpcMethods.AgentRegister, new { capabilities = new[] { "ok", "not ok!" }, metadata = new { load = -1 } }));
        Assert.Equal(HttpStatusCode.BadRequest, regStatus);
        Assert.Equal(ErrorCodes.ValidationError, reg.ErrorType());

        // Nothing reached the agent: the first request it sees is the next good one. Its record is unchanged.
        var good = http.CallAsync(RpcKit.Envelope("good-1", "work.do", destination: "alice-worker"));
        var first = await agent.NextRequestAsync();
        Assert.Equal("good-1", first.Id);
        await agent.AnswerAsync(first, new { done = true });
        Assert.Equal(HttpStatusCode.OK, (await good).Status);
        var after = await http.GetFromJsonAsync<AgentView>("api/v1/agents/alice-worker", KaiJson.Options);
        Assert.Equal(before!.Capabilities, after!.Capabilities);
        Assert.Equal(before.Version, after.Version);
        Assert.Equal(before.Name, after.Name);
        Assert.Equal(before.Config.GetRawText(), after.Config.GetRawText());
        Assert.Equal(before.UpdatedAt, after.UpdatedAt);
        Assert.DoesNotContain((await http.GetFromJsonAsync<RpcRoutesResponse>("api/v1/rpc/routes", KaiJson.Options))!.Routes, r => r.Prefix == "ok");
    }

    [Fact]
    public async Task A_foreign_rpc_response_is_not_accepted_and_the_caller_still_gets_its_own_agents_answer()
    {
        await using var hub = await TestHub.StartAsync();
        var alice = await hub.NewUserAsync();
        var bob = await hub.NewUserAsync();
        await using var mine = await hub.ConnectAgentAsync(await hub.NewAgentAsync(alice.AccessToken, "mine"));
        await using var sibling = await hub.ConnectAgentAsync(await hub.NewAgentAsync(alice.AccessToken, "sibling"));
        await using var foreign = await hub.ConnectAgentAsync(await hub.NewAgentAsync(bob.AccessToken, "foreign"));

        var call = hub.Client(alice.AccessToken).CallAsync(RpcKit.Envelope("secret-id", "work.do", destination: "mine"));
        var request = await mine.NextRequestAsync();
        // Another tenant's agent, and even a sibling that was not asked, cannot answer in its place.
        Assert.False((await foreign.AnswerAsync(request, new { forged = true })).GetProperty("accepted").GetBoolean());
        Assert.False((await sibling.AnswerAsync(request, new { forged = true })).GetProperty("accepted").GetBoolean());
        Assert.True((await mine.AnswerAsync(request, new { real = true })).GetProperty("accepted").GetBoolean());
        var (_, body) = await call;
        Assert.True(body.GetProperty("result").GetProperty("real").GetBoolean());
        Assert.Equal("mine", body.GetProperty("origin").GetString());
    }

    [Fact]
    public async Task Rpc_routes_and_websocket_refuse_callers_without_a_valid_token()
    {
        await using var hub = await TestHub.StartAsync();
        var anonymous = hub.Client();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync("api/v1/rpc", RpcKit.Envelope("a", "x.y"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync("jsonrpc", new { jsonrpc = "2.0", method = "x", id = 1 })).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("api/v1/rpc/routes")).StatusCode);
        await using var socket = await hub.ConnectAsync("ws/rpc", "not-a-token");
        Assert.Equal(CloseCodes.AuthenticationFailed, await socket.ReceiveCloseAsync());
    }
}
