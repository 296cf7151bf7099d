using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Kai.Testing;
using Microsoft.Extensions.Options;
using static Kai.Hub.Tests.Hosting.HostedAgentTests;

namespace Kai.Hub.Tests.Hosting;

/// <summary>Providers, config validation, secrets, restart, auto_start at boot, tasks and agent messages of hosted agents.</summary>
public sealed class HostedAgentLifecycleTests
{
    private static async Task<JsonElement> ErrorAsync(HttpResponseMessage res, HttpStatusCode status, string code)
    {
        var body = await res.Content.ReadAsStringAsync();
        Assert.True(res.StatusCode == status, $"{res.StatusCode}: {body}");
        var error = JsonDocument.Parse(body).RootElement.GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        return error;
    }

    private static string Sha(string text) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    [Fact]
    public async Task Providers_are_listed_without_secrets_or_addresses_and_agents_are_refused()
    {
        var settings = Provider(new Uri("http://10.1.2.3:11434/v1"));
        settings["Kai:Providers:local:api_key"] = "sk-provider-secret";
        settings["Kai:Providers:groq:base_url"] = "https://api.groq.com/openai/v1";
        settings["Kai:Providers:groq:api_key_ref"] = "KAI_TEST_GROQ_KEY";
        settings["Kai:Providers:groq:models:0"] = "llama-3.1-8b-instant";
        await using var hub = await TestHub.StartAsync(settings: settings);
        var login = await hub.NewUserAsync();
        var res = await hub.Client(login.AccessToken).GetAsync("api/v1/providers");
        var text = await res.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        Assert.DoesNotContain("sk-provider-secret", text);
        Assert.DoesNotContain("10.1.2.3", text);
        Assert.DoesNotContain("KAI_TEST_GROQ_KEY", text);
        var providers = JsonDocument.Parse(text).RootElement.GetProperty("providers");
        Assert.Equal(["groq", "local"], providers.EnumerateArray().Select(p => p.GetProperty("name").GetString()));
        Assert.Equal(["m1", "m2"], providers[1].GetProperty("models").EnumerateArray().Select(m => m.GetString()));
        Assert.Equal("llama-3.1-8b-instant", providers[0].GetProperty("default_model").GetString());
        Assert.True(providers[0].GetProperty("api_key_configured").GetBoolean());

        // An agent's token lacks agent.create: the list is for people creating hosted agents.
        var agent = await hub.NewAgentAsync(login.AccessToken);
        await ErrorAsync(await hub.Client(await hub.AgentTokenAsync(agent)).GetAsync("api/v1/providers"), HttpStatusCode.Forbidden, ErrorCodes.Forbidden);
        await ErrorAsync(await hub.Http.GetAsync("api/v1/providers"), HttpStatusCode.Unauthorized, ErrorCodes.AuthenticationFailed);
    }

