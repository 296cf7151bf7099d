using System.Net;
using System.Net.Http.Json;
using Kai.Hub.Agents;
using Kai.Hub.Auth;
using Kai.Hub.Storage;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Hub.Tests.Security;

/// <summary>
/// Issue 10, item 1: an agent's credentials die with the agent. After <c>DELETE /api/v1/agents/X</c> the old access token is refused on
/// REST (401) and on both WebSocket edges (4003), its open links are closed, and an agent re-registered under the same id by someone
/// else never accepts the old token.
/// </summary>
public sealed class AgentCredentialTests
{
    [Fact]
    public async Task A_deleted_agents_access_token_is_refused_on_rest_and_on_both_links()
    {
        await using var hub = await TestHub.StartAsync();
        var owner = await hub.NewUserAsync();
        var agent = await hub.NewAgentAsync(owner.AccessToken, "doomed-agent");
        var token = await hub.AgentTokenAsync(agent);
        using var asAgent = hub.Client(token);
        // Control: the token works before the deletion, on every surface the test checks afterwards.
        Assert.Equal(HttpStatusCode.OK, (await asAgent.GetAsync("api/v1/auth/session")).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await asAgent.PostAsJsonAsync("api/v1/events", new { topic = "app.doomed", data = 1 }, KaiJson.Options)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await asAgent.PostAsJsonAsync("api/v1/tasks", new { type = "t" }, KaiJson.Options)).StatusCode);
        await using var link = await hub.ConnectAsync("ws/agents/doomed-agent", token);
        Assert.Equal("welcome", (await link.ReceiveAsync()).Type);
        await using var events = await hub.ConnectAsync("ws", token);
        Assert.Equal("welcome", (await events.ReceiveAsync()).Type);

        Assert.Equal(HttpStatusCode.OK, (await hub.Client(owner.AccessToken).DeleteAsync("api/v1/agents/doomed-agent")).StatusCode);

        Assert.Equal(CloseCodes.InvalidSession, await link.ReceiveCloseAsync());
        Assert.Equal(CloseCodes.InvalidSession, await events.ReceiveCloseAsync());
        await SecurityKit.ErrorAsync(await asAgent.GetAsync("api/v1/auth/session"), HttpStatusCode.Unauthorized, ErrorCodes.AuthenticationFailed);
        await SecurityKit.ErrorAsync(await asAgent.PostAsJsonAsync("api/v1/events", new { topic = "app.doomed", data = 2 }, KaiJson.Options),
            HttpStatusCode.Unauthorized, ErrorCodes.AuthenticationFailed);
        await SecurityKit.ErrorAsync(await asAgent.PostAsJsonAsync("api/v1/tasks", new { type = "t" }, KaiJson.Options),
            HttpStatusCode.Unauthorized, ErrorCodes.AuthenticationFailed);
        await using var again = await hub.ConnectAsync("ws/agents/doomed-agent", token);
        Assert.Equal(CloseCodes.AuthenticationFailed, await again.ReceiveCloseAsync());
        await using var eventsAgain = await hub.ConnectAsync("ws", token);
        Assert.Equal(CloseCodes.AuthenticationFailed, await eventsAgain.ReceiveCloseAsync());
    }

    [Fact]
    public async Task A_token_of_a_deleted_agent_never_opens_the_link_of_an_agent_re_registered_with_its_id_even_after_a_restart()
    {
        var dir = TestHub.NewDataDirectory();
        string oldToken;
        {
            await using var first = await TestHub.StartAsync(dataDirectory: dir, keepData: true);
            var alice = await first.NewUserAsync("alice@example.com");
            var agent = await first.NewAgentAsync(alice.AccessToken, "shared-name");
            oldToken = await first.AgentTokenAsync(agent);
            Assert.Equal(HttpStatusCode.OK, (await first.Client(alice.AccessToken).DeleteAsync("api/v1/agents/shared-name")).StatusCode);
            await first.DisposeAsyncKeepingData();
        }
        // A restart: the revocation must come back from the database, not only live in memory.
        await using var hub = await TestHub.StartAsync(dataDirectory: dir);
        var bob = await hub.NewUserAsync("bob@example.com");
        var bobs = await hub.NewAgentAsync(bob.AccessToken, "shared-name");
        using var bobClient = hub.Client(bob.AccessToken);
        // Bob queues a command with a secret for his (offline) agent: the old token must never receive it.
        var queued = await bobClient.PostAsJsonAsync("api/v1/agents/shared-name/command",
            new SendCommandRequest("deploy", System.Text.Json.JsonDocument.Parse("""{"api_key": "bob-secret"}""").RootElement, Timeout: 0), KaiJson.Options);
        Assert.True(queued.IsSuccessStatusCode);

        await using var takeover = await hub.ConnectAsync("ws/agents/shared-name", oldToken);
        Assert.Equal(CloseCodes.AuthenticationFailed, await takeover.ReceiveCloseAsync());
        await SecurityKit.ErrorAsync(await hub.Client(oldToken).PostAsJsonAsync("api/v1/agents/shared-name/heartbeat", new { status = "active" }, KaiJson.Options),
            HttpStatusCode.Unauthorized, ErrorCodes.AuthenticationFailed);
        // Control: Bob's own agent gets the command on its link.
        await using var real = await hub.ConnectAgentAsync(bobs);
        Assert.Equal("deploy", (await real.ReceiveAsync("command")).PayloadAs<Kai.Protocol.Frames.CommandPayload>()!.Command);
    }

    [Fact]
    public async Task An_agent_token_sees_only_the_incarnation_it_was_issued_for()
    {
        // The second fence behind revocation: even a token whose session was never revoked (a revocation lost, a clock far off)
        // matches only the agent row whose id, owner and current client secret it was issued for.
        await using var hub = await TestHub.StartAsync();
        var owner = await hub.NewUserAsync();
        var agent = await hub.NewAgentAsync(owner.AccessToken, "incarnated");
        var store = hub.Service<IHubStore>();
        var row = (await store.GetAgentAsync("incarnated", CancellationToken.None))!;
        var token = await hub.AgentTokenAsync(agent);
        var principal = KaiPrincipal.From(hub.Service<TokenService>().Validate(token, out _)!)!;

        Assert.True(Access.MayManageAgent(principal, row));
        Assert.False(Access.MayManageAgent(principal, row with { SecretHash = TokenService.HashSecret("kas_another-incarnation") }));
        Assert.False(Access.MayManageAgent(principal, row with { OwnerId = "usr_someone_else" }));
        Assert.False(Access.MayManageAgent(principal, row with { AgentId = "other-agent" }));
    }
}
