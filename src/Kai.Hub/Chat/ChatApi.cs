using System.Text.Json;
using Kai.Hub.Agents;
using Kai.Hub.Auth;
using Kai.Hub.Edges;
using Kai.Hub.Errors;
using Kai.Hub.Hosting;
using Kai.Hub.Routing;
using Kai.Hub.Security;
using Kai.Protocol;
using Kai.Protocol.Chat;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Chat;

/// <summary>
/// The AgentConnect routes (seed 003) under <c>/api</c>, outside <c>/api/v1</c>, shaped as the reference client
/// (AKKI0511/AgentConnect <c>demos/ui/frontend/src/services</c>) calls them. They are edges: each translates the request and hands
/// it to <see cref="AuthService"/>, <see cref="AgentService"/>, <see cref="ChatService"/> or the <see cref="Router"/>. Errors are
/// <c>{detail, code, timestamp}</c> (<see cref="AgentConnectErrors"/>).
/// </summary>
internal static class ChatApi
{
    public static IServiceCollection AddKaiChat(this IServiceCollection services)
    {
        services.AddOptions<ChatOptions>().BindConfiguration(ChatOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ChatOptions>, ChatOptionsValidator>();
        services.AddSingleton<IChatStore>(sp => sp.GetRequiredService<Storage.IHubStore>() is Storage.Postgres.PostgresHubStore postgres
            ? SqlChatStore.Postgres(postgres)
            : SqlChatStore.Sqlite((Storage.SqliteHubStore)sp.GetRequiredService<Storage.IHubStore>()));
        services.AddSingleton<ChatService>();
        services.AddSingleton<ChatParticipants>();
        services.AddSingleton<IDeliveryTarget>(sp => sp.GetRequiredService<ChatParticipants>());
        services.AddHostedService(sp => sp.GetRequiredService<ChatParticipants>());
        services.AddSingleton<ChatSocketEdge>();
        services.AddSingleton<ChatSocketHost>();
        return services;
    }

    public static void MapChat(this IEndpointRouteBuilder app)
    {
        var auth = app.MapGroup("/api/auth").WithTags("AgentConnect");
        auth.MapPost("/login", LoginAsync).WithName("agentConnectLogin").WithSummary("Log in with a form-encoded username (the email, or the account's name) and password (seed 003)")
            .WithErrors(401, 422, 429).AllowAnonymous("the login itself").RequireRateLimiting(RateLimitCategories.Auth).WithBodyLimit(BodyLimitExtensions.Small);
        auth.MapPost("/verify", Verify).WithName("agentConnectVerify").WithSummary("Check the bearer token and show its claims (seed 003)")
            .WithErrors(401, 429).RequirePermission(Permissions.SessionSelf).RequireRateLimiting(RateLimitCategories.Auth);

        var chat = app.MapGroup("/api/chat").WithTags("AgentConnect");
        chat.MapGet("/providers", Providers).WithName("agentConnectProviders").WithSummary("The configured LLM providers and their models, by name")
            .RequirePermission(Permissions.AgentCreate);
        chat.MapPost("/sessions/create", CreateAsync).WithName("createChatSession").WithSummary("Create a human_agent or agent_agent chat session (seed 003)")
            .WithErrors(404, 422, 429).RequirePermission(Permissions.AgentCommandOwn).RequireRateLimiting(RateLimitCategories.SessionCreate).WithBodyLimit(BodyLimitExtensions.Small * 4);
        chat.MapGet("/sessions/{sessionId}", GetAsync).WithName("getChatSession").WithSummary("A chat session, with its messages when include_messages=true")
            .WithErrors(404, 429).RequirePermission(Permissions.AgentCommandOwn).RequireRateLimiting(RateLimitCategories.SessionQuery);
        chat.MapDelete("/sessions/{sessionId}", DeleteAsync).WithName("deleteChatSession").WithSummary("End a chat session; answers a JSON body, not 204")
            .WithErrors(404, 429).RequirePermission(Permissions.AgentCommandOwn).RequireRateLimiting(RateLimitCategories.SessionQuery);
        chat.Map("/ws/{sessionId}", (HttpContext http, ChatSocketHost host, ChatSocketEdge edge, ChatService service) =>
                host.RunAsync(http, edge, new ChatLinkLimits(service.Options.PingInterval, service.Options.InactivityTimeout, service.Options.InactivityGrace,
                    service.Options.MessagesPerMinute, service.Options.MaxMessageBytes)))
            .WithTags("WebSocket").ExcludeFromDescription()
            .AllowAnonymous("authenticates itself after the upgrade (close 4003); the session must be the caller's (ChatService.AdmitAsync through Access)");

        var agents = app.MapGroup("/api/agents").WithTags("AgentConnect").RequireRateLimiting(RateLimitCategories.AgentOperations);
        agents.MapGet("/list", ListAgentsAsync).WithName("agentConnectListAgents").WithSummary("The caller's agents as seed 003 AgentStatus").RequirePermission(Permissions.AgentReadOwn);
        agents.MapGet("/status/{agentId}", StatusAsync).WithName("agentConnectAgentStatus").WithSummary("One agent as seed 003 AgentStatus").WithErrors(404).RequirePermission(Permissions.AgentReadOwn);
        agents.MapGet("/{agentId}/capabilities", CapabilitiesAsync).WithName("agentConnectAgentCapabilities").WithSummary("An agent's capabilities and interaction modes")
            .WithErrors(404).RequirePermission(Permissions.AgentReadOwn);
        agents.MapPost("/{agentId}/message", MessageAsync).WithName("agentConnectSendMessage").WithSummary("Send a message from one of the caller's agents to another agent")
            .WithErrors(404, 422, 503).RequirePermission(Permissions.AgentCommandOwn).WithBodyLimit(BodyLimitExtensions.Small * 4);
        agents.MapPost("/register", RegisterAsync).WithName("agentConnectRegisterAgent").WithSummary("Register a hosted LLM agent of a configured provider")
            .WithErrors(409, 422).RequirePermission(Permissions.AgentCreate).WithBodyLimit(BodyLimitExtensions.Small);
        agents.MapDelete("/{agentId}", UnregisterAsync).WithName("agentConnectUnregisterAgent").WithSummary("Delete one of the caller's agents").WithErrors(404)
            .RequirePermission(Permissions.AgentDeleteOwn);

        app.MapGet("/api/v1/chat/sessions/{sessionId}/messages", MessagesAsync).WithTags("Chat").WithName("listChatMessages")
            .WithSummary("A chat session's history, oldest first, paged with after (a message's seq cursor) and limit").WithErrors(404)
            .RequirePermission(Permissions.AgentCommandOwn).RequireRateLimiting(RateLimitCategories.SessionQuery);
    }

    // ---- auth ----

    private static async Task<Ok<AgentConnectToken>> LoginAsync(HttpContext http, AuthService auth, TokenService tokens, CancellationToken ct)
    {
        if (!http.Request.HasFormContentType)
        {
            throw new ApiException(ErrorCodes.ValidationError, "Send the login as application/x-www-form-urlencoded: username=<email or account name>&password=<password>.",
                new Dictionary<string, string[]> { ["body"] = ["must be form-encoded"] });
        }
        IFormCollection form;
        try
        {
            form = await http.Request.ReadFormAsync(ct);
        }
        catch (InvalidDataException e)
        {
            throw new ApiException(ErrorCodes.ValidationError, "The form is malformed: " + e.Message, new Dictionary<string, string[]> { ["body"] = ["malformed form"] });
        }
        string? username = form["username"], password = form["password"];
        new Validation().Length(username, "username", 1, 254).Length(password, "password", 1, 1024).ThrowIfInvalid();
        try
        {
            // username is the account's email, or its name where one is set (RegisterRequest.Username).
            var token = await auth.LoginAsync(new LoginRequest(await auth.LoginEmailAsync(username!, ct), password!), http.Connection.RemoteIpAddress?.ToString(), ct);
            return TypedResults.Ok(new AgentConnectToken(token.AccessToken, "bearer", token.ExpiresIn));
        }
        catch (LockedOutException ex)
        {
            var seconds = KaiRateLimits.SetRetryAfter(http, ex.Wait);
            throw new ApiException(ErrorCodes.RateLimitExceeded, $"Too many failed logins; retry after {seconds} s.", new Dictionary<string, object> { ["retry_after"] = seconds });
        }
    }

    private static Ok<TokenVerification> Verify(HttpContext http, TimeProvider time, TokenService tokens)
    {
        var p = http.Principal();
        var exp = p.ExpiresAt.ToUnixTimeSeconds();
        var iat = long.TryParse(http.User.FindFirst("iat")?.Value, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var i)
            ? i : exp - (long)tokens.AccessLifetime.TotalSeconds;
        return TypedResults.Ok(new TokenVerification(true, p.Id, "access", exp, iat, time.GetUtcNow()));
    }

    // ---- chat ----

    private static Ok<Dictionary<string, ChatProviderView>> Providers(IOptions<Dictionary<string, ProviderOptions>> providers) =>
        TypedResults.Ok(providers.Value.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToDictionary(kv => kv.Key,
            kv => new ChatProviderView(kv.Key, kv.Value.Models.Count > 0 ? kv.Value.Models : [kv.Value.DefaultModel!], kv.Value.DefaultModel ?? kv.Value.Models.FirstOrDefault()),
            StringComparer.Ordinal));

    private static async Task<Ok<ChatSessionResponse>> CreateAsync(
        [FromBody(EmptyBodyBehavior = Microsoft.AspNetCore.Mvc.ModelBinding.EmptyBodyBehavior.Allow)] CreateChatSessionRequest? request,
        HttpContext http, ChatService chat, CancellationToken ct) =>
        TypedResults.Ok(await chat.CreateAsync(http.Principal(), request, ct));

    private static async Task<Ok<ChatSessionResponse>> GetAsync(string sessionId, bool? include_messages, HttpContext http, ChatService chat, CancellationToken ct) =>
        TypedResults.Ok(await chat.GetAsync(http.Principal(), sessionId, include_messages ?? false, ct));

    private static async Task<Ok<ChatStatusResponse>> DeleteAsync(string sessionId, HttpContext http, ChatService chat, CancellationToken ct) =>
        TypedResults.Ok(await chat.DeleteAsync(http.Principal(), sessionId, ct));

    private static async Task<Ok<ChatMessagePage>> MessagesAsync(string sessionId, long? after, int? limit, HttpContext http, ChatService chat, CancellationToken ct) =>
        TypedResults.Ok(await chat.MessagesAsync(http.Principal(), sessionId, after, limit, ct));

    // ---- agents ----

    private static async Task<Ok<AgentConnectList>> ListAgentsAsync(HttpContext http, AgentService agents, ChatService chat, IChatStore store, TimeProvider time, CancellationToken ct)
    {
        var p = http.Principal();
        var list = await agents.ListAsync(p, null, null, null, 100, 0, ct);
        var views = new List<AgentConnectStatus>();
        foreach (var a in list.Agents)
        {
            views.Add(await StatusOfAsync(a, store, ct));
        }
        // The reference backend lists the agents of running sessions too (it registers them); so does this, from the sessions.
        var participants = await chat.ActiveParticipantsAsync(p, ct);
        views.AddRange(participants.Select(StatusOf));
        return TypedResults.Ok(new AgentConnectList(views, time.GetUtcNow(), list.Total + participants.Count,
            list.Agents.Count(a => Access.IsTenant(a.OwnerId, p.OwnerId)) + participants.Count(x => Access.IsTenant(x.Session.OwnerId, p.OwnerId))));
    }

    private static async Task<Ok<AgentConnectStatus>> StatusAsync(string agentId, HttpContext http, AgentService agents, ChatService chat, IChatStore store, CancellationToken ct) =>
        ChatService.SessionOf(agentId) is not null
            ? TypedResults.Ok(StatusOf(await chat.ParticipantAsync(http.Principal(), agentId, ct) ?? throw ApiException.AgentNotFound(agentId)))
            : TypedResults.Ok(await StatusOfAsync(await agents.GetAsync(http.Principal(), agentId, ct), store, ct));

    private static async Task<Ok<AgentCapabilities>> CapabilitiesAsync(string agentId, HttpContext http, AgentService agents, ChatService chat, TimeProvider time, CancellationToken ct)
    {
        if (ChatService.SessionOf(agentId) is not null)
        {
            var x = await chat.ParticipantAsync(http.Principal(), agentId, ct) ?? throw ApiException.AgentNotFound(agentId);
            return TypedResults.Ok(new AgentCapabilities(agentId, ParticipantType, x.Agent.Capabilities, ModesOf(x.Session), x.Agent.Personality, x.Session.OwnerId, time.GetUtcNow()));
        }
        var a = await agents.GetAsync(http.Principal(), agentId, ct);
        return TypedResults.Ok(new AgentCapabilities(a.AgentId, a.Type, a.Capabilities, InteractionModes, Config(a.Config, "system_prompt"), a.OwnerId, time.GetUtcNow()));
    }

    private static async Task<Ok<AgentMessageResponse>> MessageAsync(
        string agentId, [FromBody(EmptyBodyBehavior = Microsoft.AspNetCore.Mvc.ModelBinding.EmptyBodyBehavior.Allow)] AgentMessageRequest? request,
        HttpContext http, AgentService agents, Router router, TimeProvider time, CancellationToken ct)
    {
        var p = http.Principal();
        new Validation()
            .Check(request is not null, "body", "is required: {receiver_id, content, message_type, structured_data?, metadata?}")
            .Length(request?.ReceiverId, "receiver_id", 1, 64)
            .Length(request?.Content, "content", 1, 32 * 1024)
            .Length(request?.MessageType, "message_type", 1, 64)
            .Object(request?.StructuredData, "structured_data")
            .Object(request?.Metadata, "metadata")
            .ThrowIfInvalid();
        // The sender must be one of the caller's agents (another tenant's looks unknown).
        var sender = await agents.GetAsync(p, agentId, ct);
        var now = time.GetUtcNow();
        var messageId = "msg_" + Guid.CreateVersion7().ToString("N");
        var content = JsonSerializer.SerializeToElement(new Dictionary<string, object?>
        {
            ["content"] = request!.Content,
            ["message_type"] = request.MessageType,
            ["structured_data"] = request.StructuredData,
            ["metadata"] = request.Metadata,
        }, KaiJson.Options);
        var frame = Frame.Encode(FrameTypes.AgentMessage, new AgentMessageDelivery(sender.AgentId, request.MessageType!, content, false, messageId), timestamp: now);
        var routed = await router.RouteAsync(new Envelope(FrameTypes.AgentMessage, Address.Agent(request.ReceiverId!), frame, p) { CorrelationId = messageId }, ct);
        return routed.Status switch
        {
            RouteStatus.Delivered => TypedResults.Ok(new AgentMessageResponse("success", messageId, sender.AgentId, request.ReceiverId!, now)),
            RouteStatus.RateLimited => throw new ApiException(ErrorCodes.RateLimitExceeded, "This principal routes more than its budget; slow down.",
                new Dictionary<string, int> { ["retry_after"] = (int)Math.Ceiling(routed.RetryAfter?.TotalSeconds ?? 1) }),
            RouteStatus.Unavailable => throw new ApiException(ErrorCodes.AgentUnavailable, $"Agent '{request.ReceiverId}' is not connected; live messages are not stored.",
                new Dictionary<string, string> { ["agent_id"] = request.ReceiverId! }),
            _ => throw ApiException.AgentNotFound(request.ReceiverId!),
        };
    }

    private static async Task<Ok<Dictionary<string, string>>> RegisterAsync(
        [FromBody(EmptyBodyBehavior = Microsoft.AspNetCore.Mvc.ModelBinding.EmptyBodyBehavior.Allow)] AgentConnectConfig? request,
        HttpContext http, AgentService agents, CancellationToken ct)
    {
        new Validation()
            .Check(request is not null, "body", "is required: {name, provider, model?, capabilities?, interaction_modes?, personality?, metadata?}")
            .Length(request?.Name, "name", 1, 100)
            .Length(request?.Provider, "provider", 1, 64)
            .Length(request?.Personality, "personality", 1, 4000, required: false)
            .ThrowIfInvalid();
        var config = JsonSerializer.SerializeToElement(new Dictionary<string, object?>
        {
            ["provider"] = request!.Provider,
            ["model"] = request.Model,
            ["system_prompt"] = request.Personality,
        }, KaiJson.Options);
        var created = await agents.CreateAsync(http.Principal(), new CreateAgentRequest(request.Name!, HostedAgentSupervisor.LlmType, request.Capabilities, config, true),
            $"{http.Request.Scheme}://{http.Request.Host}", ct);
        return TypedResults.Ok(new Dictionary<string, string> { ["agent_id"] = created.AgentId, ["status"] = "registered" });
    }

    private static async Task<Ok<ChatStatusResponse>> UnregisterAsync(string agentId, HttpContext http, AgentService agents, CancellationToken ct)
    {
        await agents.DeleteAsync(http.Principal(), agentId, ct);
        return TypedResults.Ok(new ChatStatusResponse("success", "Agent unregistered"));
    }

    private static readonly string[] InteractionModes = ["human_to_agent", "agent_to_agent"];

    /// <summary>Seed 003's <c>AgentType.AI</c>: what a session's hosted participant is.</summary>
    private const string ParticipantType = "ai";

    private static string[] ModesOf(ChatSessionRow session) => session.SessionType == ChatSessionTypes.AgentAgent ? ["agent_to_agent"] : ["human_to_agent"];

    private static AgentConnectStatus StatusOf(ChatParticipant x) =>
        new(x.Agent.AgentId, ParticipantType, null, x.Session.IsActive ? "active" : "inactive", x.LastActive, x.Agent.Capabilities, ModesOf(x.Session),
            x.Session.OwnerId, x.Session.IsActive, x.MessageCount, new Dictionary<string, object?>
            {
                ["provider"] = x.Agent.Provider,
                ["model"] = x.Agent.Model,
                ["cooldown_until"] = null,
                ["active_conversations"] = x.Session.IsActive ? 1 : 0,
                ["session_id"] = x.Session.SessionId,
            });

    private static async Task<AgentConnectStatus> StatusOfAsync(AgentView a, IChatStore store, CancellationToken ct) =>
        new(a.AgentId, a.Type, a.Name, a.Status switch
        {
            AgentStatuses.Active or AgentStatuses.Idle => "active",
            AgentStatuses.Error => "error",
            _ => "inactive",
        }, a.LastActivity ?? a.UpdatedAt, a.Capabilities, InteractionModes, a.OwnerId, a.Connected, await store.CountBySenderAsync(a.AgentId, ct),
            new Dictionary<string, object?> { ["provider"] = Config(a.Config, "provider"), ["model"] = Config(a.Config, "model"), ["cooldown_until"] = null });

    private static string? Config(JsonElement config, string name) =>
        config.ValueKind == JsonValueKind.Object && config.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>Reports every problem of <c>Kai:Chat</c> at start.</summary>
    private sealed class ChatOptionsValidator : IValidateOptions<ChatOptions>
    {
        public ValidateOptionsResult Validate(string? name, ChatOptions options) =>
            options.Problems().ToList() is { Count: > 0 } problems
                ? ValidateOptionsResult.Fail($"Invalid {ChatOptions.Section}: {string.Join("; ", problems)}.")
                : ValidateOptionsResult.Success;
    }
}

/// <summary><c>POST /api/agents/register</c> body (the reference client's <c>registerAgent</c>, seed 003 <c>AgentConfig</c>).</summary>
internal sealed record AgentConnectConfig(
    string? Name, string? Provider, string? Model, IReadOnlyList<string>? Capabilities, IReadOnlyList<string>? InteractionModes, string? Personality, JsonElement? Metadata);
