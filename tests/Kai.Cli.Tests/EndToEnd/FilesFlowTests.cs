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
}
