using System.Net;
using System.Security.Cryptography;
using Kai.Hub.Housekeeping;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Kai.Hub.Tests.Files;

public sealed class ChunkedUploadTests
{
    private static async Task<TestSocket> ObserverAsync(TestHub hub, string agentId, string token)
    {
        var socket = await hub.ConnectAsync($"ws/agents/{agentId}", token);
        Assert.Equal("welcome", (await socket.ReceiveAsync()).Type);
        return socket;
    }

    private static object Chunk(string uploadId, byte[] data, int index, int total, string? sha = null, string filename = "big.bin") => new
    {
        upload_id = uploadId, filename, content = Convert.ToBase64String(data), mime_type = "application/octet-stream",
        chunk_index = index, total_chunks = total, sha256 = sha,
    };

    private static async Task<Frame> SendAsync(TestSocket socket, object payload, string id)
    {
        await socket.SendAsync(FrameTypes.Upload, payload, id);
        while (true)
        {
            var frame = await socket.ReceiveAsync();
            if (frame.Id == id)
            {
                return frame;
            }
        }
    }

    [Fact]
    public async Task Chunks_out_of_order_and_duplicated_are_acked_resume_from_the_first_missing_and_the_file_appears_only_when_complete()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        using var client = hub.Client(user.AccessToken);
        var agent = await hub.NewAgentAsync(user.AccessToken, "chunk-agent");
        await using var agentLink = await hub.ConnectAgentAsync(agent);
        var data = FileKit.Random(3 * 50_000 + 123);
        var parts = data.Chunk(50_000).ToArray();
        var sha = Convert.ToHexStringLower(SHA256.HashData(data));

        UploadAck ack;
        await using (var first = await ObserverAsync(hub, agent.AgentId, user.AccessToken))
        {
            ack = (await SendAsync(first, Chunk("u-1", parts[2], 2, 4, sha), "c2")).PayloadAs<UploadAck>()!;
            Assert.Equal((1, 0, false), (ack.Received, ack.NextMissing, ack.Complete));
            ack = (await SendAsync(first, Chunk("u-1", parts[0], 0, 4, sha), "c0")).PayloadAs<UploadAck>()!;
            Assert.Equal((2, 1), (ack.Received, ack.NextMissing));
            ack = (await SendAsync(first, Chunk("u-1", parts[0], 0, 4, sha), "c0-again")).PayloadAs<UploadAck>()!;
            Assert.Equal((2, 1), (ack.Received, ack.NextMissing));
            var conflict = await SendAsync(first, Chunk("u-1", parts[1], 0, 4, sha), "c0-other");
            Assert.Equal(FrameTypes.Error, conflict.Type);
            Assert.Equal(ErrorCodes.ValidationError, conflict.PayloadAs<ErrorPayload>()!.Code);
            var outOfRange = await SendAsync(first, Chunk("u-1", parts[1], 4, 4, sha), "c4");
            Assert.Equal(ErrorCodes.ValidationError, outOfRange.PayloadAs<ErrorPayload>()!.Code);
        }
        Assert.Equal(0, (await FileKit.ListAsync(client)).Total);

        // A new link resumes from next_missing.
        await using var second = await ObserverAsync(hub, agent.AgentId, user.AccessToken);
        ack = (await SendAsync(second, Chunk("u-1", parts[1], 1, 4, sha), "c1")).PayloadAs<UploadAck>()!;
        Assert.Equal((3, 3, false), (ack.Received, ack.NextMissing, ack.Complete));
        Assert.Equal(0, (await FileKit.ListAsync(client)).Total);
        ack = (await SendAsync(second, Chunk("u-1", parts[3], 3, 4, sha), "c3")).PayloadAs<UploadAck>()!;
        Assert.True(ack.Complete);
        Assert.Null(ack.NextMissing);
        Assert.Equal(sha, ack.File!.Sha256);
        Assert.Equal(agent.AgentId, ack.File.AgentId);

