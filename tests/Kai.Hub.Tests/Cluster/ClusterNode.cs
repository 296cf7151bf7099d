using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;

namespace Kai.Hub.Tests.Cluster;

/// <summary>
/// One hub node as a real child process (<c>dotnet Kai.Hub.dll</c> of this test build's configuration) on PostgreSQL and
/// RabbitMQ: its own <c>Kai:NodeId</c> and port, the cluster's shared data directory (signing keys) and schema. Short leases,
/// sweeps and node timeout, so failover is observable in seconds.
/// </summary>
internal sealed class ClusterNode : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();

    private ClusterNode(Process process, string id, Uri baseAddress)
    {
        _process = process;
        Id = id;
        BaseAddress = baseAddress;
    }

    public string Id { get; }

    public Uri BaseAddress { get; }

    public bool Exited => _process.HasExited;

    public HttpClient Client(string? token = null)
    {
        var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return client;
    }

    public static async Task<ClusterNode> StartAsync(string id, string dataDir, string postgres, string rabbitMq, IReadOnlyList<string>? extra = null)
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Kai.sln")))
        {
            root = root.Parent;
        }
        Assert.NotNull(root);
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
        var dll = Path.Combine(root.FullName, "src", "Kai.Hub", "bin", configuration, "net10.0", "Kai.Hub.dll");
        Assert.True(File.Exists(dll), $"build the hub first: {dll}");
        var port = FreePort();
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        foreach (var arg in new[]
        {
            dll, "--urls", $"http://127.0.0.1:{port}", $"--Kai:DataDirectory={dataDir}", "--environment", "Production",
            "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information",
            $"--Kai:NodeId={id}", "--Kai:Store=postgres", $"--ConnectionStrings:Postgres={postgres}",
            "--Kai:Backplane=rabbitmq", $"--ConnectionStrings:RabbitMQ={rabbitMq}",
            "--Kai:Tasks:LeaseDuration=00:00:02", "--Kai:Tasks:Retry:BaseDelay=00:00:00.050", "--Kai:Links:SweepInterval=00:00:00.200",
            "--Kai:NodeTimeout=00:00:10",
        }.Concat(extra ?? []))
        {
            info.ArgumentList.Add(arg);
        }
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var node = new ClusterNode(process, id, new Uri($"http://127.0.0.1:{port}/"));
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data?.Contains("Now listening on", StringComparison.Ordinal) == true)
            {
                listening.TrySetResult();
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            lock (node._stderr)
            {
                node._stderr.AppendLine(e.Data);
            }
        };
        process.Exited += (_, _) => listening.TrySetException(new InvalidOperationException($"node {id} exited with {process.ExitCode}: {node.Stderr}"));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await listening.Task.WaitAsync(TimeSpan.FromSeconds(120));
        using var http = node.Client();
        await RabbitMqServer.UntilAsync(() => http.GetAsync("ready").Result.StatusCode == HttpStatusCode.OK, $"node {id} ready");
        return node;
    }

    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>SIGKILL: no drain, no goodbye to the store or the broker.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
    }

    /// <summary>SIGTERM (what an orchestrator sends): the node drains and exits.</summary>
    public async Task TerminateAsync()
    {
        if (!_process.HasExited)
        {
            using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        _process.Dispose();
        return ValueTask.CompletedTask;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>
/// A worker agent on a raw WebSocket: completes every task it receives, resends completions it has no answer for after a
/// reconnect, and counts deliveries per task (at least once: duplicates are allowed, loss is not).
/// </summary>
internal sealed class ClusterWorker(AgentCreatedResponse agent) : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly Dictionary<string, long> _unanswered = new(StringComparer.Ordinal);
    private readonly HashSet<string> _completed = new(StringComparer.Ordinal);
    private ClientWebSocket? _socket;
    private Task _loop = Task.CompletedTask;
    private TaskCompletionSource _progress = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ConcurrentDictionary<string, int> Deliveries { get; } = new(StringComparer.Ordinal);

    /// <summary>While set, tasks are received (and counted) but not completed: the worker holds its leases.</summary>
    public bool Hold { get; set; }

    /// <summary>Close status of the last link, once it ended (null while open, or when it broke without a close frame).</summary>
    public WebSocketCloseStatus? CloseStatus => _socket?.CloseStatus;

    public int Completed
    {
        get
        {
            lock (_gate)
            {
                return _completed.Count;
            }
        }
    }

    public bool HasCompleted(IEnumerable<string> ids)
    {
        lock (_gate)
        {
            return ids.All(_completed.Contains);
        }
    }

    /// <summary>Waits (event-driven, with a generous safety limit) until every id has an acknowledged completion.</summary>
    public async Task WaitForAsync(ICollection<string> ids, TimeSpan limit)
    {
        using var cts = new CancellationTokenSource(limit);
        while (true)
        {
            Task next;
            lock (_gate)
            {
                if (ids.All(_completed.Contains))
                {
                    return;
                }
                next = _progress.Task;
            }
            await next.WaitAsync(cts.Token);
        }
    }

    public async Task ConnectAsync(Uri baseAddress)
    {
        using var http = new HttpClient { BaseAddress = baseAddress };
        var res = await http.PostAsync("api/v1/auth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = agent.ClientId, ["client_secret"] = agent.ClientSecret,
        }));
        res.EnsureSuccessStatusCode();
        var token = (await res.Content.ReadFromJsonAsync<ClientTokenResponse>(KaiJson.Options))!.AccessToken;
        _socket?.Dispose();
        _socket = new ClientWebSocket();
        var uri = new UriBuilder(new Uri(baseAddress, $"ws/agents/{agent.AgentId}")) { Scheme = "ws", Query = "token=" + Uri.EscapeDataString(token) }.Uri;
        await _socket.ConnectAsync(uri, CancellationToken.None);
        List<KeyValuePair<string, long>> resend;
        lock (_gate)
        {
            resend = [.. _unanswered];
        }
        foreach (var (taskId, fencing) in resend)
        {
            await SendCompletionAsync(taskId, fencing);
        }
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Completes when the link ends (the node was killed or closed it).</summary>
    public Task Disconnected => _loop;

    private async Task RunAsync()
    {
        var buffer = new byte[256 * 1024];
        try
        {
            while (true)
            {
                using var ms = new MemoryStream();
                WebSocketReceiveResult r;
                do
                {
                    r = await _socket!.ReceiveAsync(buffer, CancellationToken.None);
                    if (r.MessageType == WebSocketMessageType.Close)
                    {
                        return;
                    }
                    ms.Write(buffer, 0, r.Count);
                }
                while (!r.EndOfMessage);
                var frame = Frame.Parse(ms.ToArray());
                if (frame.Type == FrameTypes.Task)
                {
                    var task = frame.PayloadAs<TaskPayload>()!;
                    Deliveries.AddOrUpdate(task.TaskId, 1, (_, n) => n + 1);
                    if (Hold)
                    {
                        continue;
                    }
                    lock (_gate)
                    {
                        _unanswered[task.TaskId] = task.FencingToken;
                    }
                    await SendCompletionAsync(task.TaskId, task.FencingToken);
                }
                else if (frame.Type is FrameTypes.Ack or FrameTypes.Error && frame.Id?.StartsWith("done:", StringComparison.Ordinal) == true)
                {
                    var taskId = frame.Id["done:".Length..frame.Id.LastIndexOf('#')];
                    lock (_gate)
                    {
                        if (_unanswered.TryGetValue(taskId, out var f) && frame.Id.EndsWith($"#{f}", StringComparison.Ordinal))
                        {
                            _unanswered.Remove(taskId);
                        }
                        if (frame.Type == FrameTypes.Ack && _completed.Add(taskId))
                        {
                            var progress = _progress;
                            _progress = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                            progress.TrySetResult();
                        }
                    }
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The node went away.
        }
    }

    private async Task SendCompletionAsync(string taskId, long fencing)
    {
        var text = JsonSerializer.Serialize(new
        {
            type = FrameTypes.TaskUpdate,
            id = $"done:{taskId}#{fencing}",
            timestamp = DateTimeOffset.UtcNow,
            payload = new TaskUpdatePayload(taskId, TaskStatuses.Completed, 100, JsonSerializer.SerializeToElement(taskId), FencingToken: fencing),
        }, KaiJson.Options);
        try
        {
            await _socket!.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);
        }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException)
        {
            // The link broke; the completion is resent after the reconnect.
        }
    }

    public async ValueTask DisposeAsync()
    {
        _socket?.Abort();
        _socket?.Dispose();
        await _loop;
    }
}
