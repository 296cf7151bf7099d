using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Hub.Tests.Files;

/// <summary>
/// The REST twin of the <c>upload</c> frame (issue 13): raw chunks under a client upload id, a status that says which chunks the hub holds,
/// so an interrupted upload resumes from the first missing chunk; the assembled file is verified against the sha256 before it is visible.
/// </summary>
public sealed class ResumableUploadTests
{
    private static async Task<HttpResponseMessage> PutAsync(HttpClient client, string uploadId, int index, byte[] data, int total, string sha, string? agentId = null, string filename = "big.bin")
    {
        var content = new ByteArrayContent(data);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return await client.PutAsync($"api/v1/files/uploads/{uploadId}/chunks/{index}?total_chunks={total}&filename={filename}&sha256={sha}"
            + (agentId is null ? "" : $"&agent_id={agentId}"), content);
    }

    [Fact]
    public async Task Upload_ids_are_per_principal_and_another_tenant_cannot_see_join_or_assign_an_upload()
    {
        await using var hub = await TestHub.StartAsync();
        var alice = await hub.NewUserAsync();
        var bob = await hub.NewUserAsync();
        using var a = hub.Client(alice.AccessToken);
        using var b = hub.Client(bob.AccessToken);
        var agent = await hub.NewAgentAsync(alice.AccessToken, "alice-agent");
        var data = FileKit.Random(30_000, 5);
        var sha = Convert.ToHexStringLower(SHA256.HashData(data));
        var chunks = data.Chunk(10_000).ToArray();

        Assert.Equal(HttpStatusCode.OK, (await PutAsync(a, "up-1", 0, chunks[0], 3, sha, agent.AgentId)).StatusCode);
        // Bob's "up-1" is his own (nothing there); he cannot assign to Alice's agent; his chunks never join Alice's upload.
        Assert.Equal(HttpStatusCode.NotFound, (await b.GetAsync("api/v1/files/uploads/up-1")).StatusCode);
        var assign = await PutAsync(b, "up-2", 0, chunks[0], 3, sha, agent.AgentId);
        Assert.Equal(HttpStatusCode.NotFound, assign.StatusCode);
        Assert.Equal(ErrorCodes.AgentNotFound, await FileKit.ErrorCodeAsync(assign));
        Assert.Equal(HttpStatusCode.OK, (await PutAsync(b, "up-1", 1, chunks[1], 3, sha)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await b.GetAsync("api/v1/files/uploads/up-2")).StatusCode);
        // Agents hold no file.upload: 403 on both routes.
        using var asAgent = hub.Client(await hub.AgentTokenAsync(agent));
        Assert.Equal(HttpStatusCode.Forbidden, (await asAgent.GetAsync("api/v1/files/uploads/up-1")).StatusCode);

        var status = (await a.GetFromJsonAsync<UploadStatusResponse>("api/v1/files/uploads/up-1", KaiJson.Options))!;
        Assert.Equal((3, 1, (int?)1), (status.TotalChunks, status.Received, status.NextMissing));
        Assert.Equal([1, 2], status.Missing);
        Assert.Equal(agent.AgentId, status.AgentId);

        // Resume from the status: out of order, a repeated chunk is acked again, the last one completes and verifies the file.
        Assert.Equal(HttpStatusCode.OK, (await PutAsync(a, "up-1", 2, chunks[2], 3, sha, agent.AgentId)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await PutAsync(a, "up-1", 2, chunks[2], 3, sha, agent.AgentId)).StatusCode);
        var done = await PutAsync(a, "up-1", 1, chunks[1], 3, sha, agent.AgentId);
        Assert.Equal(HttpStatusCode.Created, done.StatusCode);
        var ack = (await done.Content.ReadFromJsonAsync<UploadAck>(KaiJson.Options))!;
        Assert.True(ack.Complete);
        Assert.Equal(sha, ack.File!.Sha256);
        Assert.Equal(agent.AgentId, ack.File.AgentId);
        Assert.Equal(data, await a.GetByteArrayAsync(ack.File.Url.TrimStart('/')));
        Assert.Equal(HttpStatusCode.NotFound, (await a.GetAsync("api/v1/files/uploads/up-1")).StatusCode);
        // Bob's stray chunk made nothing of Alice's visible to him.
        Assert.Empty((await FileKit.ListAsync(b)).Files);
    }

    [Fact]
    public async Task A_resumed_upload_that_does_not_hash_to_its_sha256_is_refused_and_nothing_is_stored()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        using var client = hub.Client(user.AccessToken);
        var data = FileKit.Random(20_000, 6);
        var sha = Convert.ToHexStringLower(SHA256.HashData(data));
        Assert.Equal(HttpStatusCode.OK, (await PutAsync(client, "bad-1", 0, data[..10_000], 2, sha)).StatusCode);
        var tampered = data[10_000..];
        tampered[0] ^= 0xFF;
        var res = await PutAsync(client, "bad-1", 1, tampered, 2, sha);
        Assert.Equal(ErrorCodes.ChecksumMismatch, await FileKit.ErrorCodeAsync(res));
        Assert.Empty((await FileKit.ListAsync(client)).Files);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("api/v1/files/uploads/bad-1")).StatusCode);
        // Missing parameters and an empty chunk are validation errors.
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PutAsync("api/v1/files/uploads/x/chunks/0?filename=a.bin", new ByteArrayContent([1]))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await PutAsync(client, "x", 0, [], 1, sha)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await PutAsync(client, "x", 0, [1], 1, sha, filename: "..")).StatusCode);
        Assert.Empty(FileKit.StoredFiles(hub));
    }
}
