using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Hub.Hosting;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Kai.Testing;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Tests.Hosting;

/// <summary>
/// Hosted LLM agents (issue 11 items 14 and 15) against a real OpenAI-compatible server in its own process:
/// npm's mock-llm for chat and streaming, scripted-llm.js for history, 429/5xx, Retry-After, timeouts and keys.
/// </summary>
public sealed class HostedAgentTests
{
    private const string MockRules = """
        streaming:
          chunkSize: 4
          chunkIntervalMs: 1
        rules:
          - path: "/v1/chat/completions"
            method: "POST"
            match: "@"
            response:
              status: 200
              content: |
                {"id": "chatcmpl-{{timestamp}}", "object": "chat.completion", "created": 1, "model": "{{jmes request body.model}}",
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": "{{jmes request body.messages[-1].content}}"}, "finish_reason": "stop"}],
                 "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}}
          - path: "/v1/chat/completions"
            method: "POST"
            match: "starts_with(body.messages[-1].content, 'options')"
            response:
              status: 200
              content: |
                {"id": "x", "object": "chat.completion", "created": 1, "model": "{{jmes request body.model}}",
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": "model={{jmes request body.model}} temperature={{jmes request body.temperature}} max={{jmes request body.max_completion_tokens}}"}, "finish_reason": "stop"}]}
        """;

    internal static Dictionary<string, string> Provider(Uri baseUrl, string name = "local", double timeout = 30, int retries = 3, bool allowBaseUrl = false) =>
        LlmServer.ProviderSettings(baseUrl, name, timeout, retries, allowBaseUrl);

    internal static async Task<string> CreateLlmAgentAsync(HttpClient user, object config, bool autoStart = true, string name = "helper")
    {
        var res = await user.PostAsJsonAsync("api/v1/agents", new { name, type = "llm", config, auto_start = autoStart });
        Assert.True(res.StatusCode == HttpStatusCode.Created, await res.Content.ReadAsStringAsync());
        return (await res.Content.ReadFromJsonAsync<AgentCreatedResponse>(KaiJson.Options))!.AgentId;
    }

    internal static async Task<CommandResponse> ChatAsync(HttpClient user, string agentId, object parameters, string command = "chat")
    {
        var res = await user.PostAsJsonAsync($"api/v1/agents/{agentId}/command", new { command, parameters, timeout = 60 });
        Assert.True(res.IsSuccessStatusCode, await res.Content.ReadAsStringAsync());
        return (await res.Content.ReadFromJsonAsync<CommandResponse>(KaiJson.Options))!;
    }

    /// <summary>The scripted server's echo: what it received, decoded from the answer's text.</summary>
    internal static JsonElement Echo(CommandResponse r)
    {
        Assert.True(r.Status == "completed", r.Error);
        return JsonDocument.Parse(r.Result!.Value.GetProperty("text").GetString()!).RootElement;
    }

    [SkippableFact]
    public async Task A_command_is_answered_end_to_end_over_rest_by_an_auto_started_agent()
    {
        await using var llm = await LlmServer.StartMockLlmAsync(MockRules);
        await using var hub = await TestHub.StartAsync(settings: Provider(llm.BaseUrl));
        var user = hub.Client((await hub.NewUserAsync()).AccessToken);
        var agentId = await CreateLlmAgentAsync(user, new { provider = "local", model = "m1", system_prompt = "be brief" });

        var agent = (await user.GetFromJsonAsync<AgentView>($"api/v1/agents/{agentId}", KaiJson.Options))!;
        Assert.Equal("active", agent.Status);
        Assert.Contains(HostedAgentSupervisor.ChatCapability, agent.Capabilities);

        var answer = await ChatAsync(user, agentId, new { prompt = "hello from the hub" });
        Assert.Equal("completed", answer.Status);
        Assert.Equal("hello from the hub", answer.Result!.Value.GetProperty("text").GetString());
        Assert.Equal("m1", answer.Result.Value.GetProperty("model").GetString());
        Assert.Equal(3, answer.Result.Value.GetProperty("usage").GetProperty("input_tokens").GetInt32());
        Assert.Equal(5, answer.Result.Value.GetProperty("usage").GetProperty("output_tokens").GetInt32());

        var unknown = await ChatAsync(user, agentId, new { prompt = "x" }, command: "dance");
        Assert.Equal("failed", unknown.Status);
        Assert.StartsWith(ErrorCodes.ValidationError, unknown.Error);
        var noPrompt = await ChatAsync(user, agentId, new { thread_id = "t" });
        Assert.Equal("failed", noPrompt.Status);
        Assert.Contains("prompt", noPrompt.Error);
    }

