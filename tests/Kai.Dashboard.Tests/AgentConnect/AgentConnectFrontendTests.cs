using System.Collections.Concurrent;
using System.Text.Json;
using Kai.Hub.Tests.Hosting;
using Kai.Testing;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Kai.Dashboard.Tests.AgentConnect;

/// <summary>
/// AgentConnect's own demo frontend (AKKI0511/AgentConnect demos/ui/frontend, vendored unchanged in tests/agentconnect-frontend)
/// served by its own Vite, in Debian's chromium, against a real hub whose hosted LLM participants talk to the scripted
/// OpenAI-compatible server in its own process. Every step is what a person does on its pages; the two calls its pages do not
/// make (list agents, delete a human_agent session) go through the page's own <c>apiService</c> module.
/// </summary>
public sealed class AgentConnectFrontendTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    private const string Email = "ada@example.com";
    private const string Password = "correct-horse-battery";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private static Dictionary<string, string> Settings(Uri llm, int frontendPort)
    {
        var s = LlmServer.ProviderSettings(llm, retries: 0);
        // The page is another origin: the hub allows it for REST (CORS) and WebSockets, as a deployment of this frontend would.
        s["Kai:Security:AllowedOrigins:0"] = $"http://127.0.0.1:{frontendPort}";
        s["Kai:Chat:MaxTurns"] = "4";
        // The scripted server echoes its whole prompt, the system prompt too: keep the goal marker out of it.
        s["Kai:Chat:GoalInstruction"] = "false";
        return s;
    }

    private static Task ShotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(BrowserFixture.Screenshots, "agentconnect-" + name + ".png") });

    private static string Type(JsonElement m) => m.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "";

    [SkippableFact]
    public async Task The_reference_frontend_logs_in_chats_with_a_streamed_answer_watches_two_agents_lists_agents_and_deletes_sessions()
    {
        var chromium = browser.RequireChromium();
        AgentConnectFrontend.Require();
        await using var llm = await LlmServer.StartScriptedAsync();
        var port = AgentConnectFrontend.FreePort();
        await using var hub = await TestHub.StartAsync(settings: Settings(llm.BaseUrl, port));
        await hub.NewUserAsync(Email, Password);
        await using var frontend = await AgentConnectFrontend.StartAsync(port, hub.BaseAddress);
        SetDefaultExpectTimeout((float)Wait.TotalMilliseconds);

        await using var context = await chromium.NewContextAsync(new BrowserNewContextOptions { BaseURL = frontend.Origin });
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout((float)Wait.TotalMilliseconds);
        var problems = new ConcurrentQueue<string>();
        page.Console += (_, m) => { if (m.Type == "error") problems.Enqueue(m.Text); };
        page.PageError += (_, e) => problems.Enqueue(e);
        // Every chat frame the page's WebSocket receives, in order.
        var frames = new ConcurrentQueue<JsonElement>();
        page.WebSocket += (_, ws) => ws.FrameReceived += (_, f) =>
        {
            if (f.Text is { } text)
            {
                frames.Enqueue(JsonDocument.Parse(text).RootElement.Clone());
            }
        };

        // ---- log in (form-encoded, /api/auth/login, then /api/auth/verify) ----
        await page.GotoAsync("/login");
        await page.Locator("#username").FillAsync(Email);
        await page.Locator("#password").FillAsync(Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(frontend.Origin + "/");
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Chat", Exact = true })).ToBeVisibleAsync();
        await ShotAsync(page, "home");

        // ---- human_agent: providers listed, a session created, a streamed answer shown as the assistant's ----
        await page.GetByRole(AriaRole.Link, new() { Name = "Chat", Exact = true }).ClickAsync();
        var selects = page.Locator("select");
        await Expect(selects.Nth(0)).ToHaveValueAsync("local");
        await Expect(selects.Nth(1)).ToHaveValueAsync("m1");
        await Expect(selects.Nth(1).Locator("option")).ToHaveTextAsync(["m1", "m2"]);
        // React's StrictMode fetches the providers twice and each answer resets the model: pick one once both are in.
        await page.WaitForLoadStateAsync(LoadState.NetworkIdle);
        await selects.Nth(1).SelectOptionAsync("m2");
        await Expect(selects.Nth(1)).ToHaveValueAsync("m2");
        var createResponse = await page.RunAndWaitForResponseAsync(
            () => page.GetByRole(AriaRole.Button, new() { Name = "Start Chat Session" }).ClickAsync(),
            r => r.Url.EndsWith("/api/chat/sessions/create", StringComparison.Ordinal) && r.Request.Method == "POST");
        Assert.Equal(200, createResponse.Status);
        var chat = (await createResponse.JsonAsync())!.Value;
        var chatId = chat.GetProperty("session_id").GetString()!;
        var aiId = chat.GetProperty("agents").GetProperty("ai_agent").GetProperty("agent_id").GetString()!;

        var input = page.GetByPlaceholder("Type a message...");
        await input.FillAsync("hello there");
        await input.PressAsync("Enter");
        // The hook shows its own message at once, and the answer only when its sender is agents.ai_agent.agent_id
        // (it is then labelled "assistant" and drawn as a RESPONSE, on the left).
        var assistant = page.Locator("div.group", new() { Has = page.GetByText("assistant", new() { Exact = true }) });
        await Expect(assistant).ToHaveCountAsync(1);
        await Expect(assistant).ToContainTextAsync("RESPONSE");
        await Expect(assistant).ToContainTextAsync("\"model\":\"m2\"");
        await Expect(assistant).ToContainTextAsync("helpful and professional"); // the page's personality became the system prompt
        await Expect(page.Locator("div.group", new() { Has = page.GetByText("user", new() { Exact = true }) })).ToContainTextAsync("hello there");
        await ShotAsync(page, "chat");
        // Streamed: the page's socket got the answer's chunks (info frames) before the text frame, and they add up to it.
        var received = frames.ToList();
        var answerAt = received.FindIndex(m => Type(m) == "text");
        Assert.True(answerAt > 0, string.Join("\n", received.Select(m => m.GetRawText())));
        var answer = received[answerAt];
        Assert.Equal(aiId, answer.GetProperty("sender").GetString());
        var chunks = received.Take(answerAt).Where(m => Type(m) == "info" && m.GetProperty("metadata").TryGetProperty("stream", out _)).ToList();
        Assert.True(chunks.Count > 1, "the answer was not streamed in chunks");
        Assert.Equal(answer.GetProperty("content").GetString(), string.Concat(chunks.Select(c => c.GetProperty("content").GetString())));
        Assert.DoesNotContain(received, m => Type(m) == "text" && m.GetProperty("sender").GetString() != aiId); // the user's text is not echoed

        // ---- agent_agent: two agents talk on their own, their statuses shown beside the conversation ----
        await page.GetByRole(AriaRole.Link, new() { Name = "Collaborate", Exact = true }).ClickAsync();
        await Expect(page.Locator("select").Nth(0)).ToHaveValueAsync("local");
        var collabResponse = await page.RunAndWaitForResponseAsync(
            () => page.GetByRole(AriaRole.Button, new() { Name = "Start Agent Collaboration" }).ClickAsync(),
            r => r.Url.EndsWith("/api/chat/sessions/create", StringComparison.Ordinal) && r.Request.Method == "POST");
        Assert.Equal(200, collabResponse.Status);
        var collab = (await collabResponse.JsonAsync())!.Value;
        var collabId = collab.GetProperty("session_id").GetString()!;
        Assert.Equal("ai1_" + collabId, collab.GetProperty("agents").GetProperty("agent1").GetProperty("agent_id").GetString());
        // The page asks /api/agents/status for both participants and shows a panel for each only when both answered.
        await Expect(page.GetByText("Problem Solver Status")).ToBeVisibleAsync();
        await Expect(page.GetByText("Creative Assistant Status")).ToBeVisibleAsync();

        var topic = page.GetByPlaceholder("Type a message...");
        await topic.FillAsync("talk about tides");
        await topic.PressAsync("Enter");
        // Four turns (Kai:Chat:MaxTurns), alternating, each labelled with its sender's id (a span under the message). The
        // status panels' headings show the ids too (participants have no name), so the labels are counted apart from them:
        // counting every exact text passed only while the test caught the moment of one message and one panel.
        await Expect(page.Locator($"span:text-is('ai1_{collabId}')")).ToHaveCountAsync(2);
        await Expect(page.Locator($"span:text-is('ai2_{collabId}')")).ToHaveCountAsync(2);
        await Expect(page.Locator($"h3:text-is('ai1_{collabId}')")).ToHaveCountAsync(1);
        await Expect(page.Locator($"h3:text-is('ai2_{collabId}')")).ToHaveCountAsync(1);
        await ShotAsync(page, "collaboration");
        var turns = frames.Where(m => Type(m) == "text" && m.GetProperty("sender").GetString()!.EndsWith(collabId, StringComparison.Ordinal))
            .Select(m => m.GetProperty("sender").GetString()!).ToArray();
        Assert.Equal(["ai1_" + collabId, "ai2_" + collabId, "ai1_" + collabId, "ai2_" + collabId], turns);

        // ---- list agents, through the page's own apiService (its pages never call it) ----
        var list = await page.EvaluateAsync<JsonElement>("() => import('/src/services/api.ts').then(m => m.apiService.listAgents())");
        var listed = list.GetProperty("agents").EnumerateArray().ToDictionary(a => a.GetProperty("agent_id").GetString()!);
        Assert.True(listed.ContainsKey("ai1_" + collabId) && listed.ContainsKey("ai2_" + collabId), list.GetRawText());
        Assert.Equal(2, listed["ai1_" + collabId].GetProperty("message_count").GetInt32());
        Assert.Equal(list.GetProperty("agents").GetArrayLength(), list.GetProperty("total_count").GetInt32());

        // ---- delete both sessions: the page's "New Session" button deletes the collaboration; the chat through apiService ----
        var deleteResponse = await page.RunAndWaitForResponseAsync(
            () => page.GetByRole(AriaRole.Button, new() { Name = "New Session" }).ClickAsync(),
            r => r.Url.EndsWith("/api/chat/sessions/" + collabId, StringComparison.Ordinal) && r.Request.Method == "DELETE");
        Assert.Equal(200, deleteResponse.Status);
        Assert.Equal("success", (await deleteResponse.JsonAsync())!.Value.GetProperty("status").GetString());
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Start Agent Collaboration" })).ToBeVisibleAsync();
        await page.EvaluateAsync("sid => import('/src/services/api.ts').then(m => m.apiService.deleteSession(sid))", chatId);
        await Expect(page).ToHaveURLAsync(frontend.Origin + "/collaboration"); // still logged in: no 401 made the client log out

        using var owner = hub.Client(await LoginAsync(hub));
        foreach (var sid in new[] { chatId, collabId })
        {
            var session = JsonDocument.Parse(await owner.GetStringAsync($"api/chat/sessions/{sid}")).RootElement;
            Assert.Equal("ended", session.GetProperty("status").GetString());
        }
        var after = await page.EvaluateAsync<JsonElement>("() => import('/src/services/api.ts').then(m => m.apiService.listAgents())");
        Assert.DoesNotContain(after.GetProperty("agents").EnumerateArray(), a => a.GetProperty("agent_id").GetString()!.EndsWith(collabId, StringComparison.Ordinal));
        Assert.True(problems.IsEmpty, "the page reported errors:\n" + string.Join("\n", problems));
    }

    private static async Task<string> LoginAsync(TestHub hub)
    {
        using var res = await hub.Http.PostAsync("api/auth/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["username"] = Email, ["password"] = Password }));
        res.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await res.Content.ReadAsStringAsync()).RootElement.GetProperty("access_token").GetString()!;
    }
}
