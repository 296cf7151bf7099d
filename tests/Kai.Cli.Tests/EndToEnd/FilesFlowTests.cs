using System.Text.Json;

namespace Kai.Cli.Tests.EndToEnd;

/// <summary><c>kai files upload|list|download|rm</c> through the real <c>kai</c>, including resuming a download from a <c>.part</c> file.</summary>
public sealed class FilesFlowTests : CliFlow
{
    [Fact]
    public async Task Upload_list_download_with_resume_and_rm()
    {
        var register = await Kai("register", "--email", "files@example.com", "--password", "correct-horse-1", "--name", "Files");
        Assert.True(register.ExitCode == 0, register.ToString());
        var local = Path.Combine(Dir, "data.bin");
        var data = new byte[700_000];
        new Random(7).NextBytes(data);
        File.WriteAllBytes(local, data);

        var up = await Kai("files", "upload", local, "--json");
        Assert.True(up.ExitCode == 0, up.ToString());
        var fileId = JsonDocument.Parse(up.Stdout).RootElement.GetProperty("file_id").GetString()!;

        var list = await Kai("files", "list");
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Contains(fileId, list.Stdout);
        Assert.Contains("1 files, 700000 of", list.Stdout);

        // An interrupted earlier download left the first 250000 bytes: the command resumes from there.
        var target = Path.Combine(Dir, "copy.bin");
        File.WriteAllBytes(target + ".part", data[..250_000]);
        var down = await Kai("files", "download", fileId, "-o", target);
        Assert.True(down.ExitCode == 0, down.ToString());
        Assert.Equal(data, File.ReadAllBytes(target));
        Assert.False(File.Exists(target + ".part"));

        var rm = await Kai("files", "rm", fileId);
        Assert.True(rm.ExitCode == 0, rm.ToString());
        Assert.Contains("700000 bytes freed", rm.Stdout);
        var again = await Kai("files", "download", fileId, "-o", target);
        Assert.NotEqual(0, again.ExitCode);
        Assert.Contains("NOT_FOUND", again.ToString());
    }

    [Fact]
    public async Task An_interrupted_chunked_upload_resumes_from_the_chunks_the_hub_holds()
    {
        var register = await Kai("register", "--email", "resume@example.com", "--password", "correct-horse-1", "--name", "Resume");
        Assert.True(register.ExitCode == 0, register.ToString());
        var local = Path.Combine(Dir, "big.bin");
        var data = new byte[700_000];
        new Random(8).NextBytes(data);
        File.WriteAllBytes(local, data);
        // An earlier run got 3 of 7 chunks to the hub before it died: send them as that run would have.
        using (var client = new Kai.Client.HubClient(Hub.BaseAddress))
        {
            await client.LoginAsync("resume@example.com", "correct-horse-1");
            using var cut = new CancellationTokenSource();
            var cutter = new Cutter(cut, 300_000);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
                client.UploadFileResumableAsync(new MemoryStream(data), "big.bin", "cli-resume-1", 100_000, progress: cutter, ct: cut.Token));
        }

        var up = await Kai("files", "upload", local, "--chunk-size", "100000", "--upload-id", "cli-resume-1", "--json");
        Assert.True(up.ExitCode == 0, up.ToString());
        Assert.Contains("resumed: 300000 of 700000 bytes were already on the hub", up.Stderr);
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(data));
        var file = JsonDocument.Parse(up.Stdout).RootElement;
        Assert.Equal(sha, file.GetProperty("sha256").GetString());
        var target = Path.Combine(Dir, "back.bin");
        var down = await Kai("files", "download", file.GetProperty("file_id").GetString()!, "-o", target);
        Assert.True(down.ExitCode == 0, down.ToString());
        Assert.Equal(data, File.ReadAllBytes(target));
    }

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
