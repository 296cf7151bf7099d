using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Kai.Hub.Tests.Cluster;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;
using Xunit.Abstractions;

namespace Kai.Hub.Tests.Tasks;

/// <summary>
/// Durability: the hub runs as a real child process, is killed with SIGKILL under load, and restarts on the same data directory.
/// Every task that got a 201 must reach <c>completed</c>; duplicate deliveries are allowed (at least once) and counted.
/// </summary>
public sealed class CrashTests(ITestOutputHelper output)
{
    private const int Producers = 4;
    private const int TasksPerProducer = 60;
    private const int KillAfterAcks = 90;

    [Fact]
    public async Task Acknowledged_tasks_survive_kill_9_and_all_complete()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "kai-tests", "crash-" + Guid.NewGuid().ToString("N"));
        var acked = new ConcurrentDictionary<string, bool>(StringComparer.Ordinal);
        ClusterWorker? worker = null;
        HubProcess? hub = null;
        try
        {
            hub = await HubProcess.StartAsync(dataDir);
            using var api = new HttpClient { BaseAddress = hub.BaseAddress };
            var email = $"crash{Guid.NewGuid():N}@example.com";
            (await api.PostAsJsonAsync("api/v1/auth/register", new RegisterRequest(email, "correct-horse-battery", "Crash", true), KaiJson.Options)).EnsureSuccessStatusCode();
            var token = await LoginAsync(api, email);
            api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            var config = JsonSerializer.SerializeToElement(new Dictionary<string, int> { ["max_concurrent_tasks"] = 20 });
            var reg = await api.PostAsJsonAsync("api/v1/agents/register", new RegisterAgentRequest(null, "crash", "crash-worker", "1", [], null, config), KaiJson.Options);
            reg.EnsureSuccessStatusCode();
            worker = new ClusterWorker((await reg.Content.ReadFromJsonAsync<AgentCreatedResponse>(KaiJson.Options))!);
            await worker.ConnectAsync(hub.BaseAddress);

            // Producers enqueue under load; at KillAfterAcks acknowledgements the hub is killed mid-stream.
            var killed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var producers = Enumerable.Range(0, Producers).Select(p => Task.Run(async () =>
            {
                for (var i = 0; i < TasksPerProducer && !killed.Task.IsCompleted; i++)
                {
                    var id = $"crash-{p}-{i}";
                    try
                    {
                        using var req = new HttpRequestMessage(HttpMethod.Post, "api/v1/tasks")
                        {
                            Content = JsonContent.Create(new CreateTaskRequest(id, "crash", RetryPolicy: new RetryPolicy(10, "none")), options: KaiJson.Options),
                        };
                        req.Headers.Add("Idempotency-Key", id);
                        using var res = await api.SendAsync(req);
                        if (res.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK)
                        {
                            acked[id] = true;
                            if (acked.Count >= KillAfterAcks)
                            {
                                killed.TrySetResult();
                            }
                        }
                    }
                    catch (HttpRequestException)
                    {
                        return; // the hub is gone: this request was never acknowledged
                    }
                }
            })).ToList();
            await killed.Task.WaitAsync(TimeSpan.FromSeconds(120));
            hub.Kill();
            await Task.WhenAll(producers);
            var ackedAtKill = acked.Count;
            await worker.Disconnected;

            // Restart on the same data directory; the worker reconnects and re-sends completions it has no answer for.
            hub = await HubProcess.StartAsync(dataDir);
            using var api2 = new HttpClient { BaseAddress = hub.BaseAddress };
            api2.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await LoginAsync(api2, email));
            await worker.ConnectAsync(hub.BaseAddress);
            await worker.WaitForAsync(acked.Keys, TimeSpan.FromSeconds(120));

            foreach (var id in acked.Keys)
            {
                var task = (await api2.GetFromJsonAsync<TaskView>($"api/v1/tasks/{id}", KaiJson.Options))!;
                Assert.Equal(TaskStatuses.Completed, task.Status);
            }
            var duplicates = worker.Deliveries.Values.Sum(n => n - 1);
            output.WriteLine($"acknowledged {ackedAtKill} tasks before kill -9; all completed after restart; " +
                $"{worker.Deliveries.Count} tasks delivered {worker.Deliveries.Values.Sum()} times ({duplicates} duplicate deliveries)");
            Assert.True(ackedAtKill >= KillAfterAcks);
            Assert.True(duplicates >= 0);
        }
        finally
        {
            if (worker is not null)
            {
                await worker.DisposeAsync();
            }
            hub?.Kill();
            try
            {
                Directory.Delete(dataDir, recursive: true);
            }
            catch (IOException)
            {
                // Best effort.
            }
        }
    }

    private static async Task<string> LoginAsync(HttpClient api, string email)
    {
        var login = await api.PostAsJsonAsync("api/v1/auth/login", new LoginRequest(email, "correct-horse-battery"), KaiJson.Options);
        login.EnsureSuccessStatusCode();
        return (await login.Content.ReadFromJsonAsync<TokenResponse>(KaiJson.Options))!.AccessToken;
    }

    /// <summary>The hub as a child process: <c>dotnet Kai.Hub.dll</c> of the same build configuration as this test assembly.</summary>
    private sealed class HubProcess
    {
        private readonly Process _process;

        private HubProcess(Process process, Uri baseAddress)
        {
            _process = process;
            BaseAddress = baseAddress;
        }

        public Uri BaseAddress { get; }

        public static async Task<HubProcess> StartAsync(string dataDir)
        {
            var root = new DirectoryInfo(AppContext.BaseDirectory);
            while (root is not null && !File.Exists(Path.Combine(root.FullName, "Kai.sln")))
            {
                root = root.Parent;
            }
            Assert.NotNull(root);
            // .../tests/Kai.Hub.Tests/bin/<Configuration>/net10.0/
            var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
            var dll = Path.Combine(root.FullName, "src", "Kai.Hub", "bin", configuration, "net10.0", "Kai.Hub.dll");
            Assert.True(File.Exists(dll), $"build the hub first: {dll}");
            var port = FreePort();
            var info = new ProcessStartInfo("dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = Path.GetDirectoryName(dll)!,
            };
            foreach (var arg in new[]
            {
                dll, "--urls", $"http://127.0.0.1:{port}", $"--Kai:DataDirectory={dataDir}", "--environment", "Production",
                "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information",
                "--Kai:Tasks:LeaseDuration=00:00:02", "--Kai:Tasks:Retry:BaseDelay=00:00:00.050", "--Kai:Links:SweepInterval=00:00:00.200",
            })
            {
                info.ArgumentList.Add(arg);
            }
            var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var process = new Process { StartInfo = info };
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data?.Contains("Now listening on", StringComparison.Ordinal) == true)
                {
                    listening.TrySetResult();
                }
            };
            process.ErrorDataReceived += (_, _) => { };
            process.Exited += (_, _) => listening.TrySetException(new InvalidOperationException($"the hub exited with {process.ExitCode}"));
            process.EnableRaisingEvents = true;
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            await listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
            return new HubProcess(process, new Uri($"http://127.0.0.1:{port}/"));
        }

        /// <summary>SIGKILL: no shutdown hooks, no flush; what is on disk is all there is.</summary>
        public void Kill()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
            }
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
    }
}
