using Microsoft.Extensions.Time.Testing;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Hub.Housekeeping;
using Kai.Hub.Observability;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Hub.Tests.Tasks;

/// <summary>A hub on a fake clock, one user, and helpers to run agents over raw WebSockets.</summary>
internal sealed class TaskKit : IAsyncDisposable
{
    private int _frameId;

    private TaskKit(TestHub hub, FakeTimeProvider time, TokenResponse user)
    {
        Hub = hub;
        Time = time;
        User = user;
        Api = hub.Client(user.AccessToken);
    }

    public TestHub Hub { get; }

    public FakeTimeProvider Time { get; }

    public TokenResponse User { get; }

    public HttpClient Api { get; }

    /// <summary>A hub on a fake clock with a new user; <paramref name="dataDirectory"/> and <paramref name="keepData"/> let a test restart on the same data.</summary>
    public static async Task<TaskKit> StartAsync(IDictionary<string, string>? settings = null, string? dataDirectory = null, bool keepData = false)
    {
        var time = TestClock.Create();
        var hub = await TestHub.StartAsync(time, dataDirectory, keepData, settings);
        return new TaskKit(hub, time, await hub.NewUserAsync());
    }

    /// <summary>Moves the clock and runs one housekeeping sweep (leases, timeouts, backoffs, delays, schedules, dispatch).</summary>
    public async Task AdvanceAsync(TimeSpan by)
    {
        Time.Advance(by);
        await Hub.Service<HubSweeper>().SweepOnceAsync(CancellationToken.None);
    }

    public async Task<AgentCreatedResponse> NewAgentAsync(string type, int maxConcurrent = 5, string? token = null, params string[] capabilities)
    {
        using var client = Hub.Client(token ?? User.AccessToken);
        var config = JsonSerializer.SerializeToElement(new Dictionary<string, int> { ["max_concurrent_tasks"] = maxConcurrent });
        var res = await client.PostAsJsonAsync("api/v1/agents/register",
            new RegisterAgentRequest(null, type, type + "-agent", "1.0.0", capabilities, null, config), KaiJson.Options);
        res.EnsureSuccessStatusCode();
        return (await res.Content.ReadFromJsonAsync<AgentCreatedResponse>(KaiJson.Options))!;
    }

    public async Task<(AgentCreatedResponse Agent, TestSocket Socket)> NewWorkerAsync(string type, int maxConcurrent = 5, params string[] capabilities)
    {
        var agent = await NewAgentAsync(type, maxConcurrent, null, capabilities);
        return (agent, await Hub.ConnectAgentAsync(agent));
    }

    public async Task<HttpResponseMessage> PostTaskAsync(CreateTaskRequest request, string? idempotencyKey = null, HttpClient? client = null)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, "api/v1/tasks") { Content = JsonContent.Create(request, options: KaiJson.Options) };
        if (idempotencyKey is not null)
        {
            message.Headers.Add("Idempotency-Key", idempotencyKey);
        }
        return await (client ?? Api).SendAsync(message);
    }

    public async Task<TaskView> CreateTaskAsync(CreateTaskRequest request)
    {
        var res = await PostTaskAsync(request);
        Assert.Equal(HttpStatusCode.Created, res.StatusCode);
        return (await res.Content.ReadFromJsonAsync<TaskView>(KaiJson.Options))!;
    }

    public async Task<TaskView> GetTaskAsync(string taskId) =>
        (await Api.GetFromJsonAsync<TaskView>($"api/v1/tasks/{taskId}", KaiJson.Options))!;

    public async Task<TaskListResponse> ListTasksAsync(string query = "") =>
        (await Api.GetFromJsonAsync<TaskListResponse>($"api/v1/tasks{query}", KaiJson.Options))!;

    // Frames that arrived while a helper waited for something else (a task frame can come before the ack of the update that freed the capacity).
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<TestSocket, List<Frame>> Buffered = [];

    public static async Task<TaskPayload> ReceiveTaskAsync(TestSocket socket) =>
        (await ReceiveAsync(socket, FrameTypes.Task)).PayloadAs<TaskPayload>()!;

    /// <summary>The next frame of <paramref name="type"/>, from the buffer first.</summary>
    public static async Task<Frame> ReceiveAsync(TestSocket socket, string type)
    {
        var buffer = Buffered.GetOrCreateValue(socket);
        lock (buffer)
        {
            var i = buffer.FindIndex(f => f.Type == type);
            if (i >= 0)
            {
                var found = buffer[i];
                buffer.RemoveAt(i);
                return found;
            }
        }
        return await socket.ReceiveAsync(type);
    }

    /// <summary>Sends a <c>task_update</c> with an id and returns the hub's answer (<c>ack</c> or <c>error</c>).</summary>
    /// <remarks>With <paramref name="tokenless"/>, neither <c>attempt</c> nor <c>fencing_token</c> is sent (issue 10 item 7).</remarks>
    public async Task<Frame> ReportAsync(
        TestSocket socket, TaskPayload task, string status, object? result = null, string? error = null, int? progress = null, long? fencingToken = null, bool tokenless = false)
    {
        var id = "u" + Interlocked.Increment(ref _frameId);
        await socket.SendAsync(FrameTypes.TaskUpdate, new TaskUpdatePayload(task.TaskId, status, progress,
            result is null ? null : JsonSerializer.SerializeToElement(result, KaiJson.Options), error,
            tokenless ? null : task.Attempt, tokenless ? null : fencingToken ?? task.FencingToken), id);
        while (true)
        {
            var frame = await socket.ReceiveAsync();
            if (frame.Id == id && frame.Type is FrameTypes.Ack or FrameTypes.Error)
            {
                return frame;
            }
            var buffer = Buffered.GetOrCreateValue(socket);
            lock (buffer)
            {
                buffer.Add(frame);
            }
        }
    }

    public async Task CompleteAsync(TestSocket socket, TaskPayload task, object? result = null)
    {
        var answer = await ReportAsync(socket, task, TaskStatuses.Completed, result ?? new { ok = true });
        Assert.Equal(FrameTypes.Ack, answer.Type);
    }

    public static async Task AssertErrorAsync(HttpResponseMessage res, HttpStatusCode status, string code)
    {
        Assert.Equal(status, res.StatusCode);
        using var doc = JsonDocument.Parse(await res.Content.ReadAsStringAsync());
        Assert.Equal(code, doc.RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    public async ValueTask DisposeAsync()
    {
        Api.Dispose();
        await Hub.DisposeAsync();
    }
}