        Assert.Equal(data, await client.GetByteArrayAsync(ack.File.Url.TrimStart('/')));
        Assert.Equal(ack.File.FileId, (await agentLink.ReceiveAsync(FrameTypes.FileAssigned)).PayloadAs<FileAssignedPayload>()!.File.FileId);
        // Only the blob is left: the chunks were removed.
        Assert.Single(FileKit.StoredFiles(hub));
    }

    [Fact]
    public async Task Checksum_mismatch_stores_nothing_and_bad_chunks_are_refused()
    {
        await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string> { ["Kai:Files:MaxFileBytes"] = "1000" });
        var user = await hub.NewUserAsync();
        using var client = hub.Client(user.AccessToken);
        var agent = await hub.NewAgentAsync(user.AccessToken, "sum-agent");
        await using var link = await ObserverAsync(hub, agent.AgentId, user.AccessToken);

        await SendAsync(link, Chunk("bad-sum", FileKit.Random(300, 1), 0, 2, new string('0', 64)), "a");
        var mismatch = await SendAsync(link, Chunk("bad-sum", FileKit.Random(300, 2), 1, 2, new string('0', 64)), "b");
        Assert.Equal(FrameTypes.Error, mismatch.Type);
        Assert.Equal(ErrorCodes.ChecksumMismatch, mismatch.PayloadAs<ErrorPayload>()!.Code);
        Assert.Equal(0, (await FileKit.ListAsync(client)).Total);
        Assert.Empty(FileKit.StoredFiles(hub));

        await SendAsync(link, Chunk("big", FileKit.Random(600, 1), 0, 2), "c");
        var tooBig = await SendAsync(link, Chunk("big", FileKit.Random(600, 2), 1, 2), "d");
        Assert.Equal(ErrorCodes.PayloadTooLarge, tooBig.PayloadAs<ErrorPayload>()!.Code);
        Assert.Empty(FileKit.StoredFiles(hub));

        var traversal = await SendAsync(link, Chunk("t", FileKit.Random(10), 0, 1, filename: "../../kai.db"), "e");
        Assert.Equal(ErrorCodes.ValidationError, traversal.PayloadAs<ErrorPayload>()!.Code);
        var notBase64 = await SendAsync(link, new { upload_id = "x", filename = "a.bin", content = "%%%", chunk_index = 0, total_chunks = 1 }, "f");
        Assert.Equal(ErrorCodes.ValidationError, notBase64.PayloadAs<ErrorPayload>()!.Code);
        var changed = await SendAsync(link, Chunk("big2", FileKit.Random(10), 0, 3), "g");
        Assert.Equal(FrameTypes.Ack, changed.Type);
        var otherTotal = await SendAsync(link, Chunk("big2", FileKit.Random(10), 1, 4), "h");
        Assert.Equal(ErrorCodes.ValidationError, otherTotal.PayloadAs<ErrorPayload>()!.Code);
        Assert.Equal(0, (await FileKit.ListAsync(client)).Total);
    }

    [Fact]
    public async Task Abandoned_partial_uploads_are_swept_and_agents_cannot_upload_on_their_own_link()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var hub = await TestHub.StartAsync(clock, settings: new Dictionary<string, string> { ["Kai:Files:AbandonedUploadAfter"] = "00:05:00" });
        var user = await hub.NewUserAsync();
        var agent = await hub.NewAgentAsync(user.AccessToken, "abandon-agent");
        await using var link = await ObserverAsync(hub, agent.AgentId, user.AccessToken);
        await SendAsync(link, Chunk("gone", FileKit.Random(100), 0, 2), "a");
        Assert.Single(FileKit.StoredFiles(hub));

        clock.Advance(TimeSpan.FromMinutes(3));
        await hub.Service<HubSweeper>().SweepOnceAsync(CancellationToken.None);
        Assert.Single(FileKit.StoredFiles(hub));
        clock.Advance(TimeSpan.FromMinutes(3));
        await hub.Service<HubSweeper>().SweepOnceAsync(CancellationToken.None);
        Assert.Empty(FileKit.StoredFiles(hub));
        var restarted = (await SendAsync(link, Chunk("gone", FileKit.Random(100, 5), 1, 2), "b")).PayloadAs<UploadAck>()!;
        Assert.Equal((1, 0, false), (restarted.Received, restarted.NextMissing, restarted.Complete));

        await using var agentLink = await hub.ConnectAgentAsync(agent);
        var refused = await SendAsync(agentLink, Chunk("mine", FileKit.Random(10), 0, 1), "c");
        Assert.Equal(ErrorCodes.UnsupportedFrame, refused.PayloadAs<ErrorPayload>()!.Code);
    }

    [Fact]
    public async Task Another_tenant_cannot_upload_to_an_agent_it_does_not_own()
    {
        await using var hub = await TestHub.StartAsync();
        var alice = await hub.NewUserAsync();
        var bob = await hub.NewUserAsync();
        var agent = await hub.NewAgentAsync(alice.AccessToken, "alice-upload-agent");
        await using var socket = await hub.ConnectAsync($"ws/agents/{agent.AgentId}", bob.AccessToken);
        Assert.Equal(CloseCodes.InvalidSession, await socket.ReceiveCloseAsync());
        using var a = hub.Client(alice.AccessToken);
        Assert.Equal(0, (await FileKit.ListAsync(a)).Total);
        Assert.Empty(FileKit.StoredFiles(hub));
    }
}
