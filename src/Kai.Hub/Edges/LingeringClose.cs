using System.Net.WebSockets;
using Microsoft.AspNetCore.Http.Features;

namespace Kai.Hub.Edges;

/// <summary>
/// A lingering close for WebSocket links whose close handshake did not finish. When the framework's WebSocket fails a link itself
/// (1007 for invalid UTF-8, 1002 for a bad frame header) it sends its close frame and at once disposes the upgraded stream; the request
/// then ends with the client's unread bytes in the kernel's receive buffer, and the kernel answers those with a TCP reset. A client
/// that is still sending loses the close frame and its reason (found by bench/fuzz.sh; docs/security.md "Fuzzing").
/// </summary>
/// <remarks>
/// <para>The middleware wraps the upgrade so that disposing the upgraded stream is deferred; the edge host calls
/// <see cref="FinishAsync"/> last. A link that closed cleanly is released at once. Otherwise what the peer still sends is read and
/// dropped until it falls quiet for <see cref="QuietPeriod"/> (it has answered the close and stopped), closes, sends more than
/// <see cref="MaxDrainBytes"/>, or <see cref="Grace"/> runs out; only then is the transport released, and it ends with FIN.</para>
/// <para>An abort is deferred the same way. Whenever a server WebSocket enters the <c>Aborted</c> state (an explicit
/// <c>Abort()</c>, a cancelled receive or send, a frame rejected after our close frame went out), ASP.NET Core aborts the
/// HTTP context (its <c>ServerWebSocket</c> and <c>AbortStream</c>), and Kestrel resets the connection at once: the close frame
/// already sent is destroyed with the client's unread bytes. The middleware therefore also wraps
/// <see cref="IHttpRequestLifetimeFeature"/>: after the upgrade, <c>Abort()</c> is recorded and carried out by
/// <see cref="FinishAsync"/> after the drain, when nothing is left unread and the close ends with FIN. Before the upgrade, and
/// after <see cref="FinishAsync"/>, it aborts at once.</para>
/// </remarks>
public static class LingeringClose
{
    /// <summary>How long the peer may stay silent before the drain ends (it has read the close frame and stopped). A still-sending
    /// peer can pause for a round trip or a scheduling stall between frames (250 ms lost the close on a loaded CI machine).</summary>
    public static readonly TimeSpan QuietPeriod = TimeSpan.FromSeconds(1);

    /// <summary>The longest a drain lasts.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(5);

    /// <summary>The most bytes a drain reads before it gives up (a peer that floods gets its reset). Above the 1 MiB frame limit
    /// plus what a client may have in flight when it learns of the close; reading it costs little beside the <see cref="Grace"/> bound.</summary>
    public const int MaxDrainBytes = 8 << 20;

    /// <summary>Wraps every WebSocket upgrade so that its stream can linger. Runs before <c>UseWebSockets</c>.</summary>
    public static IApplicationBuilder UseKaiLingeringClose(this IApplicationBuilder app) => app.Use((http, next) =>
    {
        if (http.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true } upgrade
            && http.Features.Get<IHttpRequestLifetimeFeature>() is { } lifetime)
        {
            var lingering = new LingeringUpgradeFeature(upgrade, lifetime);
            http.Features.Set<IHttpUpgradeFeature>(lingering);
            http.Features.Set(lingering);
            http.Features.Set<IHttpRequestLifetimeFeature>(new LingeringLifetimeFeature(lifetime, lingering));
        }
        return next(http);
    });

    /// <summary>
    /// Ends a WebSocket request's transport: released at once when the close handshake finished, drained first when it did not
    /// (state <c>Aborted</c> or <c>CloseSent</c>). Never throws.
    /// </summary>
    public static Task FinishAsync(HttpContext http, WebSocket socket) =>
        http.Features.Get<LingeringUpgradeFeature>()?.Stream is { } stream
            ? stream.FinishAsync(drain: socket.State is WebSocketState.Aborted or WebSocketState.CloseSent)
            : Task.CompletedTask;

    internal sealed class LingeringUpgradeFeature(IHttpUpgradeFeature inner, IHttpRequestLifetimeFeature lifetime) : IHttpUpgradeFeature
    {
        public LingeringStream? Stream { get; private set; }

        public bool IsUpgradableRequest => inner.IsUpgradableRequest;

        public async Task<Stream> UpgradeAsync()
        {
            Stream = new LingeringStream(await inner.UpgradeAsync(), lifetime.Abort);
            return Stream;
        }
    }

    /// <summary>The request's lifetime, whose <c>Abort()</c> waits for the upgraded stream's <see cref="LingeringStream.FinishAsync"/>.</summary>
    internal sealed class LingeringLifetimeFeature(IHttpRequestLifetimeFeature inner, LingeringUpgradeFeature upgrade) : IHttpRequestLifetimeFeature
    {
        public CancellationToken RequestAborted
        {
            get => inner.RequestAborted;
            set => inner.RequestAborted = value;
        }

        public void Abort()
        {
            if (upgrade.Stream is not { } stream || !stream.DeferAbort())
            {
                inner.Abort();
            }
        }
    }

    /// <summary>Passes everything through, except that disposing and aborting wait for <see cref="FinishAsync"/>.</summary>
    internal sealed class LingeringStream(Stream inner, Action abort) : Stream
    {
        private readonly Lock _gate = new();
        private bool _finishing;
        private bool _finished;
        private bool _abortRequested;

        public override bool CanRead => inner.CanRead;
        public override bool CanSeek => false;
        public override bool CanWrite => inner.CanWrite;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);
        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => inner.WriteAsync(buffer, cancellationToken);
        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.WriteAsync(buffer, offset, count, cancellationToken);
        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        // The WebSocket disposes its stream when it closes or fails; the edge host decides when the transport goes (FinishAsync).
        protected override void Dispose(bool disposing)
        {
        }

        public override ValueTask DisposeAsync() => ValueTask.CompletedTask;

        /// <summary>Records an abort for <see cref="FinishAsync"/> to carry out; false once finished (the caller aborts at once).</summary>
        public bool DeferAbort()
        {
            lock (_gate)
            {
                if (_finished)
                {
                    return false;
                }
                _abortRequested = true;
                return true;
            }
        }

        public async Task FinishAsync(bool drain)
        {
            lock (_gate)
            {
                if (_finishing)
                {
                    return;
                }
                _finishing = true;
            }
            if (drain)
            {
                await DrainAsync();
            }
            bool abortNow;
            lock (_gate)
            {
                _finished = true;
                abortNow = _abortRequested;
            }
            if (abortNow)
            {
                // Nothing is left unread now, so the abort ends the connection without destroying what was sent.
                abort();
            }
            await inner.DisposeAsync();
        }

        private async Task DrainAsync()
        {
            var scratch = new byte[16 * 1024];
            var total = 0;
            using var grace = new CancellationTokenSource(Grace);
            try
            {
                while (total < MaxDrainBytes)
                {
                    using var quiet = CancellationTokenSource.CreateLinkedTokenSource(grace.Token);
                    quiet.CancelAfter(QuietPeriod);
                    var read = await inner.ReadAsync(scratch, quiet.Token);
                    if (read == 0)
                    {
                        return;
                    }
                    total += read;
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
            {
                // Quiet, out of time, or the peer is gone: the transport can go.
            }
        }
    }
}
