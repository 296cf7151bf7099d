using System.Net.Http.Json;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Hub.Tests.Storage;

public sealed class PersistenceTests
{
    [Fact]
    public async Task Users_agents_keys_and_pending_commands_survive_a_restart_on_the_same_data_directory()
    {
        var dir = TestHub.NewDataDirectory();
        string commandId, refreshToken, accessToken;
        AgentCreatedResponse agent;
        await using (var first = await TestHub.StartAsync(dataDirectory: dir, keepData: true))
        {
            var user = await first.NewUserAsync("persist@example.com", "persistent-password");
            refreshToken = user.RefreshToken;
            accessToken = user.AccessToken;
            agent = await first.NewAgentAsync(user.AccessToken, "durable-agent", "worker", "text.stats");
            var queued = await first.Client(user.AccessToken).PostAsJsonAsync("api/v1/agents/durable-agent/command",
                new SendCommandRequest("survive", Timeout: 0), KaiJson.Options);
            commandId = (await queued.Content.ReadFromJsonAsync<CommandResponse>(KaiJson.Options))!.CommandId;
        }

        await using var second = await TestHub.StartAsync(dataDirectory: dir);
        // The signing key persisted, so the old access token still validates; the password and refresh token work too.
        using var client = second.Client(accessToken);
        var view = (await client.GetFromJsonAsync<AgentView>("api/v1/agents/durable-agent", KaiJson.Options))!;
        Assert.Equal(["text.stats"], view.Capabilities);
        Assert.Equal("offline", view.Status);
        var login = await second.Http.PostAsJsonAsync("api/v1/auth/login", new LoginRequest("persist@example.com", "persistent-password"), KaiJson.Options);
        Assert.True(login.IsSuccessStatusCode);
        var refresh = await second.Http.PostAsJsonAsync("api/v1/auth/refresh", new RefreshRequest(refreshToken), KaiJson.Options);
        Assert.True(refresh.IsSuccessStatusCode);

        Assert.Equal("queued", (await client.GetFromJsonAsync<TaskStatusResponse>($"api/v1/tasks/{commandId}/status", KaiJson.Options))!.Status);
        await using var link = await second.ConnectAgentAsync(agent);
        Assert.Equal(commandId, (await link.ReceiveAsync("command")).PayloadAs<CommandPayload>()!.CommandId);
    }

    [Fact]
    public async Task A_connected_agent_is_offline_after_a_restart()
    {
        var dir = TestHub.NewDataDirectory();
        string token;
        await using (var first = await TestHub.StartAsync(dataDirectory: dir, keepData: true))
        {
            var user = await first.NewUserAsync();
            token = user.AccessToken;
            var link = await first.ConnectAgentAsync(await first.NewAgentAsync(user.AccessToken, "was-live"));
            Assert.Equal("active", (await first.Client(token).GetFromJsonAsync<AgentView>("api/v1/agents/was-live", KaiJson.Options))!.Status);
            link.Socket.Abort();
            await first.App.StopAsync();
        }
        await using var second = await TestHub.StartAsync(dataDirectory: dir);
        Assert.Equal("offline", (await second.Client(token).GetFromJsonAsync<AgentView>("api/v1/agents/was-live", KaiJson.Options))!.Status);
    }

    [Fact]
    public async Task Migrations_are_versioned_and_applied_once()
    {
        var dir = TestHub.NewDataDirectory();
        await using (var first = await TestHub.StartAsync(dataDirectory: dir, keepData: true))
        {
            Assert.True(first.Service<Kai.Hub.Storage.IHubStore>() is Kai.Hub.Storage.SqliteHubStore s && s.SchemaVersion() >= 1);
        }
        await using var second = await TestHub.StartAsync(dataDirectory: dir);
        var store = (Kai.Hub.Storage.SqliteHubStore)second.Service<Kai.Hub.Storage.IHubStore>();
        Assert.Equal(Kai.Hub.Storage.SqliteMigrations.Steps.Max(m => m.Version), store.SchemaVersion());
        await using var c = store.OpenRead();
        var mode = Dapper.SqlMapper.ExecuteScalar<string>(c, "PRAGMA journal_mode");
        Assert.Equal("wal", mode);
    }
}
