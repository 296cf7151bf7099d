using System.Net;
using System.Text.Json;
using Kai.Hub.Tests.Hosting;
using Kai.Protocol;
using Kai.Testing;

namespace Kai.Hub.Tests.Invocations;

/// <summary>A hosted LLM agent answers KAIL invocations (seed 002 §V OpenAI-compatible adapter) against the scripted server in its own process.</summary>
public sealed class HostedInvocationTests
{
    [SkippableFact]
    public async Task A_hosted_agent_answers_with_thread_history_maps_options_and_streams_tokens_as_chunks()
    {
        await using var llm = await LlmServer.StartScriptedAsync();
        await using var hub = await TestHub.StartAsync(settings: HostedAgentTests.Provider(llm.BaseUrl));
        var user = hub.Client((await hub.NewUserAsync()).AccessToken);
        var agentId = await HostedAgentTests.CreateLlmAgentAsync(user, new { provider = "local", system_prompt = "Be brief." });

        var prompt = "say \"hi\"\nplease";
        var first = await Kail.InvokeAsync(user, Kail.Envelope(Kail.Handle(agentId), "chat", prompt, options: new { model = "m2", temperature = 0.5 }, threadId: "t1"));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var echo = Echo(await Kail.JsonAsync(first));
        Assert.Equal("m2", echo.GetProperty("model").GetString());
        Assert.Equal(0.5, echo.GetProperty("temperature").GetDouble(), 3);
        Assert.Equal(["system", "user"], echo.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("role").GetString()));
        Assert.Equal(prompt, echo.GetProperty("messages")[1].GetProperty("content").GetString());

        // The thread's history comes first on the next invocation of the same thread.
        var second = Echo(await Kail.JsonAsync(await Kail.InvokeAsync(user, Kail.Envelope(Kail.Handle(agentId), "chat", "again", threadId: "t1"))));
        Assert.Equal(["system", "user", "assistant", "user"], second.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("role").GetString()));
        Assert.Equal("m1", second.GetProperty("model").GetString());

        // Streamed: tokens arrive as chunk events, whose text is the final output.
        var envelope = Kail.Envelope(Kail.Handle(agentId), "chat", "stream me", options: new { stream = true });
        var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/invocations?stream=true")
        {
            Content = new StringContent(JsonSerializer.Serialize(envelope, KaiJson.Options), System.Text.Encoding.UTF8, "application/json"),
        };
        var text = await (await user.SendAsync(request)).Content.ReadAsStringAsync();
        var events = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e => e.Split('\n'))
            .Select(l => (Name: l[0]["event: ".Length..], Data: JsonDocument.Parse(l[2]["data: ".Length..]).RootElement.Clone())).ToList();
        Assert.True(events.Count > 2, text);
        Assert.Equal("result", events[^1].Name);
        var streamed = string.Concat(events.Where(e => e.Name == "chunk").Select(e => e.Data.GetProperty("chunk").GetString()));
        Assert.Equal(events[^1].Data.GetProperty("output").GetProperty("text").GetString(), streamed);
        Assert.Equal("stream me", JsonDocument.Parse(streamed).RootElement.GetProperty("messages").EnumerateArray().Last().GetProperty("content").GetString());
    }

    private static JsonElement Echo(JsonElement result)
    {
        Assert.Equal("completed", result.GetProperty("status").GetString());
        return JsonDocument.Parse(result.GetProperty("output").GetProperty("text").GetString()!).RootElement.Clone();
    }
}