    [Fact]
    public async Task A_bad_providers_section_stops_the_hub_with_one_message_naming_every_problem()
    {
        var settings = new Dictionary<string, string>
        {
            ["Kai:Providers:bad:type"] = "anthropic",
            ["Kai:Providers:bad:base_url"] = "not a url",
            ["Kai:Providers:bad:timeout"] = "0",
            ["Kai:Providers:worse:base_url"] = "http://127.0.0.1:1/v1",
            ["Kai:Providers:worse:models:0"] = "a",
            ["Kai:Providers:worse:default_model"] = "b",
            ["Kai:Providers:worse:api_key"] = "x",
            ["Kai:Providers:worse:api_key_ref"] = "Y",
        };
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => TestHub.StartAsync(settings: settings));
        Assert.StartsWith("Invalid LLM provider configuration:", e.Message);
        Assert.Contains("Kai:Providers:bad:type is 'anthropic'", e.Message);
        Assert.Contains("Kai:Providers:bad:base_url must be an absolute http or https URL", e.Message);
        Assert.Contains("Kai:Providers:bad:timeout", e.Message);
        Assert.Contains("Kai:Providers:bad: name a default_model", e.Message);
        Assert.Contains("Kai:Providers:worse:default_model 'b' is not one of models [a]", e.Message);
        Assert.Contains("Kai:Providers:worse: give api_key_ref or api_key, not both", e.Message);
    }

    [Fact]
    public async Task Bad_hosted_agent_configs_get_clear_errors_and_nothing_is_stored()
    {
        await using var hub = await TestHub.StartAsync(settings: Provider(new Uri("http://127.0.0.1:1/v1")));
        var user = hub.Client((await hub.NewUserAsync()).AccessToken);
        async Task<JsonElement> Refused(object? config)
        {
            var res = await user.PostAsJsonAsync("api/v1/agents", new { name = "bad", type = "llm", config, auto_start = true });
            return (await ErrorAsync(res, HttpStatusCode.BadRequest, ErrorCodes.ValidationError)).GetProperty("details");
        }
        Assert.Contains("unknown provider 'nope'; configured providers: local", (await Refused(new { provider = "nope" })).GetProperty("config.provider")[0].GetString());
        Assert.Contains("model 'gpt-9' is not offered by provider 'local'; models: m1, m2", (await Refused(new { provider = "local", model = "gpt-9" })).GetProperty("config.model")[0].GetString());
        Assert.Contains("is required", (await Refused(null)).GetProperty("config")[0].GetString());
        Assert.Contains("allow_agent_base_url", (await Refused(new { provider = "local", base_url = "http://169.254.169.254/v1" })).GetProperty("config.base_url")[0].GetString());
        Assert.Contains("KAI_LLM_", (await Refused(new { provider = "local", api_key_ref = "DATABASE_PASSWORD" })).GetProperty("config.api_key_ref")[0].GetString());
        Assert.True((await Refused(new { provider = "local", api_key = "a", api_key_ref = "KAI_LLM_X" })).TryGetProperty("config.api_key", out _));
        Assert.True((await Refused(new { provider = "local", temperature = 3 })).TryGetProperty("config.temperature", out _));
        Assert.True((await Refused(new { provider = "local", max_tokens = 0 })).TryGetProperty("config.max_tokens", out _));

        var list = await user.GetFromJsonAsync<AgentListResponse>("api/v1/agents", KaiJson.Options);
        Assert.Equal(0, list!.Total);
    }

    [SkippableFact]
    public async Task Inline_api_keys_are_encrypted_used_and_never_returned_by_any_get()
    {
        const string secret = "sk-inline-secret-7f3a9";
        await using var llm = await LlmServer.StartScriptedAsync();
        var hub = await TestHub.StartAsync(settings: Provider(llm.BaseUrl));
        var login = await hub.NewUserAsync();
        var user = hub.Client(login.AccessToken);
        var agentId = await CreateLlmAgentAsync(user, new { provider = "local", api_key = secret, system_prompt = "s" });

        // The key reaches the LLM server, so it was stored and decrypted.
        Assert.Equal(Sha("Bearer " + secret), Echo(await ChatAsync(user, agentId, new { prompt = "who am i" })).GetProperty("authorization_sha256").GetString());

        foreach (var path in new[] { $"api/v1/agents/{agentId}", "api/v1/agents", $"api/v1/agents/{agentId}/status", "api/v1/providers" })
        {
            var body = await user.GetStringAsync(path);
            Assert.DoesNotContain(secret, body);
            Assert.DoesNotContain("api_key\"", body);
        }

        // A config update without a key keeps the stored one; the shown config never has it.
        var put = await user.PutAsJsonAsync($"api/v1/agents/{agentId}", new { config = new { provider = "local", model = "m2", system_prompt = "t" } });
        Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        var echoed = Echo(await ChatAsync(user, agentId, new { prompt = "after update" }));
        Assert.Equal(Sha("Bearer " + secret), echoed.GetProperty("authorization_sha256").GetString());
        Assert.Equal("m2", echoed.GetProperty("model").GetString());
        Assert.DoesNotContain(secret, await user.GetStringAsync($"api/v1/agents/{agentId}"));

        // Nor is it in the database file in clear.
        await hub.DisposeAsyncKeepingData();
        foreach (var file in Directory.GetFiles(hub.DataDirectory, "kai.db*"))
        {
            var bytes = await File.ReadAllBytesAsync(file);
            Assert.DoesNotContain(secret, Encoding.UTF8.GetString(bytes));
        }
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(hub.DataDirectory, "keys", "dataprotection")));

        // Referenced by environment variable instead: the value is read at start and sent, the name alone is shown.
        Environment.SetEnvironmentVariable("KAI_LLM_TEST_KEY_7F3A", "sk-from-env-31");
        await using var again = await TestHub.StartAsync(dataDirectory: hub.DataDirectory, settings: Provider(llm.BaseUrl));
        var loggedIn = await again.Http.PostAsJsonAsync("api/v1/auth/login", new { email = login.UserProfile.Email, password = "correct-horse-battery" });
        var relogin = again.Client((await loggedIn.Content.ReadFromJsonAsync<TokenResponse>(KaiJson.Options))!.AccessToken);
        // The key ring persisted under the data directory, so the stored key still decrypts after a restart.
        Assert.Equal(Sha("Bearer " + secret), Echo(await ChatAsync(relogin, agentId, new { prompt = "after boot" })).GetProperty("authorization_sha256").GetString());
        var byRef = await CreateLlmAgentAsync(relogin, new { provider = "local", api_key_ref = "KAI_LLM_TEST_KEY_7F3A" }, name: "by-ref");
        Assert.Equal(Sha("Bearer sk-from-env-31"), Echo(await ChatAsync(relogin, byRef, new { prompt = "env" })).GetProperty("authorization_sha256").GetString());
        var shown = await relogin.GetStringAsync($"api/v1/agents/{byRef}");
        Assert.Contains("KAI_LLM_TEST_KEY_7F3A", shown);
        Assert.DoesNotContain("sk-from-env-31", shown);
    }

    [SkippableFact]
    public async Task Restart_starts_a_hosted_agent_and_another_tenant_cannot_restart_it_and_delete_stops_it()
    {
        await using var llm = await LlmServer.StartScriptedAsync();
        await using var hub = await TestHub.StartAsync(settings: Provider(llm.BaseUrl));
        var user = hub.Client((await hub.NewUserAsync()).AccessToken);
        var agentId = await CreateLlmAgentAsync(user, new { provider = "local" }, autoStart: false);
        Assert.Equal("offline", (await user.GetFromJsonAsync<AgentView>($"api/v1/agents/{agentId}", KaiJson.Options))!.Status);
        var queued = await user.PostAsJsonAsync($"api/v1/agents/{agentId}/command", new { command = "chat", parameters = new { prompt = "queued" }, timeout = 0 });
        var commandId = (await queued.Content.ReadFromJsonAsync<CommandResponse>(KaiJson.Options))!.CommandId;

        var stranger = hub.Client((await hub.NewUserAsync()).AccessToken);
        await ErrorAsync(await stranger.PostAsync($"api/v1/agents/{agentId}/restart", null), HttpStatusCode.NotFound, ErrorCodes.AgentNotFound);
        Assert.Equal("offline", (await user.GetFromJsonAsync<AgentView>($"api/v1/agents/{agentId}", KaiJson.Options))!.Status);

        var restarted = await user.PostAsync($"api/v1/agents/{agentId}/restart", null);
        Assert.Equal(HttpStatusCode.OK, restarted.StatusCode);
        Assert.Equal("active", (await user.GetFromJsonAsync<AgentView>($"api/v1/agents/{agentId}", KaiJson.Options))!.Status);
        Assert.Equal("after restart", Echo(await ChatAsync(user, agentId, new { prompt = "after restart" })).GetProperty("messages")[0].GetProperty("content").GetString());

        // The command sent while it was stopped was delivered when it started (as to an agent that connects).
        var pending = await WaitForCommandAsync(hub, commandId);
        Assert.Equal("completed", pending.Status);

        Assert.Equal(HttpStatusCode.OK, (await user.PostAsync($"api/v1/agents/{agentId}/restart", null)).StatusCode);
        Assert.Equal("completed", (await ChatAsync(user, agentId, new { prompt = "twice" })).Status);

        Assert.Equal(HttpStatusCode.OK, (await user.DeleteAsync($"api/v1/agents/{agentId}")).StatusCode);
        Assert.False(hub.Service<Kai.Hub.Hosting.HostedAgentSupervisor>().IsRunning(agentId));
        Assert.Null(await hub.Service<Kai.Hub.Hosting.IHostedAgentStore>().GetAsync(agentId, CancellationToken.None));
    }

    private static async Task<Kai.Hub.Storage.CommandRecord> WaitForCommandAsync(TestHub hub, string commandId)
    {
        var store = hub.Service<Kai.Hub.Storage.IHubStore>();
        for (var i = 0; i < 600; i++)
        {
            var c = await store.GetCommandAsync(commandId, CancellationToken.None);
            if (c is { Status: "completed" or "failed" })
            {
                return c;
            }
            await Task.Delay(50);
        }
        throw new Xunit.Sdk.XunitException($"command {commandId} never finished");
    }

    [SkippableFact]
    public async Task Auto_start_agents_start_at_boot_and_work_tasks_and_answer_agent_messages()
    {
        await using var llm = await LlmServer.StartScriptedAsync();
        var first = await TestHub.StartAsync(settings: Provider(llm.BaseUrl));
        var login = await first.NewUserAsync();
        var user = first.Client(login.AccessToken);
        var agentId = await CreateLlmAgentAsync(user, new { provider = "local" });
        await first.DisposeAsyncKeepingData();

        await using var hub = await TestHub.StartAsync(dataDirectory: first.DataDirectory, settings: Provider(llm.BaseUrl));
        var token = (await (await hub.Http.PostAsJsonAsync("api/v1/auth/login", new { email = login.UserProfile.Email, password = "correct-horse-battery" }))
            .Content.ReadFromJsonAsync<TokenResponse>(KaiJson.Options))!.AccessToken;
        user = hub.Client(token);
        var status = (await user.GetFromJsonAsync<AgentStatusResponse>($"api/v1/agents/{agentId}/status", KaiJson.Options))!;
        Assert.Equal("active", status.Status);

        // A task of type llm.chat goes to it like to a connected agent with that capability.
        var created = await user.PostAsJsonAsync("api/v1/tasks", new { type = "llm.chat", input_data = new { prompt = "task prompt" } });
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        var taskId = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("task_id").GetString()!;
        TaskView? task = null;
        for (var i = 0; i < 600 && task?.Status is not ("completed" or "failed"); i++)
        {
            await Task.Delay(50);
            task = await user.GetFromJsonAsync<TaskView>($"api/v1/tasks/{taskId}", KaiJson.Options);
        }
        Assert.True(task!.Status == "completed", task.Error);
        Assert.Equal(agentId, task.AssignedAgent);
        var echoed = JsonDocument.Parse(task.Result!.Value.GetProperty("text").GetString()!).RootElement;
        Assert.Equal("task prompt", echoed.GetProperty("messages")[0].GetProperty("content").GetString());

        // An agent of the same owner asks it over its live link and gets an agent_message back.
        var caller = await hub.NewAgentAsync(token);
        await using var link = await hub.ConnectAgentAsync(caller);
        await link.SendAsync("agent_message", new { to_agent = agentId, message_type = "question", content = new { prompt = "via link" }, requires_response = true, correlation_id = "c-1" }, "m1");
        Assert.Equal("ack", (await link.ReceiveAsync("ack")).Type);
        var reply = await link.ReceiveAsync("agent_message");
        Assert.Equal(agentId, reply.Payload.GetProperty("from_agent").GetString());
        Assert.Equal("c-1", reply.Payload.GetProperty("correlation_id").GetString());
        var text = reply.Payload.GetProperty("content").GetProperty("text").GetString()!;
        Assert.Equal("via link", JsonDocument.Parse(text).RootElement.GetProperty("messages")[0].GetProperty("content").GetString());

        // Another tenant's agent cannot reach it.
        var other = await hub.NewUserAsync();
        await using var foreign = await hub.ConnectAgentAsync(await hub.NewAgentAsync(other.AccessToken));
        await foreign.SendAsync("agent_message", new { to_agent = agentId, message_type = "question", content = "hi", requires_response = true }, "m2");
        Assert.Equal(ErrorCodes.AgentNotFound, (await foreign.ReceiveAsync("error")).Payload.GetProperty("code").GetString());
    }
}
