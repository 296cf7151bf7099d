using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Kai.Hub.Tests.A2a;

/// <summary>One push notification as the receiver saw it.</summary>
internal sealed record PushCall(string Path, string? Authorization, string? Token, string? ContentType, JsonElement Body, int Status)
{
    /// <summary>The Task of the body: <c>body.task</c> (1.0 StreamResponse) or the body itself (0.3).</summary>
    public JsonElement Task => Body.TryGetProperty("task", out var t) ? t : Body;

    public string State => Task.GetProperty("status").GetProperty("state").GetString()!;
}

/// <summary>
/// A client's webhook: a second real Kestrel app on 127.0.0.1:0 that records every POST. <c>/fail-once/*</c> answers 503 the
/// first time per path, <c>/down</c> always 503, <c>/reject</c> always 401; anything else 200.
/// </summary>
internal sealed class PushReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, int> _attempts = new(StringComparer.Ordinal);

    private PushReceiver(WebApplication app) => _app = app;

    public string BaseUrl { get; private set; } = "";

    private readonly ConcurrentDictionary<string, Channel<PushCall>> _calls = new(StringComparer.Ordinal);

    /// <summary>Every call to one path, in arrival order (failed ones too, with their status).</summary>
    public Channel<PushCall> Calls(string path) => _calls.GetOrAdd(path, _ => Channel.CreateUnbounded<PushCall>());

    public int Attempts(string path) => _attempts.GetValueOrDefault(path);

    public static async Task<PushReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new PushReceiver(app);
        app.Run(async http =>
        {
            var path = http.Request.Path.Value ?? "/";
            var attempt = receiver._attempts.AddOrUpdate(path, 1, (_, n) => n + 1);
            var body = await new StreamReader(http.Request.Body).ReadToEndAsync();
            var status = path switch
            {
                "/down" => 503,
                "/reject" => 401,
                _ when path.StartsWith("/fail-once", StringComparison.Ordinal) && attempt == 1 => 503,
                _ => 200,
            };
            http.Response.StatusCode = status;
            receiver.Calls(path).Writer.TryWrite(new PushCall(path, http.Request.Headers.Authorization.FirstOrDefault(),
                http.Request.Headers["X-A2A-Notification-Token"].FirstOrDefault(), http.Request.ContentType,
                JsonDocument.Parse(body).RootElement.Clone(), status));
        });
        await app.StartAsync();
        receiver.BaseUrl = app.Urls.First().TrimEnd('/');
        return receiver;
    }

    /// <summary>The next call to <paramref name="path"/>, waiting at most a minute; <paramref name="tick"/> runs while it waits (to move a fake clock).</summary>
    public async Task<PushCall> NextAsync(string path, Action? tick = null)
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var read = Calls(path).Reader.ReadAsync(guard.Token).AsTask();
        while (tick is not null && !read.IsCompleted)
        {
            tick();
            await System.Threading.Tasks.Task.WhenAny(read, System.Threading.Tasks.Task.Delay(20));
        }
        return await read;
    }

    /// <summary>Calls to <paramref name="path"/> until one carries <paramref name="state"/>.</summary>
    public async Task<PushCall> UntilStateAsync(string path, string state, Action? tick = null)
    {
        while (true)
        {
            var call = await NextAsync(path, tick);
            if (call.Status == 200 && call.State == state)
            {
                return call;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
