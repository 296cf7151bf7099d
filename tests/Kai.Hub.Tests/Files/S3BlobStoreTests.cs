using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Kai.Hub.Files;
using Kai.Protocol;
using Kai.Testing;

namespace Kai.Hub.Tests.Files;

/// <summary>
/// The S3 backend against a real S3-compatible server: s3rver (npm), started here as a child process on a free port. CI installs it
/// with <c>.ci/setup/40-files.sh</c> and exports <c>KAI_S3RVER</c> (its bin script); the default path is
/// <c>/opt/kai-ci/s3rver/node_modules/.bin/s3rver</c>.
/// </summary>
public sealed class S3BlobStoreTests
{
    private static string? FindS3rver() =>
        ExternalServers.FindProgram("s3rver", Environment.GetEnvironmentVariable("KAI_S3RVER") ?? "", "/opt/kai-ci/s3rver/node_modules/.bin/s3rver");

    private sealed class S3rver : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "kai-s3rver-" + Guid.NewGuid().ToString("N"));

        public S3rver(string program)
        {
            Port = FreePort();
            Directory.CreateDirectory(_dir);
            var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { "--address", "127.0.0.1", "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--directory", _dir, "--silent" })
            {
                psi.ArgumentList.Add(a);
            }
            _process = Process.Start(psi)!;
            _process.OutputDataReceived += (_, _) => { };
            _process.ErrorDataReceived += (_, _) => { };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public int Port { get; }

        public string Url => $"http://127.0.0.1:{Port}";

        public async Task WaitReadyAsync()
        {
            using var http = new HttpClient();
            for (var i = 0; i < 100; i++)
            {
                try
                {
                    await http.GetAsync(Url);
                    return;
                }
                catch (HttpRequestException)
                {
                    Assert.False(_process.HasExited, "s3rver exited at start");
                    await Task.Delay(100);
                }
            }
            Assert.Fail("s3rver did not start listening");
        }

        /// <summary>Every object stored (s3rver keeps each object as a file with a metadata sidecar).</summary>
        public int ObjectCount() => Directory.EnumerateFiles(_dir, "*._S3rver_object", SearchOption.AllDirectories).Count();

        private static int FreePort()
        {
            using var l = new TcpListener(IPAddress.Loopback, 0);
            l.Start();
            return ((IPEndPoint)l.LocalEndpoint).Port;
        }

        public async ValueTask DisposeAsync()
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            _process.Dispose();
            Directory.Delete(_dir, recursive: true);
        }
    }

    [SkippableFact]
    public async Task Uploads_downloads_ranges_dedup_and_deletes_work_on_a_real_s3_server()
    {
        var program = FindS3rver();
        ExternalServers.Require(program is not null, "s3rver (npm install s3rver; .ci/setup/40-files.sh)");
        await using var s3 = new S3rver(program!);
        await s3.WaitReadyAsync();
        await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string>
        {
            ["Kai:Files:Backend"] = "s3",
            ["Kai:Files:S3:ServiceUrl"] = s3.Url,
            ["Kai:Files:S3:Bucket"] = "kai-test",
            ["Kai:Files:S3:AccessKey"] = "S3RVER",
            ["Kai:Files:S3:SecretKey"] = "S3RVER",
        });
        Assert.Equal("s3", hub.Service<IBlobStore>().Kind);
        var user = await hub.NewUserAsync();
        using var client = hub.Client(user.AccessToken);
        var data = FileKit.Random(2 * 1024 * 1024 + 5);
        var file = await FileKit.UploadAsync(client, data, "big.bin");
        var twin = await FileKit.UploadAsync(client, data, "twin.bin");
        Assert.Equal(1, s3.ObjectCount());
        // The bytes are in S3, not in the local blob directory; staging is empty again.
        Assert.Empty(FileKit.StoredFiles(hub));

        Assert.Equal(data, await client.GetByteArrayAsync(file.Url.TrimStart('/')));
        using var range = new HttpRequestMessage(HttpMethod.Get, file.Url.TrimStart('/'));
        range.Headers.Range = new RangeHeaderValue(1_000_000, 1_000_099);
        var partial = await client.SendAsync(range);
        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal(data[1_000_000..1_000_100], await partial.Content.ReadAsByteArrayAsync());

        var keys = new List<string>();
        await foreach (var k in hub.Service<IBlobStore>().ListAsync(CancellationToken.None))
        {
            keys.Add(k);
        }
        Assert.Equal([file.Sha256], keys);

        Assert.Equal(HttpStatusCode.OK, (await client.DeleteAsync($"api/v1/files/{file.FileId}")).StatusCode);
        Assert.Equal(1, s3.ObjectCount());
        Assert.Equal(HttpStatusCode.OK, (await client.DeleteAsync($"api/v1/files/{twin.FileId}")).StatusCode);
        Assert.Equal(0, s3.ObjectCount());
        var gone = await client.GetAsync(twin.Url.TrimStart('/'));
        Assert.Equal(ErrorCodes.NotFound, await FileKit.ErrorCodeAsync(gone));
    }
}
