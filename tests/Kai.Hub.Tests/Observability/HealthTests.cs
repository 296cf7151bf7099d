using System.Net;
using System.Text.Json;
using Kai.Testing;

namespace Kai.Hub.Tests.Observability;

public sealed class HealthTests
{
    [Fact]
    public async Task Health_ready_and_the_api_docs_are_served()
    {
        await using var hub = await TestHub.StartAsync();
        Assert.Equal("Healthy", await hub.Http.GetStringAsync("health"));
        Assert.Equal("Healthy", await hub.Http.GetStringAsync("ready"));
        using var openapi = JsonDocument.Parse(await hub.Http.GetStringAsync("openapi.json"));
        var paths = openapi.RootElement.GetProperty("paths");
        foreach (var path in new[] { "/api/v1/auth/login", "/api/v1/agents", "/api/v1/agents/{agentId}/command", "/api/v1/tasks/{taskId}/status" })
        {
            Assert.True(paths.TryGetProperty(path, out _), $"openapi.json lacks {path}");
        }
        Assert.Equal(HttpStatusCode.OK, (await hub.Http.GetAsync("docs/index.html")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await hub.Http.GetAsync("redoc/index.html")).StatusCode);
    }

    [Fact]
    public async Task Ready_fails_when_the_database_is_gone()
    {
        await using var hub = await TestHub.StartAsync();
        // Replace the database with a non-database file: a check that only looked at the process would still pass.
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var db = Path.Combine(hub.DataDirectory, "kai.db");
        File.Delete(db + "-wal");
        File.Delete(db + "-shm");
        File.Delete(db);
        await File.WriteAllTextAsync(db, "this is not a database");
        var ready = await hub.Http.GetAsync("ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        // The body says which check failed and why (docs/operations.md, "Health").
        Assert.Equal("Unhealthy\ndatabase: database unavailable", await ready.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await hub.Http.GetAsync("health")).StatusCode);
    }
}
