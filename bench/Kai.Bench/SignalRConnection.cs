using System.IO.Pipelines;
using System.Net;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace Kai.Bench;

/// <summary>
/// A SignalR client transport over one WebSocket: the package with SignalR's own client transports
/// (Microsoft.AspNetCore.Http.Connections.Client) is not in the registry here, so HubConnection (from
/// SignalR.Client.Core) gets this factory instead. It connects straight to the hub's WebSocket endpoint, which
/// ASP.NET Core allows without negotiation when WebSockets is the transport (SignalR's SkipNegotiation). Each pipe
/// flush goes out as one text message; incoming messages are copied into the input pipe.
/// </summary>
internal sealed class WebSocketConnectionFactory(Func<Uri> uri) : IConnectionFactory
{
    public async ValueTask<ConnectionContext> ConnectAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var ws = await Loopback.WebSocketAsync(uri(), cancellationToken);
        return new WebSocketConnection(ws);
    }

    private sealed class WebSocketConnection : ConnectionContext
    {
        private readonly ClientWebSocket _ws;
        private readonly Pipe _input = new(new PipeOptions(useSynchronizationContext: false));
        private readonly Pipe _output = new(new PipeOptions(useSynchronizationContext: false));
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _receive;
        private readonly Task _send;

        public WebSocketConnection(ClientWebSocket ws)
        {
            _ws = ws;
            Transport = new Duplex(_input.Reader, _output.Writer);
            _receive = Task.Run(ReceiveAsync);
            _send = Task.Run(SendAsync);
        }

        private sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
        {
            public PipeReader Input { get; } = input;
            public PipeWriter Output { get; } = output;
        }

        public override IDuplexPipe Transport { get; set; }
        public override string ConnectionId { get; set; } = Guid.NewGuid().ToString("N");
        public override IFeatureCollection Features { get; } = new FeatureCollection();
        public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();

        private async Task ReceiveAsync()
        {
            try
            {
                while (true)
                {
                    var memory = _input.Writer.GetMemory(4096);
                    var r = await _ws.ReceiveAsync(memory, _stop.Token);
                    if (r.MessageType == WebSocketMessageType.Close)
                    {
                        break;
                    }
                    _input.Writer.Advance(r.Count);
                    if (r.EndOfMessage && (await _input.Writer.FlushAsync()).IsCompleted)
                    {
                        break;
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
            {
                // Closed.
            }
            await _input.Writer.CompleteAsync();
        }

        private async Task SendAsync()
        {
            try
            {
                while (true)
                {
                    var read = await _output.Reader.ReadAsync(_stop.Token);
                    foreach (var segment in read.Buffer)
                    {
                        // SignalR's JSON protocol frames messages with a record separator, so message boundaries on the
                        // WebSocket do not matter; one text message per segment is fine.
                        await _ws.SendAsync(segment, WebSocketMessageType.Text, true, _stop.Token);
                    }
                    _output.Reader.AdvanceTo(read.Buffer.End);
                    if (read.IsCompleted)
                    {
                        break;
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
            {
                // Closed.
            }
            await _output.Reader.CompleteAsync();
        }

        public override async ValueTask DisposeAsync()
        {
            try
            {
                using var t = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                if (_ws.State == WebSocketState.Open)
                {
                    await _ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", t.Token);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
            {
                // Abort below.
            }
            await _stop.CancelAsync();
            _ws.Abort();
            await Task.WhenAll(_receive, _send).WaitAsync(TimeSpan.FromSeconds(2)).ContinueWith(_ => { }, TaskScheduler.Default);
            _ws.Dispose();
            _stop.Dispose();
        }
    }
}