    [SkippableFact]
    public async Task Options_map_onto_the_request()
    {
        await using var llm = await LlmServer.StartMockLlmAsync(MockRules);
        await using var hub = await TestHub.StartAsync(settings: Provider(llm.BaseUrl));
        var user = hub.Client((await hub.NewUserAsync()).AccessToken);
        var agentId = await CreateLlmAgentAsync(user, new { provider = "local", temperature = 0.9 });

        var asked = await ChatAsync(user, agentId, new { prompt = "options please", model = "m2", temperature = 0.3, max_tokens = 7 }, command: "ask");
        Assert.Equal("model=m2 temperature=0.3 max=7", asked.Result!.Value.GetProperty("text").GetString());
        // The agent's own temperature applies when the call names none; the provider's default model when the agent names none.
        var defaults = await ChatAsync(user, agentId, new { prompt = "options again" }, command: "complete");
        Assert.Equal("model=m1 temperature=0.9 max=null", defaults.Result!.Value.GetProperty("text").GetString());
        var refused = await ChatAsync(user, agentId, new { prompt = "options", model = "gpt-unknown" });
        Assert.Equal("failed", refused.Status);
        Assert.Contains("gpt-unknown", refused.Error);
    }

    [SkippableFact]
    public async Task Streamed_tokens_go_out_as_stream_chunks_to_observers()
    {
        await using var llm = await LlmServer.StartMockLlmAsync(MockRules);
        await using var hub = await TestHub.StartAsync(settings: Provider(llm.BaseUrl));
        var login = await hub.NewUserAsync();
        var user = hub.Client(login.AccessToken);
        var agentId = await CreateLlmAgentAsync(user, new { provider = "local" });
        await using var observer = await hub.ConnectAsync($"ws/agents/{agentId}", login.AccessToken);
        Assert.Equal("welcome", (await observer.ReceiveAsync()).Type);

        const string prompt = "stream these words in small pieces";
        var answer = await ChatAsync(user, agentId, new { prompt, stream = true, stream_id = "s-1" });
        Assert.Equal(prompt, answer.Result!.Value.GetProperty("text").GetString());

        var chunks = new List<JsonElement>();
        while (true)
        {
            var frame = await observer.ReceiveAsync("stream_chunk");
            chunks.Add(frame.Payload);
            if (frame.Payload.GetProperty("is_final").GetBoolean())
            {
                break;
            }
        }
        Assert.True(chunks.Count > 2, "mock-llm sends 4-character chunks, so the prompt arrives in several");
        Assert.All(chunks, c => Assert.Equal("s-1", c.GetProperty("stream_id").GetString()));
        Assert.All(chunks, c => Assert.Equal(agentId, c.GetProperty("agent_id").GetString()));
        Assert.Equal(Enumerable.Range(0, chunks.Count), chunks.Select(c => c.GetProperty("chunk_index").GetInt32()));
        Assert.Equal(prompt, string.Concat(chunks.Select(c => c.GetProperty("chunk").GetString())));
    }

    [SkippableFact]
    public async Task Thread_history_is_kept_per_agent_and_thread_bounded_and_survives_a_restart()
    {
        await using var llm = await LlmServer.StartScriptedAsync();
        var settings = Provider(llm.BaseUrl);
        settings["Kai:Hosting:HistoryLimit"] = "4";
        var hub = await TestHub.StartAsync(settings: settings);
        var user = hub.Client((await hub.NewUserAsync()).AccessToken);
        var agentId = await CreateLlmAgentAsync(user, new { provider = "local", system_prompt = "You are \"Kai\".\nBe brief." });

        // Quotes and newlines arrive unchanged (mock-llm would answer 500 here: it pastes text into JSON unescaped).
        var first = Echo(await ChatAsync(user, agentId, new { prompt = "one \"quoted\"\nline", thread_id = "t1" }));
        Assert.Equal(2, first.GetProperty("messages").GetArrayLength());
        Assert.Equal("You are \"Kai\".\nBe brief.", first.GetProperty("messages")[0].GetProperty("content").GetString());
        Assert.Equal("one \"quoted\"\nline", first.GetProperty("messages")[1].GetProperty("content").GetString());

        var second = Echo(await ChatAsync(user, agentId, new { prompt = "two", thread_id = "t1" }));
        var roles = second.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("role").GetString()).ToList();
        Assert.Equal(["system", "user", "assistant", "user"], roles);
        Assert.Equal("one \"quoted\"\nline", second.GetProperty("messages")[1].GetProperty("content").GetString());

        var other = Echo(await ChatAsync(user, agentId, new { prompt = "elsewhere", thread_id = "t2" }));
        Assert.Equal(2, other.GetProperty("messages").GetArrayLength());
        var noThread = Echo(await ChatAsync(user, agentId, new { prompt = "alone" }));
        Assert.Equal(2, noThread.GetProperty("messages").GetArrayLength());

