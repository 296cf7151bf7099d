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
}
