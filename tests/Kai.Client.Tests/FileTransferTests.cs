using Kai.Testing;

namespace Kai.Client.Tests;

public sealed class FileTransferTests
{
    private sealed class Recorder : IProgress<long>
    {
        public List<long> Values { get; } = [];

        public void Report(long value)
        {
            lock (Values)
            {
                Values.Add(value);
            }
        }
    }

    [Fact]
    public async Task Upload_and_download_report_progress_resume_from_an_offset_and_errors_are_HubApiExceptions()
    {
        await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string> { ["Kai:Files:MaxFileBytes"] = "2000000" });
        using var client = new HubClient(hub.BaseAddress);
        await client.RegisterAsync("files@example.com", "files-password-1", "Files");
        await client.LoginAsync("files@example.com", "files-password-1");
        var data = new byte[1_500_000];
        new Random(4).NextBytes(data);

        var sent = new Recorder();
        var file = await client.UploadFileAsync(new MemoryStream(data), "données.bin", progress: sent);
        Assert.Equal("données.bin", file.Filename);
        Assert.Equal(data.Length, file.Size);
        Assert.Equal(data.Length, sent.Values.Max());

        var got = new Recorder();
        var whole = new MemoryStream();
        Assert.Equal(data.Length, await client.DownloadFileAsync(file.FileId, whole, progress: got));
        Assert.Equal(data, whole.ToArray());
        Assert.Equal(data.Length, got.Values[^1]);

        // Resume: the first 600000 bytes are held; only the rest is fetched.
        var resumed = new MemoryStream();
        resumed.Write(data, 0, 600_000);
        Assert.Equal(data.Length - 600_000, await client.DownloadFileAsync(file.FileId, resumed, offset: 600_000));
        Assert.Equal(data, resumed.ToArray());

        var list = await client.ListFilesAsync();
        Assert.Equal((1, (long)data.Length), (list.Total, list.StorageUsed));
        var tooBig = await Assert.ThrowsAsync<HubApiException>(() => client.UploadFileAsync(new MemoryStream(new byte[2_100_000]), "big.bin"));
        Assert.Equal(("PAYLOAD_TOO_LARGE", 413), (tooBig.Code, tooBig.Status));
        Assert.Equal(data.Length, (await client.DeleteFileAsync(file.FileId)).SpaceFreed);
        var gone = await Assert.ThrowsAsync<HubApiException>(() => client.DownloadFileAsync(file.FileId, new MemoryStream()));
        Assert.Equal(("NOT_FOUND", 404), (gone.Code, gone.Status));
    }

    [Fact]
    public async Task An_upload_and_a_download_cut_off_mid_way_resume_where_they_stopped_and_hash_to_the_original()
    {
        await using var hub = await TestHub.StartAsync();
        using var client = new HubClient(hub.BaseAddress);
        await client.RegisterAsync("resume@example.com", "resume-password-1", "Resume");
        await client.LoginAsync("resume@example.com", "resume-password-1");
        var data = new byte[10 * 64 * 1024 + 123];
        new Random(9).NextBytes(data);
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(data));
        const int Chunk = 64 * 1024;

        // Cut the upload off once 4 chunks are held: the cancellation aborts the request in flight (its connection is torn down).
        using (var cut = new CancellationTokenSource())
        {
            var cutter = new Cutter(cut, 4L * Chunk);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
                client.UploadFileResumableAsync(new MemoryStream(data), "resumed.bin", "resume-1", Chunk, progress: cutter, ct: cut.Token));
        }
        var status = await client.SendAsync<Kai.Protocol.Rest.UploadStatusResponse>(HttpMethod.Get, "api/v1/files/uploads/resume-1", null);
        Assert.Equal(4, status.Received);
        Assert.Equal(11, status.TotalChunks);
        var resumedFrom = new Recorder();
        var file = await client.UploadFileResumableAsync(new MemoryStream(data), "resumed.bin", "resume-1", Chunk, progress: resumedFrom);
        // The second call started from what the hub held, not from 0, and the hub verified the assembled file against the sha256.
        Assert.Equal((long)status.Received * Chunk, resumedFrom.Values[0]);
        Assert.Equal(sha, file.Sha256);
        Assert.Equal(data.Length, file.Size);

        // Cut the download off half-way, then resume from the bytes held.
        var local = new MemoryStream();
        using (var cut = new CancellationTokenSource())
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
                client.DownloadFileAsync(file.FileId, local, progress: new Cutter(cut, data.Length / 2), ct: cut.Token));
        }
        Assert.InRange(local.Length, 1, data.Length - 1);
        await client.DownloadFileAsync(file.FileId, local, offset: local.Length);
        Assert.Equal(sha, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(local.ToArray())));
    }

    /// <summary>Cancels a transfer once its progress passes a byte count (the transfer's connection is aborted mid-way).</summary>
    private sealed class Cutter(CancellationTokenSource cts, long after) : IProgress<long>
    {
        public void Report(long value)
        {
            if (value >= after)
            {
                cts.Cancel();
            }
        }
    }
}
