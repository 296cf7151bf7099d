using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Rest;

namespace Kai.Hub.Tests.Security;

/// <summary>Agent client-secret rotation: a new secret shown once, the old one and its access tokens dead at once, audited.</summary>
public sealed class SecretRotationTests
{
    [Fact]
    public async Task Rotation_kills_the_old_secret_and_its_tokens()
    {
        await using var kit = await SecurityKit.StartAsync();
        var user = await kit.Hub.NewUserAsync();
        var agent = await kit.Hub.NewAgentAsync(user.AccessToken, "rot-agent", "t");
        var oldToken = await kit.Hub.AgentTokenAsync(agent);
        await using var link = await kit.Hub.ConnectAgentAsync(agent);

        // The agent itself cannot rotate (a stolen agent token must not lock the owner out).
        Assert.Equal(HttpStatusCode.Forbidden, (await kit.Hub.Client(oldToken).PostAsync("api/v1/agents/rot-agent/rotate-secret", null)).StatusCode);

        var res = await kit.Hub.Client(user.AccessToken).PostAsync("api/v1/agents/rot-agent/rotate-secret", null);
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        var body = await res.Content.ReadFromJsonAsync<JsonElement>(KaiJson.Options);
        var secret = body.GetProperty("client_secret").GetString()!;
        Assert.NotEqual(agent.ClientSecret, secret);

        Assert.Equal(CloseCodes.SessionExpired, await link.ReceiveCloseAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, (await kit.Hub.Client(oldToken).GetAsync("api/v1/auth/session")).StatusCode);
        var old = await kit.Hub.Http.PostAsync("api/v1/auth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = agent.ClientId, ["client_secret"] = agent.ClientSecret,
        }));
        await SecurityKit.ErrorAsync(old, HttpStatusCode.Unauthorized, ErrorCodes.AuthenticationFailed);
        var fresh = await kit.Hub.AgentTokenAsync(agent with { ClientSecret = secret });
        Assert.Equal(HttpStatusCode.OK, (await kit.Hub.Client(fresh).GetAsync("api/v1/auth/session")).StatusCode);
        // The secret is not retrievable afterwards.
        Assert.DoesNotContain(secret, await kit.Hub.Client(user.AccessToken).GetStringAsync("api/v1/agents/rot-agent"), StringComparison.Ordinal);
        Assert.Single(await kit.AuditAsync("agent.secret_rotated", user.UserProfile.UserId));
        Assert.NotEmpty(await kit.AuditAsync("auth.client.failed"));
    }
}
