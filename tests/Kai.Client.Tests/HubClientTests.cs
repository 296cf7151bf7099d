using Microsoft.Extensions.Time.Testing;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Client.Tests;

public sealed class HubClientTests
{
    [Fact]
    public async Task Login_then_calls_refresh_the_access_token_by_themselves()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var hub = await TestHub.StartAsync(clock);
        using var client = new HubClient(hub.BaseAddress, time: clock);
        await client.RegisterAsync("sdk@example.com", "sdk-password-1", "SDK");
        var changes = 0;
        client.TokensChanged += _ => changes++;
        var login = await client.LoginAsync("sdk@example.com", "sdk-password-1");
        var first = client.AccessToken;
        Assert.Equal(login.UserProfile.UserId, (await client.GetSessionAsync()).UserId);

        clock.Advance(TimeSpan.FromMinutes(16));
        var session = await client.GetSessionAsync();
        Assert.Equal(login.UserProfile.UserId, session.UserId);
        Assert.NotEqual(first, client.AccessToken);
        Assert.Equal(2, changes);
    }

    [Fact]
    public async Task Errors_surface_as_HubApiException_with_code_status_and_correlation_id()
    {
        await using var hub = await TestHub.StartAsync();
        using var client = new HubClient(hub.BaseAddress);
        var wrong = await Assert.ThrowsAsync<HubApiException>(() => client.LoginAsync("nobody@example.com", "whatever-password"));
        Assert.Equal(("AUTHENTICATION_FAILED", 401), (wrong.Code, wrong.Status));
        Assert.False(string.IsNullOrEmpty(wrong.CorrelationId));

        await client.RegisterAsync("err@example.com", "err-password-1", "Err");
        await client.LoginAsync("err@example.com", "err-password-1");
        var missing = await Assert.ThrowsAsync<HubApiException>(() => client.GetAgentAsync("ghost"));
        Assert.Equal(("AGENT_NOT_FOUND", 404), (missing.Code, missing.Status));
        var invalid = await Assert.ThrowsAsync<HubApiException>(() => client.RegisterAgentAsync(new RegisterAgentRequest("!", "t", null, null, null, null, null)));
        Assert.Equal("VALIDATION_ERROR", invalid.Code);
        Assert.True(invalid.Details!.Value.TryGetProperty("id", out _));
    }

    [Fact]
    public async Task Credentials_are_registered_once_then_loaded_and_kept_private()
    {
        await using var hub = await TestHub.StartAsync();
        using var owner = new HubClient(hub.BaseAddress);
        await owner.RegisterAsync("creds@example.com", "creds-password-1", "Creds");
        await owner.LoginAsync("creds@example.com", "creds-password-1");
        var path = Path.Combine(hub.DataDirectory, "client", "agent.json");

        var created = await AgentCredentials.RegisterOrLoadAsync(owner, path, new RegisterAgentRequest("cred-agent", "worker", null, null, null, null, null));
        var loaded = await AgentCredentials.RegisterOrLoadAsync(owner, path, new RegisterAgentRequest("cred-agent", "worker", null, null, null, null, null));
        Assert.Equal(created, loaded);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
        Assert.Single((await owner.ListAgentsAsync()).Agents);

        await File.WriteAllTextAsync(path, "{}");
        Assert.Throws<InvalidDataException>(() => AgentCredentials.Load(path));
    }
}
