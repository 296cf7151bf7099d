using System.Runtime.CompilerServices;
using Kai.Protocol.Events;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Client.Tests;

/// <summary>Prompt streams end to end: an <see cref="AgentHost"/> streaming handler, read by <see cref="PromptStream"/>.</summary>
public sealed class StreamTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    private static async Task<(HubClient Owner, AgentHost Host)> SetUpAsync(TestHub hub, string agentId)
    {
        var owner = new HubClient(hub.BaseAddress);
        var email = $"s{Guid.NewGuid():N}@example.com";
        await owner.RegisterAsync(email, "stream-password-1", "Streams");
        await owner.LoginAsync(email, "stream-password-1");
        var created = await owner.RegisterAgentAsync(new RegisterAgentRequest(agentId, "streamer", agentId, "1.0", [], null, null));
        var host = new AgentHost(new AgentHostOptions
        {
            Credentials = new AgentCredentials(owner.BaseAddress.ToString(), created.AgentId, created.ClientId, created.ClientSecret),
            ReconnectDelay = TimeSpan.FromMilliseconds(50),
        });
        return (owner, host);
    }

    private static async IAsyncEnumerable<string> Words(string prompt, [EnumeratorCancellation] CancellationToken ct)
    {
        foreach (var word in prompt.Split(' '))
        {
            ct.ThrowIfCancellationRequested();
            await Task.Yield();
            yield return word;
        }
    }

    [Fact]
    public async Task Chunks_arrive_in_order_and_the_stream_completes()
    {
        await using var hub = await TestHub.StartAsync();
        var (owner, host) = await SetUpAsync(hub, "echo");
        using var _ = owner;
        await using var __ = host;
        host.OnStream((p, ct) => Words(p.Prompt, ct));
        using var stop = new CancellationTokenSource();
        var run = host.RunAsync(stop.Token);
        await host.WaitConnectedAsync().WaitAsync(Wait);

        var words = Enumerable.Range(0, 50).Select(i => $"w{i}").ToList();
        await using var stream = await owner.StartStreamAsync("echo", string.Join(' ', words));
        using var cts = new CancellationTokenSource(Wait);
        var chunks = new List<StreamChunkPayload>();
        await foreach (var chunk in stream.ReadChunksAsync(cts.Token))
        {
            chunks.Add(chunk);
        }

        Assert.Equal("completed", stream.Outcome);
        Assert.Equal(Enumerable.Range(0, 51), chunks.Select(c => c.ChunkIndex));
        Assert.Equal(words, chunks.Where(c => !c.IsFinal).Select(c => c.Chunk));
        Assert.True(chunks[^1].IsFinal);
        await stop.CancelAsync();
        await run.WaitAsync(Wait);
    }

    [Fact]
    public async Task Pause_stops_pulling_from_the_handler_until_resume_and_cancel_stops_it()
    {
        await using var hub = await TestHub.StartAsync();
        var (owner, host) = await SetUpAsync(hub, "counter");
        using var _ = owner;
        await using var __ = host;
        var pulled = 0;
        var handlerCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        host.OnStream((_, ct) => Count(ct));
        using var stop = new CancellationTokenSource();
        var run = host.RunAsync(stop.Token);
        await host.WaitConnectedAsync().WaitAsync(Wait);

        await using var stream = await owner.StartStreamAsync("counter", "count");
        using var cts = new CancellationTokenSource(Wait);
        await using var chunks = stream.ReadChunksAsync(cts.Token).GetAsyncEnumerator(cts.Token);
        Assert.True(await chunks.MoveNextAsync());
        Assert.Equal(0, chunks.Current.ChunkIndex);

        var paused = await stream.PauseAsync(cts.Token);
        Assert.Equal("paused", paused.State);
        // Once the pause reached the agent, the handler is not asked for more: the count stops moving.
        await PollStableAsync(() => Volatile.Read(ref pulled));
        var atPause = Volatile.Read(ref pulled);
        Assert.True(atPause < 1000);

        Assert.Equal("running", (await stream.ResumeAsync(cts.Token)).State);
        var previous = chunks.Current.ChunkIndex;
        for (var i = 0; i < 5; i++)
        {
            Assert.True(await chunks.MoveNextAsync());
            Assert.Equal(previous + 1, chunks.Current.ChunkIndex);
            previous = chunks.Current.ChunkIndex;
        }
        await EventsTests.PollAsync(() => Volatile.Read(ref pulled) > atPause, "pulling after resume");

        await stream.CancelAsync(cts.Token);
        await handlerCancelled.Task.WaitAsync(Wait);
        while (await chunks.MoveNextAsync())
        {
            Assert.False(chunks.Current.IsFinal);
        }
        Assert.Equal("cancelled", stream.Outcome);
        Assert.Equal("observer", stream.CancelReason);

        await stop.CancelAsync();
        await run.WaitAsync(Wait);

        async IAsyncEnumerable<string> Count([EnumeratorCancellation] CancellationToken ct)
        {
            try
            {
                for (var i = 0; i < 1000; i++)
                {
                    await Task.Delay(5, ct);
                    Interlocked.Increment(ref pulled);
                    yield return i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                }
            }
            finally
            {
                if (ct.IsCancellationRequested)
                {
                    handlerCancelled.TrySetResult();
                }
            }
        }
    }

    [Fact]
    public async Task A_reader_that_reconnects_resumes_from_the_next_chunk()
    {
        await using var hub = await TestHub.StartAsync();
        var (owner, host) = await SetUpAsync(hub, "slow");
        using var _ = owner;
        await using var __ = host;
        var gate = new SemaphoreSlim(0);
        host.OnStream((_, ct) => Gated(ct));
        using var stop = new CancellationTokenSource();
        var run = host.RunAsync(stop.Token);
        await host.WaitConnectedAsync().WaitAsync(Wait);

        await using var stream = await owner.StartStreamAsync("slow", "go");
        var reconnects = 0;
        stream.Reconnecting += _ => Interlocked.Increment(ref reconnects);
        using var cts = new CancellationTokenSource(Wait);
        var texts = new List<string>();
        gate.Release(3);
        await foreach (var text in stream.ReadAllAsync(cts.Token))
        {
            texts.Add(text);
            if (texts.Count == 3)
            {
                // Drop every observer link; the stream must come back and continue at chunk 3.
                foreach (var link in hub.Service<Kai.Hub.Routing.ConnectionRegistry>().ObserverLinks.ToList())
                {
                    link.RequestClose(Kai.Protocol.CloseCodes.GenericError, "test drop");
                }
                gate.Release(3);
            }
        }

        Assert.Equal(["c0", "c1", "c2", "c3", "c4", "c5"], texts);
        Assert.True(Volatile.Read(ref reconnects) > 0);
        Assert.Equal("completed", stream.Outcome);
        await stop.CancelAsync();
        await run.WaitAsync(Wait);

        async IAsyncEnumerable<string> Gated([EnumeratorCancellation] CancellationToken ct)
        {
            for (var i = 0; i < 6; i++)
            {
                await gate.WaitAsync(ct);
                yield return $"c{i}";
            }
        }
    }

    /// <summary>Polls until <paramref name="read"/> returns the same value for 300 ms in a row (10 s deadline).</summary>
    private static async Task PollStableAsync(Func<int> read)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        var last = read();
        var since = DateTime.UtcNow;
        while (DateTime.UtcNow - since < TimeSpan.FromMilliseconds(300))
        {
            Assert.True(DateTime.UtcNow < deadline, "the handler kept being pulled during the pause");
            await Task.Delay(20);
            var now = read();
            if (now != last)
            {
                (last, since) = (now, DateTime.UtcNow);
            }
        }
    }
}
