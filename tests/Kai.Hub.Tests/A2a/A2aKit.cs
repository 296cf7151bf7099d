using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Kai.Hub.Tests.Tasks;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Hub.Tests.A2a;

/// <summary>Agents that opt in to A2A, an agent loop answering the tasks A2A messages become, and raw JSON-RPC calls.</summary>
internal static class A2aKit
{
    public static async Task<AgentCreatedResponse> RegisterAsync(TaskKit kit, string id, bool optIn, string token, params string[] capabilities)
    {
        using var client = kit.Hub.Client(token);
        var config = optIn
            ? JsonSerializer.SerializeToElement(new { a2a = new { description = "Upper-cases text.", intents = new[] { "text.shout" } }, max_concurrent_tasks = 10 })
            : JsonSerializer.SerializeToElement(new { max_concurrent_tasks = 10 });
        var res = await client.PostAsJsonAsync("api/v1/agents/register", new RegisterAgentRequest(id, "worker", id + " agent", "2.0.0", capabilities, null, config), KaiJson.Options);
        res.EnsureSuccessStatusCode();
        return (await res.Content.ReadFromJsonAsync<AgentCreatedResponse>(KaiJson.Options))!;
    }

    /// <summary>
    /// Answers every task: <c>hold</c> is taken (in progress) and kept until canceled; a first message starting with <c>ask</c> is
    /// answered with a request for input (<c>{"a2a": {"state": "input-required"}, "text": "Which city?"}</c>); a follow-up turn
    /// (<c>input_data.a2a.turn</c>) is answered <c>BOOKED {TEXT}</c> with a data part <c>{turn, history}</c> (the number of earlier
    /// messages it was given); anything else is upper-cased and returned as hub parts (a text part and a data part). Runs until
    /// <paramref name="ct"/> is canceled.
    /// </summary>
    public static async Task ServeAsync(TaskKit kit, TestSocket socket, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            TaskPayload task;
            try
            {
                task = await TaskKit.ReceiveTaskAsync(socket);
            }
            catch (TimeoutException)
            {
                continue;
            }
            catch (Exception) when (ct.IsCancellationRequested)
            {
                return;
            }
            var text = task.InputData.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
            await kit.ReportAsync(socket, task, TaskStatuses.InProgress, progress: text == "hold" ? 10 : 50);
            var a2a = task.InputData.TryGetProperty("a2a", out var a) ? a : default;
            if (a2a.ValueKind == JsonValueKind.Object && a2a.TryGetProperty("turn", out var turn))
            {
                await kit.CompleteAsync(socket, task, new
                {
                    parts = new object[]
                    {
                        new { kind = "text", text = "BOOKED " + text.ToUpperInvariant() },
                        new { kind = "data", data = new { turn = turn.GetInt32(), history = a2a.GetProperty("history").GetArrayLength() } },
                    },
                });
            }
            else if (text.StartsWith("ask", StringComparison.Ordinal))
            {
                await kit.CompleteAsync(socket, task, new { a2a = new { state = "input-required" }, text = "Which city?" });
            }
            else if (text != "hold")
            {
                await kit.CompleteAsync(socket, task, new
                {
                    parts = new object[] { new { kind = "text", text = text.ToUpperInvariant() }, new { kind = "data", data = new { length = text.Length } } },
                });
            }
        }
    }

    public static async Task<JsonElement> RpcAsync(HttpClient client, string path, string body)
    {
        var res = await client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(System.Net.HttpStatusCode.OK, res.StatusCode);
        return JsonDocument.Parse(await res.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    public static Task<JsonElement> RpcAsync(HttpClient client, string path, string method, object @params) =>
        RpcAsync(client, path, JsonSerializer.Serialize(new { jsonrpc = "2.0", id = 7, method, @params }));

    public static int ErrorCode(JsonElement response) => response.GetProperty("error").GetProperty("code").GetInt32();
}
