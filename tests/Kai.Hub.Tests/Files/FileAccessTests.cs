using System.Net;
using System.Net.Http.Json;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Hub.Tests.Files;

public sealed class FileAccessTests
{
    [Fact]
    public async Task Agent_upload_tells_the_agent_which_may_read_that_file_and_no_other()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        using var client = hub.Client(user.AccessToken);
        var agent = await hub.NewAgentAsync(user.AccessToken, "reader-agent");
        var sibling = await hub.NewAgentAsync(user.AccessToken, "sibling-agent");
        await using var link = await hub.ConnectAgentAsync(agent);

        var data = FileKit.Random(4096);
        // A "pdf" without the %PDF- signature is refused (wrong mime_type), and the agent hears nothing about it.
        var wrong = await client.PostAsync($"api/v1/agents/{agent.AgentId}/upload", FileKit.Multipart(data, "brief.pdf", "application/pdf"));
        Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
        var file = await FileKit.UploadAsync(client, data, "brief.bin", path: $"api/v1/agents/{agent.AgentId}/upload");
        Assert.Equal(agent.AgentId, file.AgentId);

        var assigned = (await link.ReceiveAsync(FrameTypes.FileAssigned)).PayloadAs<FileAssignedPayload>()!;
        Assert.Equal(file.FileId, assigned.File.FileId);
        Assert.Equal(user.UserProfile.UserId, assigned.UploadedBy);

        using var asAgent = hub.Client(await hub.AgentTokenAsync(agent));
        Assert.Equal(data, await asAgent.GetByteArrayAsync(assigned.File.Url.TrimStart('/')));
        Assert.Equal(file.FileId, Assert.Single((await FileKit.ListAsync(asAgent)).Files).FileId);

        var unassigned = await FileKit.UploadAsync(client, FileKit.Random(10, 2));
        var res = await asAgent.GetAsync(unassigned.Url.TrimStart('/'));
        Assert.Equal(HttpStatusCode.NotFound, res.StatusCode);
        using var asSibling = hub.Client(await hub.AgentTokenAsync(sibling));
        Assert.Equal(HttpStatusCode.NotFound, (await asSibling.GetAsync(file.Url.TrimStart('/'))).StatusCode);
        Assert.Empty((await FileKit.ListAsync(asSibling)).Files);
        // Agents read; they neither upload nor delete.
        Assert.Equal(HttpStatusCode.Forbidden, (await asAgent.PostAsync("api/v1/files/upload", FileKit.Multipart(FileKit.Random(10)))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await asAgent.DeleteAsync($"api/v1/files/{file.FileId}")).StatusCode);
        // The owner sees both files; the agent filter narrows.
        Assert.Equal(2, (await FileKit.ListAsync(client)).Total);
        Assert.Equal(file.FileId, Assert.Single((await FileKit.ListAsync(client, $"?agent_id={agent.AgentId}")).Files).FileId);
    }

    [Fact]
    public async Task Other_tenants_get_404_for_every_file_route_and_the_file_is_unchanged()
    {
        await using var hub = await TestHub.StartAsync();
        var alice = await hub.NewUserAsync();
        var bob = await hub.NewUserAsync();
        using var a = hub.Client(alice.AccessToken);
        using var b = hub.Client(bob.AccessToken);
        var agent = await hub.NewAgentAsync(alice.AccessToken, "alice-agent");
        var data = FileKit.Random(777);
        var file = await FileKit.UploadAsync(a, data, path: $"api/v1/agents/{agent.AgentId}/upload");
        var bobAgent = await hub.NewAgentAsync(bob.AccessToken, "bob-agent");
        using var bobAgentClient = hub.Client(await hub.AgentTokenAsync(bobAgent));

        foreach (var (client, who) in new[] { (b, "bob"), (bobAgentClient, "bob's agent") })
        {
            foreach (var req in new Func<Task<HttpResponseMessage>>[]
            {
                () => client.GetAsync($"api/v1/files/{file.FileId}"),
                () => client.GetAsync($"api/v1/files/{file.FileId}/download"),
                () => client.PostAsync($"api/v1/files/{file.FileId}/signed-url", null),
            })
            {
                var res = await req();
                Assert.True(res.StatusCode == HttpStatusCode.NotFound, $"{who}: {(int)res.StatusCode}");
            }
        }
        var del = await b.DeleteAsync($"api/v1/files/{file.FileId}");
        Assert.Equal(HttpStatusCode.NotFound, del.StatusCode);
        var upload = await b.PostAsync($"api/v1/agents/{agent.AgentId}/upload", FileKit.Multipart(FileKit.Random(10)));
        Assert.Equal(HttpStatusCode.NotFound, upload.StatusCode);
        Assert.Equal(ErrorCodes.AgentNotFound, await FileKit.ErrorCodeAsync(upload));
        Assert.Empty((await FileKit.ListAsync(b)).Files);
        Assert.Empty((await FileKit.ListAsync(b, $"?agent_id={agent.AgentId}")).Files);
        Assert.Equal(HttpStatusCode.NotFound, (await b.GetAsync("api/v1/files/file_00000000000000000000000000000000/download")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await b.GetAsync("api/v1/files/..%2F..%2Fkai.db/download")).StatusCode);

        Assert.Equal(data, await a.GetByteArrayAsync(file.Url.TrimStart('/')));
        Assert.Equal(1, (await FileKit.ListAsync(a)).Total);
        Assert.Equal(0, (await FileKit.ListAsync(b)).StorageUsed);
    }

    [Fact]
    public async Task Deleting_an_agent_deletes_its_files_unless_preserve_data_is_set()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        using var client = hub.Client(user.AccessToken);
        var doomed = await hub.NewAgentAsync(user.AccessToken, "doomed-agent");
        var kept = await hub.NewAgentAsync(user.AccessToken, "kept-agent");
        var f1 = await FileKit.UploadAsync(client, FileKit.Random(100, 1), path: $"api/v1/agents/{doomed.AgentId}/upload");
        var f2 = await FileKit.UploadAsync(client, FileKit.Random(100, 2), path: $"api/v1/agents/{kept.AgentId}/upload");
        var mine = await FileKit.UploadAsync(client, FileKit.Random(100, 3));

        Assert.Equal(HttpStatusCode.OK, (await client.DeleteAsync($"api/v1/agents/{doomed.AgentId}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.DeleteAsync($"api/v1/agents/{kept.AgentId}?preserve_data=true")).StatusCode);

        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync(f1.Url.TrimStart('/'))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(f2.Url.TrimStart('/'))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(mine.Url.TrimStart('/'))).StatusCode);
        Assert.Equal(2, FileKit.StoredFiles(hub).Length);
    }
}
