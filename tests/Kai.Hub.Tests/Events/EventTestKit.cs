using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Hub.Tests.Events;

/// <summary>Helpers for the event tests: /ws links, publishing, SSE reading.</summary>
internal static class EventTestKit
{
    public const string AdminEmail = "root@example.com";
    public const string AdminPassword = "root-password-123";

    public static Dictionary<string, string> AdminSettings(Dictionary<string, string>? more = null)
    {
        var settings = new Dictionary<string, string>
        {
            ["Kai:Auth:BootstrapAdminEmail"] = AdminEmail,
            ["Kai:Auth:BootstrapAdminPassword"] = AdminPassword,
        };
        foreach (var (k, v) in more ?? [])
        {
            settings[k] = v;
        }
        return settings;
    }

    public static async Task<string> AdminTokenAsync(this TestHub hub)
    {
        var login = await hub.Http.PostAsJsonAsync("api/v1/auth/login", new LoginRequest(AdminEmail, AdminPassword), KaiJson.Options);
        login.EnsureSuccessStatusCode();
        return (await login.Content.ReadFromJsonAsync<TokenResponse>(KaiJson.Options))!.AccessToken;
    }

    /// <summary>Opens <c>/ws</c> and reads the welcome.</summary>
    public static async Task<(TestSocket Socket, EventLinkWelcome Welcome)> EventsAsync(this TestHub hub, string token)
    {
        var socket = await hub.ConnectAsync("ws", token);
        var welcome = await socket.ReceiveAsync();
        Assert.Equal("welcome", welcome.Type);
        return (socket, welcome.PayloadAs<EventLinkWelcome>()!);
    }

    public static async Task<SubscribeAck> SubscribeAsync(this TestSocket socket, object payload, string id = "s-1")
    {
        await socket.SendAsync("subscribe", payload, id);
        var ack = await socket.ReceiveAsync();
        Assert.True(ack.Type == "ack", $"expected ack, got {ack.Type}: {ack.Payload}");
        Assert.Equal(id, ack.Id);
        return ack.PayloadAs<SubscribeAck>()!;
    }

    public static async Task<PublishAck> PublishAsync(this TestSocket socket, string topic, object data, string id = "p-1")
    {
        await socket.SendAsync("publish", new { topic, data }, id);
        var ack = await socket.ReceiveAsync("ack");
        Assert.Equal(id, ack.Id);
        return ack.PayloadAs<PublishAck>()!;
    }

    public static async Task<ErrorPayload> ErrorAsync(this TestSocket socket, string type, object payload, string id)
    {
        await socket.SendAsync(type, payload, id);
        var error = await socket.ReceiveAsync();
        Assert.True(error.Type == "error", $"expected error, got {error.Type}: {error.Payload}");
        Assert.Equal(id, error.Id);
        return error.PayloadAs<ErrorPayload>()!;
    }

    public static async Task<EventMessage> NextEventAsync(this TestSocket socket)
    {
        var frame = await socket.ReceiveAsync();
        Assert.True(frame.Type == "event", $"expected event, got {frame.Type}: {frame.Payload}");
        return frame.PayloadAs<EventMessage>()!;
    }

    public static async Task<HttpResponseMessage> PublishRestAsync(this TestHub hub, string token, string topic, object data)
    {
        using var client = hub.Client(token);
        return await client.PostAsJsonAsync("api/v1/events", new { topic, data }, KaiJson.Options);
    }
}

/// <summary>Reads an SSE response block by block.</summary>
internal sealed class SseReader(HttpResponseMessage response, StreamReader reader) : IDisposable
{
    public HttpResponseMessage Response { get; } = response;

    public static async Task<SseReader> OpenAsync(TestHub hub, string token, string query, string? lastEventId = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/v1/events/stream?" + query);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }
        var response = await hub.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        return new SseReader(response, new StreamReader(await response.Content.ReadAsStreamAsync()));
    }

    /// <summary>The next event block (comments and retry lines are skipped).</summary>
    public async Task<(string? Id, string Event, JsonElement Data)> NextAsync()
    {
        using var cts = new CancellationTokenSource(TestSocket.DefaultTimeout);
        string? id = null, name = null, data = null;
        while (true)
        {
            var line = await reader.ReadLineAsync(cts.Token) ?? throw new EndOfStreamException("The SSE stream ended.");
            if (line.Length == 0)
            {
                if (data is not null)
                {
                    return (id, name ?? "message", JsonDocument.Parse(data).RootElement.Clone());
                }
                continue;
            }
            if (line.StartsWith("id: ", StringComparison.Ordinal)) { id = line[4..]; }
            else if (line.StartsWith("event: ", StringComparison.Ordinal)) { name = line[7..]; }
            else if (line.StartsWith("data: ", StringComparison.Ordinal)) { data = line[6..]; }
        }
    }

    public void Dispose()
    {
        reader.Dispose();
        Response.Dispose();
    }
}
