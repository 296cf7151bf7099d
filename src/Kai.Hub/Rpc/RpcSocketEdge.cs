using System.Text.Json;
using Kai.Hub.Auth;
using Kai.Hub.Edges;
using Kai.Hub.Routing;
using Kai.Protocol;
using Kai.Protocol.Rpc;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Rpc;

/// <summary>
/// <c>/ws/rpc</c> (seed 001 §3, "WebSocket" and "local JSON-RPC"): each text message is an AMRI request envelope or a JSON-RPC 2.0
/// request or batch, answered by one text message (AMRI response envelope, JSON-RPC response or batch). Many requests are in flight at
/// once; answers come in completion order and are matched by <c>id</c>. There is no welcome and there are no hub frames on this link.
/// </summary>
internal sealed class RpcSocketEdge(RpcMessages messages, IOptions<RpcOptions> options, TimeProvider time) : IWebSocketEdge
{
    public ValueTask<LinkAdmission> AdmitAsync(HttpContext http, KaiPrincipal principal, CancellationToken ct) =>
        ValueTask.FromResult(principal.Can(Permissions.RpcCall)
            ? new LinkAdmission(principal.Id, principal.OwnerId, LinkRole.Events, "rpc-link")
            : LinkAdmission.Refuse(Kai.Protocol.CloseCodes.InvalidSession, $"the principal lacks '{Permissions.RpcCall}'"));

    public ILinkSession CreateSession(HttpContext http, LinkConnection link, FrameDispatcher dispatcher) =>
        new Session(link, messages, options.Value.MaxInFlightPerLink, time);

    private sealed class Session(LinkConnection link, RpcMessages messages, int maxInFlight, TimeProvider time) : IRawLinkSession
    {
        private readonly CancellationTokenSource _closed = new();
        private readonly SemaphoreSlim _slots = new(maxInFlight, maxInFlight);
        private int _running;

        public Task OpenedAsync(CancellationToken ct) => Task.CompletedTask;

        public Task<object?> HandleAsync(Kai.Protocol.Frames.InboundFrame frame) => Task.FromResult<object?>(null);

        public ValueTask HandleMessageAsync(ReadOnlyMemory<byte> utf8)
        {
            if (link.IsClosing)
            {
                return ValueTask.CompletedTask;
            }
            if (utf8.IsEmpty)
            {
                Send(Refusal(ErrorCodes.ValidationError, "Binary messages are not supported; send UTF-8 JSON text."));
                return ValueTask.CompletedTask;
            }
            if (!_slots.Wait(0))
            {
                Send(Refusal(ErrorCodes.RateLimitExceeded, $"At most {maxInFlight} requests may be in flight on one link; wait for answers."));
                return ValueTask.CompletedTask;
            }
            // The reader's buffer is reused after this returns: the call gets its own copy, and runs while the next message is read.
            var copy = utf8.ToArray();
            Interlocked.Increment(ref _running);
            _ = Task.Run(async () =>
            {
                try
                {
                    if (await messages.SocketMessageAsync(link.Principal, copy, _closed.Token) is { } answer)
                    {
                        Send(answer);
                    }
                }
                catch (OperationCanceledException)
                {
                }
                finally
                {
                    Interlocked.Decrement(ref _running);
                    _slots.Release();
                }
            });
            return ValueTask.CompletedTask;
        }

        public async Task ClosedAsync(bool wasCurrent)
        {
            await _closed.CancelAsync();
            while (Volatile.Read(ref _running) > 0)
            {
                await Task.Yield();
            }
            _closed.Dispose();
        }

        private void Send(object answer) => WebSocketEdgeHost.Reply(link, JsonSerializer.SerializeToUtf8Bytes(answer, KaiJson.Options));

        private RpcResponse Refusal(string type, string message) =>
            new(null, RpcMethods.Hub, link.Principal.Id, time.GetUtcNow().ToUnixTimeSeconds(), null,
                new RpcError(ErrorCodes.HttpStatus(type), message, type), new RpcMetrics(0, 0, RpcBackends.WebSocket));
    }
}
