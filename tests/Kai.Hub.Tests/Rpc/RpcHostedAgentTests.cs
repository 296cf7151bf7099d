using System.Net;
using System.Text.Json;
using Kai.Hub.Tests.Hosting;
using Kai.Protocol;
using Kai.Testing;

namespace Kai.Hub.Tests.Rpc;

/// <summary>A hosted LLM agent answers AMRI <c>llm_chat.*</c> methods, against the scripted OpenAI-compatible server in its own process.</summary>
public sealed class RpcHostedAgentTests
{
    [SkippableFact]
    public async Task A_hosted_llm_agent_answers_llm_chat_methods_over_rest_and_refuses_others()
    {
        await using var llm = await LlmServer.StartScriptedAsync();
        await using var hub = await TestHub.StartAsync(settings: HostedAgentTests.Provider(llm.BaseUrl));
        var token = (await hub.NewUserAsync()).AccessToken;
        var user = hub.Client(token);
        var agentId = await HostedAgentTests.CreateLlmAgentAsync(user, new { provider = "local" });

        var (status, body) = await user.CallAsync(RpcKit.Envelope("llm-1", "llm_chat.complete", new { prompt = "say \"hi\"\nplease" }, destination: agentId));
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        Assert.Equal(agentId, body.GetProperty("origin").GetString());
        var echo = JsonDocument.Parse(body.GetProperty("result").GetProperty("text").GetString()!).RootElement;
        Assert.Equal("say \"hi\"\nplease", echo.GetProperty("messages")[0].GetProperty("content").GetString());

        var (_, other) = await user.CallAsync(RpcKit.Envelope("llm-2", "media_gen.image", destination: agentId));
        Assert.Equal(ErrorCodes.MethodNotFound, other.ErrorType());
        Assert.Equal(agentId, other.GetProperty("origin").GetString());
        var (_, bad) = await user.CallAsync(RpcKit.Envelope("llm-3", "llm_chat.complete", new { nothing = true }, destination: agentId));
        Assert.Equal(ErrorCodes.ValidationError, bad.ErrorType());
    }
}
