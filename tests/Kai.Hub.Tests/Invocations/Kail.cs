using System.Net.Http.Json;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Kail;
using Kai.Testing;

namespace Kai.Hub.Tests.Invocations;

/// <summary>Helpers of the KAIL tests: envelopes as a client writes them, and an agent that answers on its real link.</summary>
internal static class Kail
{
    public static Dictionary<string, object?> Envelope(
        string target, string intent, object? input, DateTimeOffset? at = null, string? id = null, object? options = null, string[]? chain = null,
        string? parentId = null, string? threadId = null)
    {
        var context = new Dictionary<string, object?> { ["timestamp"] = (at ?? DateTimeOffset.UtcNow).ToString("O") };
        if (threadId is not null) { context["thread_id"] = threadId; }
        if (parentId is not null) { context["parent_id"] = parentId; }
        var payload = new Dictionary<string, object?> { ["input"] = input };
        if (options is not null) { payload["options"] = options; }
        var e = new Dictionary<string, object?>
        {
            ["type"] = "AgentInvocation",
            ["version"] = "1.0",
            ["id"] = id ?? Guid.NewGuid().ToString(),
            ["target"] = target,
            ["intent"] = intent,
            ["payload"] = payload,
            ["context"] = context,
        };
        if (chain is not null) { e["chain"] = chain; }
        return e;
    }

    public static string Handle(string agentId) => "kah:agent.local." + agentId;

    public static async Task<HttpResponseMessage> InvokeAsync(HttpClient client, object body, string query = "") =>
        await client.PostAsJsonAsync("api/v1/invocations" + query, body, KaiJson.Options);

    public static async Task<JsonElement> JsonAsync(HttpResponseMessage res) =>
        JsonDocument.Parse(await res.Content.ReadAsStringAsync()).RootElement.Clone();

    /// <summary>Reads frames until an <c>invocation</c> arrives.</summary>
    public static async Task<AgentInvocation> NextInvocationAsync(TestSocket socket) =>
        (await socket.ReceiveAsync(FrameTypes.Invocation)).PayloadAs<AgentInvocation>()!;

    public static Task AnswerAsync(TestSocket socket, AgentInvocation invocation, object? output, string? frameId = null) =>
        socket.SendAsync(FrameTypes.InvocationResult, new InvocationResultPayload(invocation.Id, invocation.Context.HopId, InvocationStatuses.Completed,
            JsonSerializer.SerializeToElement(output, KaiJson.Options)), frameId);

    public static Task FailAsync(TestSocket socket, AgentInvocation invocation, string code, string message) =>
        socket.SendAsync(FrameTypes.InvocationResult, new InvocationResultPayload(invocation.Id, invocation.Context.HopId, InvocationStatuses.Failed, null,
            new InvocationError(code, message)));

    /// <summary>SHA-256 (lower-case hex) of the compact JSON text a test wrote itself.</summary>
    public static string Sha256(string json) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(json)));
}
