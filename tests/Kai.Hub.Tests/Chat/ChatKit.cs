using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Kai.Testing;
using Microsoft.Data.Sqlite;

namespace Kai.Hub.Tests.Chat;

/// <summary>
/// A hub for the AgentConnect tests, and a client that makes the requests the reference client
/// (AKKI0511/AgentConnect demos/ui/frontend/src/services) makes: a form-encoded login, then every call with
/// <c>Authorization: Bearer</c> and <c>Content-Type: application/json</c>, every answer parsed as JSON.
/// </summary>
internal static class ChatKit
{
    public static Dictionary<string, string> Settings(Uri? llm = null, IDictionary<string, string>? extra = null)
    {
        var s = new Dictionary<string, string>
        {
            ["Kai:Security:RateLimits:Auth"] = "1000",
            ["Kai:Security:RateLimits:SessionCreate"] = "1000",
            ["Kai:Security:RateLimits:SessionQuery"] = "1000",
            ["Kai:Security:RateLimits:AgentOperations"] = "1000",
        };
        foreach (var (k, v) in Hosting.HostedAgentTests.Provider(llm ?? new Uri("http://127.0.0.1:9/v1"), retries: 0))
        {
            s[k] = v;
        }
        foreach (var (k, v) in extra ?? new Dictionary<string, string>())
        {
            s[k] = v;
        }
        return s;
    }

    /// <summary>Registers a user, then logs in the AgentConnect way; returns the access token.</summary>
    public static async Task<string> LoginAsync(TestHub hub)
    {
        var email = $"u{Guid.NewGuid():N}@example.com";
        await hub.NewUserAsync(email, "correct-horse-battery");
        // The reference client's body, byte for byte: username=${encodeURIComponent(u)}&password=${encodeURIComponent(p)}
        using var content = new StringContent($"username={Uri.EscapeDataString(email)}&password={Uri.EscapeDataString("correct-horse-battery")}",
            Encoding.UTF8, "application/x-www-form-urlencoded");
        var res = await hub.Http.PostAsync("api/auth/login", content);
        var body = await Json(res);
        Assert.True(res.IsSuccessStatusCode, body.GetRawText());
        return body.GetProperty("access_token").GetString()!;
    }

    /// <summary>The reference client's <c>fetchWithAuth</c>: bearer, Content-Type: application/json on every method, a JSON answer.</summary>
    public static async Task<(int Status, JsonElement Body)> CallAsync(TestHub hub, string token, HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Content = new StringContent(body is null ? "" : body as string ?? JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        if (method == HttpMethod.Get || method == HttpMethod.Delete)
        {
            // fetch sends the header with no body on GET/DELETE.
            request.Content = new ByteArrayContent([]);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }
        using var res = await hub.Http.SendAsync(request);
        return ((int)res.StatusCode, await Json(res));
    }

    public static async Task<JsonElement> Json(HttpResponseMessage res)
    {
        var text = await res.Content.ReadAsStringAsync();
        try
        {
            return JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (JsonException)
        {
            Assert.Fail($"{(int)res.StatusCode} answer is not JSON: '{text}'");
            throw;
        }
    }

    public static object HumanAgent(string provider = "local", string? model = null, string? personality = null) => new
    {
        session_type = "human_agent",
        agents = new Dictionary<string, object?> { ["ai_agent"] = new { provider, model, capabilities = new[] { "conversation" }, personality } },
    };

    public static async Task<JsonElement> CreateSessionAsync(TestHub hub, string token, object request)
    {
        var (status, body) = await CallAsync(hub, token, HttpMethod.Post, "api/chat/sessions/create", request);
        Assert.True(status == 200, body.GetRawText());
        return body;
    }

    /// <summary>The rows of a table of the hub's database (to prove refused input stored nothing).</summary>
    public static long Count(TestHub hub, string table)
    {
        using var c = new SqliteConnection($"Data Source={Path.Combine(hub.DataDirectory, "kai.db")}");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT COUNT(*) FROM {table}";
        return (long)cmd.ExecuteScalar()!;
    }

    public static async Task<ChatSocket> ConnectAsync(TestHub hub, string sessionId, string token)
    {
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(hub.WebSocketUri($"api/chat/ws/{sessionId}", token), CancellationToken.None);
        return new ChatSocket(socket);
    }
}

/// <summary>A chat WebSocket client: sends and reads seed 003 messages as JSON, with timeouts.</summary>
internal sealed class ChatSocket(ClientWebSocket socket) : IAsyncDisposable
{
    public ClientWebSocket Socket { get; } = socket;

    public Task SendRawAsync(string text) => Socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    /// <summary>What the reference hook sends: <c>{type, content, timestamp, metadata{conversation_type}}</c>.</summary>
    public Task SendAsync(string type, string content, string conversationType = "human_agent") =>
        SendRawAsync(JsonSerializer.Serialize(new { type, content, timestamp = DateTimeOffset.UtcNow, metadata = new { conversation_type = conversationType } }));

    public async Task<JsonElement> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TestSocket.DefaultTimeout);
        var buffer = new byte[64 * 1024];
        using var ms = new MemoryStream();
        try
        {
            while (true)
            {
                var result = await Socket.ReceiveAsync(buffer, cts.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    if (Socket.State == WebSocketState.CloseReceived)
                    {
                        await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                    }
                    throw new WebSocketCloseException((int?)Socket.CloseStatus, Socket.CloseStatusDescription);
                }
                ms.Write(buffer, 0, result.Count);
                if (result.EndOfMessage)
                {
                    return JsonDocument.Parse(ms.ToArray()).RootElement.Clone();
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("No message arrived in time.");
        }
    }

    /// <summary>Reads until a message of <paramref name="type"/> (others are collected in <paramref name="skipped"/>).</summary>
    public async Task<JsonElement> ReceiveAsync(string type, List<JsonElement>? skipped = null, TimeSpan? timeout = null)
    {
        while (true)
        {
            var m = await ReceiveAsync(timeout);
            if (m.GetProperty("type").GetString() == type)
            {
                return m;
            }
            skipped?.Add(m);
        }
    }

    public async Task<int?> ReceiveCloseAsync(List<JsonElement>? before = null)
    {
        try
        {
            while (true)
            {
                // Not before?.Add(await …): the null-conditional would skip the await and spin.
                var m = await ReceiveAsync();
                before?.Add(m);
            }
        }
        catch (WebSocketCloseException e)
        {
            return e.Code;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Socket.State == WebSocketState.Open)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", cts.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
            {
                Socket.Abort();
            }
        }
        Socket.Dispose();
    }
}
