using System.CommandLine;
using Kai.Cli.Cli;

namespace Kai.Cli.Commands;

/// <summary><c>kai files upload|download|list|rm</c> (issue 13).</summary>
internal static class FilesCommands
{
    public static Command Create()
    {
        var files = new Command("files", "Upload, download, list and delete files on the hub.");
        files.Subcommands.Add(Upload());
        files.Subcommands.Add(Download());
        files.Subcommands.Add(List());
        files.Subcommands.Add(Remove());
        return files;
    }

    private static readonly Option<bool> JsonOutput = new("--json") { Description = "Print the hub's JSON instead of text." };

    private static Command Upload()
    {
        var path = new Argument<string>("path") { Description = "The local file to upload." };
        var agent = new Option<string?>("--agent") { Description = "Assign the file to this agent (it is told on its live link)." };
        var mime = new Option<string?>("--mime-type") { Description = "The media type; application/octet-stream by default." };
        var name = new Option<string?>("--name") { Description = "The name to store; the local file name by default." };
        var expires = new Option<int?>("--expires-in") { Description = "Delete the file after this many seconds." };
        var chunk = new Option<int?>("--chunk-size") { Description = "Bytes per chunk of a resumable upload (1024 to the hub's limit); 8 MiB by default." };
        var uploadId = new Option<string?>("--upload-id") { Description = "The id of a resumable upload; by default derived from the file, so running the command again resumes." };
        var command = new Command("upload",
            "Upload a file, with a progress bar on a terminal. A file larger than one chunk (8 MiB) goes up in chunks: if the transfer is interrupted, "
            + "running the same command again resumes from the first chunk the hub does not hold (not with --expires-in).") { path, agent, mime, name, expires, chunk, uploadId, JsonOutput };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            var local = parse.GetRequiredValue(path);
            if (!File.Exists(local))
            {
                throw new CliException($"no such file: {local}", ExitCodes.Usage);
            }
            using var client = await ctx.UserClientAsync(ct);
            await using var stream = File.OpenRead(local);
            var bar = new ProgressBar("upload", stream.Length);
            var filename = parse.GetValue(name) ?? Path.GetFileName(local);
            var chunkSize = parse.GetValue(chunk) ?? Kai.Client.HubClient.DefaultChunkSize;
            if (chunkSize < 1024)
            {
                throw new CliException("--chunk-size must be 1024 bytes or more", ExitCodes.Usage);
            }
            var resumable = stream.Length > chunkSize && parse.GetValue(expires) is null;
            var watch = new FirstReport(bar);
            var file = resumable
                ? await client.UploadFileResumableAsync(stream, filename, parse.GetValue(uploadId) ?? ResumeId(local, filename, parse.GetValue(agent)), chunkSize,
                    parse.GetValue(mime), parse.GetValue(agent), watch, ct)
                : await client.UploadFileAsync(stream, filename, parse.GetValue(mime), parse.GetValue(agent),
                    parse.GetValue(expires) is { } s ? TimeSpan.FromSeconds(s) : null, bar, ct);
            if (watch.First > 0)
            {
                Console.Error.WriteLine($"resumed: {watch.First} of {stream.Length} bytes were already on the hub");
            }
            bar.Done();
            Console.WriteLine(parse.GetValue(JsonOutput) ? Output.Json(file) : $"{file.FileId}  {file.Size} bytes  sha256 {file.Sha256}");
            return ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>
    /// The upload id of a resumable upload: the same local file (path, size, modification time), name and agent give the same id, so running
    /// the command again resumes; a changed file starts afresh.
    /// </summary>
    private static string ResumeId(string local, string filename, string? agent)
    {
        var info = new FileInfo(local);
        var key = $"{info.FullName}\n{info.Length}\n{info.LastWriteTimeUtc.Ticks}\n{filename}\n{agent}";
        return "cli-" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key)))[..40];
    }

    private static Command Download()
    {
        var id = new Argument<string>("file-id") { Description = "The file id." };
        var output = new Option<string?>("--output", "-o") { Description = "Where to write; the stored file name in the current directory by default." };
        var command = new Command("download",
            "Download a file, with a progress bar. An interrupted download leaves OUTPUT.part; running the command again resumes from it.") { id, output };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            using var client = await ctx.UserClientAsync(ct);
            var fileId = parse.GetRequiredValue(id);
            var info = await client.SendAsync<Kai.Protocol.Rest.FileInfoResponse>(HttpMethod.Get, $"api/v1/files/{Uri.EscapeDataString(fileId)}", null, ct);
            var target = parse.GetValue(output) ?? Path.GetFileName(info.Filename);
            var part = target + ".part";
            await using (var stream = new FileStream(part, FileMode.Append, FileAccess.Write))
            {
                var offset = stream.Length > info.Size ? 0 : stream.Length;
                if (offset == 0)
                {
                    stream.SetLength(0);
                }
                var bar = new ProgressBar("download", info.Size);
                await client.DownloadFileAsync(fileId, stream, offset, bar, ct);
                bar.Done();
            }
            // The whole file, resumed or not, must be the stored one: a .part that does not hash to it is removed so a new run starts afresh.
            string actual;
            await using (var check = File.OpenRead(part))
            {
                actual = Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(check, ct));
            }
            if (actual != info.Sha256)
            {
                File.Delete(part);
                throw new CliException($"the downloaded bytes do not match the file's sha256 ({actual} != {info.Sha256}); {part} was removed, run the command again", ExitCodes.Error);
            }
            File.Move(part, target, overwrite: true);
            Console.WriteLine($"{target}  {info.Size} bytes");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command List()
    {
        var agent = new Option<string?>("--agent") { Description = "Only files assigned to this agent." };
        var type = new Option<string?>("--type") { Description = "Only this media type or prefix, e.g. image/." };
        var command = new Command("list", "List your files and your storage use.") { agent, type, JsonOutput };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            using var client = await ctx.UserClientAsync(ct);
            var page = await client.ListFilesAsync(parse.GetValue(type), parse.GetValue(agent), limit: 1000, ct: ct);
            if (parse.GetValue(JsonOutput))
            {
                Console.WriteLine(Output.Json(page));
                return ExitCodes.Ok;
            }
            Console.Write(Output.Table(["ID", "NAME", "SIZE", "TYPE", "AGENT", "CREATED", "EXPIRES"],
                page.Files.Select(f => (IReadOnlyList<string>)[f.FileId, f.Filename, f.Size.ToString(System.Globalization.CultureInfo.InvariantCulture), f.MimeType, f.AgentId ?? "-",
                    Output.Time(f.CreatedAt), f.ExpiresAt is null ? "-" : Output.Time(f.ExpiresAt)])));
            Console.WriteLine($"{page.Total} files, {page.StorageUsed} of {page.StorageLimit} bytes used");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Remove()
    {
        var id = new Argument<string>("file-id") { Description = "The file id." };
        var command = new Command("rm", "Delete a file.") { id };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            using var client = await ctx.UserClientAsync(ct);
            var deleted = await client.DeleteFileAsync(parse.GetRequiredValue(id), ct);
            Console.WriteLine($"deleted; {deleted.SpaceFreed} bytes freed");
            return ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>Passes progress on, keeping the first value (what a resumed upload found on the hub).</summary>
    private sealed class FirstReport(IProgress<long> inner) : IProgress<long>
    {
        public long? First { get; private set; }

        public void Report(long value)
        {
            First ??= value;
            inner.Report(value);
        }
    }

    /// <summary>A one-line progress bar on stderr when it is a terminal; silent otherwise (scripts, tests).</summary>
    private sealed class ProgressBar(string label, long total) : IProgress<long>
    {
        private readonly bool _enabled = !Console.IsErrorRedirected;
        private int _lastPercent = -1;

        public void Report(long value)
        {
            var percent = total <= 0 ? 100 : (int)(value * 100 / total);
            if (!_enabled || percent == _lastPercent)
            {
                return;
            }
            _lastPercent = percent;
            var filled = percent / 5;
            Console.Error.Write($"\r{label} [{new string('#', filled)}{new string('-', 20 - filled)}] {percent,3}% {value / 1048576.0:F1}/{total / 1048576.0:F1} MiB");
        }

        public void Done()
        {
            if (_enabled && _lastPercent >= 0)
            {
                Console.Error.WriteLine();
            }
        }
    }
}