        await hub.DisposeAsyncKeepingData();
        await using var again = await TestHub.StartAsync(dataDirectory: hub.DataDirectory, settings: settings);
        var store = again.Service<IHostedAgentStore>();
        var kept = await store.HistoryAsync(agentId, "t1", 100, CancellationToken.None);
        // Two exchanges of two turns each, bounded to the newest four.
        Assert.Equal(4, kept.Count);
        Assert.Equal(["user", "assistant", "user", "assistant"], kept.Select(t => t.Role));
        Assert.Equal("one \"quoted\"\nline", kept[0].Content);
    }

    [SkippableFact]
    public async Task Rate_limits_and_5xx_are_retried_honouring_retry_after_and_then_fail_with_clear_codes()
    {
        await using var llm = await LlmServer.StartScriptedAsync();
        var provider = new ProviderOptions { BaseUrl = llm.BaseUrl.ToString(), Models = ["m1"], MaxRetries = 2, MaxRetryDelay = 5, Timeout = 30 };
        var adapter = new OpenAiCompatibleAdapter(llm.BaseUrl, "k", "m1", provider, TimeProvider.System);
        AdapterInvocation Ask(string prompt) => new([new ChatTurn("user", prompt)]);

        var limited = await adapter.InvokeAsync(Ask("fail429:1:1"), CancellationToken.None);
        Assert.Equal(1, limited.Retries);
        Assert.Equal([TimeSpan.FromSeconds(1)], limited.RetryDelays); // the server's Retry-After, not the backoff
        Assert.Equal(2, JsonDocument.Parse(limited.Text).RootElement.GetProperty("attempt").GetInt32());

        var overloaded = await adapter.InvokeAsync(Ask("fail503:2"), CancellationToken.None);
        Assert.Equal(2, overloaded.Retries);
        Assert.Equal([TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(1)], overloaded.RetryDelays); // exponential from 0.5 s

        var capped = await adapter.InvokeAsync(Ask("fail429:1:3600"), CancellationToken.None);
        Assert.Equal([TimeSpan.FromSeconds(5)], capped.RetryDelays); // a huge Retry-After is capped at max_retry_delay

        var rate = await Assert.ThrowsAsync<LlmException>(() => adapter.InvokeAsync(Ask("fail429:9:0"), CancellationToken.None));
        Assert.Equal(ErrorCodes.LlmRateLimited, rate.Code);
        Assert.Equal(2, rate.Retries);
        Assert.Equal(429, rate.UpstreamStatus);
        var down = await Assert.ThrowsAsync<LlmException>(() => adapter.InvokeAsync(Ask("fail503:9"), CancellationToken.None));
        Assert.Equal(ErrorCodes.LlmUnavailable, down.Code);
        Assert.Equal(503, down.UpstreamStatus);

        // Streams are retried before their first chunk too.
        var streamed = new List<AdapterChunk>();
        await foreach (var chunk in adapter.StreamAsync(Ask("fail503:1"), CancellationToken.None))
        {
            streamed.Add(chunk);
        }
        Assert.Equal(2, JsonDocument.Parse(string.Concat(streamed.Select(c => c.Text))).RootElement.GetProperty("attempt").GetInt32());

        // Nothing listens: unavailable, after the retries.
        var closed = new OpenAiCompatibleAdapter(new Uri("http://127.0.0.1:1/v1"), "k", "m1", new ProviderOptions { BaseUrl = "http://127.0.0.1:1/v1", Models = ["m1"], MaxRetries = 0 }, TimeProvider.System);
        Assert.Equal(ErrorCodes.LlmUnavailable, (await Assert.ThrowsAsync<LlmException>(() => closed.InvokeAsync(Ask("x"), CancellationToken.None))).Code);
    }

    [SkippableFact]
    public async Task A_slow_server_times_out_with_llm_timeout_over_rest_and_a_429_storm_is_reported()
    {
        await using var llm = await LlmServer.StartScriptedAsync();
        await using var hub = await TestHub.StartAsync(settings: Provider(llm.BaseUrl, timeout: 1, retries: 1));
        var user = hub.Client((await hub.NewUserAsync()).AccessToken);
        var agentId = await CreateLlmAgentAsync(user, new { provider = "local" });

        var slow = await ChatAsync(user, agentId, new { prompt = "sleep:10000" });
        Assert.Equal("failed", slow.Status);
        Assert.StartsWith(ErrorCodes.LlmTimeout, slow.Error);

        var limited = await ChatAsync(user, agentId, new { prompt = "fail429:9:0" });
        Assert.Equal("failed", limited.Status);
        Assert.StartsWith(ErrorCodes.LlmRateLimited, limited.Error);
    }
}
