using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rpc;
using Kai.Testing;

namespace Kai.Hub.Tests.Rpc;

/// <summary>Helpers for the RPC tests: REST calls, raw /ws/rpc messages, agents that answer rpc_request frames.</summary>
internal static class RpcKit
{
    public static long Now(TimeProvider? time = null) => (time ?? TimeProvider.System).GetUtcNow().ToUnixTimeSeconds();

    public static object Envelope(string id, string method, object? @params = null, string? destination = null, long? ttl = null, string? traceId = null, long? timestamp = null) => new
    {
        id,
        origin = "test.client",
        destination,
        timestamp = timestamp ?? Now(),
        method,
        @params = @params ?? new { },
        headers = new { trace_id = traceId ?? Guid.NewGuid().ToString(), ttl },
    };

    public static async Task<(HttpStatusCode Status, JsonElement Body)> CallAsync(this HttpClient http, object envelope)
    {
        var res = await http.PostAsJsonAsync("api/v1/rpc", envelope);
        return (res.StatusCode, await ReadAsync(res));
    }

    public static async Task<(HttpStatusCode Status, JsonElement Body)> PostTextAsync(this HttpClient http, string path, string text)
    {
        var res = await http.PostAsync(path, new StringContent(text, Encoding.UTF8, "application/json"));
        return (res.StatusCode, await ReadAsync(res));
    }

    private static async Task<JsonElement> ReadAsync(HttpResponseMessage res)
    {
        var text = await res.Content.ReadAsStringAsync();
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    public static Task SendTextAsync(this TestSocket socket, object message) => socket.SendRawAsync(JsonSerializer.Serialize(message));

    /// <summary>One raw text message of a /ws/rpc link (not a hub frame).</summary>
    public static async Task<JsonElement> ReceiveTextAsync(this TestSocket socket, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TestSocket.DefaultTimeout);
        var buffer = new byte[64 * 1024];
        using var ms = new MemoryStream();
        while (true)
        {
            var result = await socket.Socket.ReceiveAsync(buffer, cts.Token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                throw new WebSocketCloseException((int?)socket.Socket.CloseStatus, socket.Socket.CloseStatusDescription);
            }
            ms.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return JsonDocument.Parse(ms.ToArray()).RootElement.Clone();
            }
        }
    }

    /// <summary>Reads the next rpc_request on an agent link and returns its payload (the AMRI envelope).</summary>
    public static async Task<RpcRequest> NextRequestAsync(this TestSocket agent, TimeSpan? timeout = null) =>
        (await agent.ReceiveAsync(FrameTypes.RpcRequest, timeout)).PayloadAs<RpcRequest>()!;

    /// <summary>Answers a request with a result, and returns the hub's ack payload.</summary>
    public static async Task<JsonElement> AnswerAsync(this TestSocket agent, RpcRequest request, object? result, RpcError? error = null, string frameId = "r")
    {
        await agent.SendAsync(FrameTypes.RpcResponse, new
        {
            id = request.Id,
            origin = request.Destination,
            destination = request.Origin,
            timestamp = Now(),
            result,
            error,
        }, frameId);
        var ack = await agent.ReceiveAsync("ack");
        return ack.Payload;
    }

    /// <summary>Registers an agent's capabilities with agent.register over REST (with the agent's own token).</summary>
    public static async Task<JsonElement> RegisterAsync(this TestHub hub, string agentToken, params string[] capabilities)
    {
        var (status, body) = await hub.Client(agentToken).CallAsync(Envelope(Guid.NewGuid().ToString(), RpcMethods.AgentRegister,
            new { capabilities, intents = new[] { "serve" }, metadata = new { hostname = "node-12.local", version = "1.4.0", load = 0.13 } }));
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        return body;
    }

    public static string ErrorType(this JsonElement response) => response.GetProperty("error").GetProperty("type").GetString()!;
}
