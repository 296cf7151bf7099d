using System.ComponentModel;
using System.Text.Json;
using Kai.Hub.Agents;
using Kai.Hub.Auth;
using Kai.Hub.Commands;
using Kai.Hub.Errors;
using Kai.Hub.Events;
using Kai.Hub.Routing;
using Kai.Hub.Security;
using Kai.Hub.Tasks;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Protocol.Rest;
using Microsoft.Extensions.Options;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Kai.Hub.Mcp;

/// <summary>
/// The hub's MCP tools (docs/protocol.md, "MCP"). Each tool is an edge: it checks the permission its REST twin requires, then calls
/// the same service as the caller's principal; ownership and reach are decided there and in <see cref="Access"/>, never here.
/// Answers are the REST shapes (snake_case JSON) as text; a hub error becomes a tool error whose text starts with the error code.
/// </summary>
[McpServerToolType]
internal sealed class KaiMcpTools(
    IHttpContextAccessor http, AgentService agents, AgentAccess agentAccess, CommandService commands, TaskService tasks, AgentAsks asks,
    Router router, EventLog log, IOptions<EventOptions> eventOptions, AuditLog audit, TimeProvider time)
{
    /// <summary>The default and largest wait of the waiting tools, in seconds.</summary>
    public const int DefaultWaitSeconds = 30;

    [McpServerTool(Name = "list_agents", ReadOnly = true, Title = "List agents")]
    [Description("Lists the agents the caller can see (its own; admins: all), with presence and capabilities. Same as GET /api/v1/agents.")]
    public Task<CallToolResult> ListAgents(
        [Description("Filter by status: online, offline, busy, error or maintenance.")] string? status = null,
        [Description("Only agents with this capability.")] string? capability = null,
        [Description("Only agents of this type.")] string? type = null,
        [Description("Page size, 1 to 100 (default 20).")] int? limit = null,
        [Description("Items to skip (default 0).")] int? offset = null,
        CancellationToken ct = default) =>
        RunAsync("list_agents", Permissions.AgentReadOwn, p => agents.ListAsync(p, status, capability, type, limit, offset, ct));

    [McpServerTool(Name = "send_command", Title = "Send a command to an agent")]
    [Description("Sends a command to one of the caller's agents and waits up to `timeout` seconds for its result (the command's deadline). Same as POST /api/v1/agents/{agent_id}/command.")]
    public Task<CallToolResult> SendCommand(
        [Description("The agent's id.")] string agent_id,
        [Description("The command name, 1 to 128 characters.")] string command,
        [Description("Optional JSON object of parameters.")] JsonElement? parameters = null,
        [Description("low, normal (default), high or urgent.")] string? priority = null,
        [Description("Seconds to wait for the result, 0 to 300 (0: queue it and return at once); default 30.")] int? timeout = null,
        CancellationToken ct = default) =>
        RunAsync("send_command", Permissions.AgentCommandOwn, async p =>
        {
            var agent = await agentAccess.GetAsync(p, agent_id, ct);
            var sent = await commands.SendAndWaitAsync(p, agent, new SendCommandRequest(command, parameters, priority, timeout ?? DefaultWaitSeconds), null, ct);
            return new CommandResponse(sent.CommandId, sent.Status, CommandService.ResultElement(sent), sent.Error, sent.Deadline);
        });

    [McpServerTool(Name = "create_task", Title = "Create a task and wait")]
    [Description("Creates a durable task (routed to an agent whose type or capabilities include `type`, or pinned to `assigned_agent`) and waits up to `wait` seconds for it to end. Same as POST /api/v1/tasks.")]
    public Task<CallToolResult> CreateTask(
        [Description("The task type (a capability), 1 to 64 characters.")] string type,
        [Description("Optional JSON object given to the agent.")] JsonElement? input_data = null,
        [Description("Optional agent id the task is pinned to.")] string? assigned_agent = null,
        [Description("low, normal (default), high or urgent.")] string? priority = null,
        [Description("Seconds one attempt may run, 1 to 86400 (default 300).")] int? timeout = null,
        [Description("Seconds to wait for the task to end, 0 to 300 (default 30); the answer is the task as it is then.")] int? wait = null,
        CancellationToken ct = default) =>
        RunAsync("create_task", Permissions.TaskCreate, async p =>
        {
            CheckWait(wait);
            var (task, _) = await tasks.CreateAsync(p, new CreateTaskRequest(null, type, priority, assigned_agent, InputData: input_data, Timeout: timeout), null, ct);
            return TaskService.View(await asks.WaitAsync(p, task.TaskId, TimeSpan.FromSeconds(wait ?? DefaultWaitSeconds), ct));
        });

    [McpServerTool(Name = "get_task", ReadOnly = true, Title = "Get a task")]
    [Description("Gets one task of the caller's tenant with its status, progress and result. Same as GET /api/v1/tasks/{task_id}.")]
    public Task<CallToolResult> GetTask([Description("The task id.")] string task_id, CancellationToken ct = default) =>
        RunAsync("get_task", Permissions.TaskReadOwn, async p => TaskService.View(await tasks.GetVisibleAsync(p, task_id, ct)));

    [McpServerTool(Name = "ask_agent", Title = "Ask an agent")]
    [Description("Asks one agent (`agent_id`), or whichever agent has the capability `intent`, to carry out `intent` with `input`, and waits up to `wait` seconds for the answer. Today an ask is a task of type `intent`.")]
    public Task<CallToolResult> AskAgent(
        [Description("The intent or capability, 1 to 64 characters (for example text.summarize).")] string intent,
        [Description("Optional JSON object: the input.")] JsonElement? input = null,
        [Description("Optional agent id; without it the hub picks an agent with the capability.")] string? agent_id = null,
        [Description("Seconds to wait for the answer, 0 to 300 (default 30).")] int? wait = null,
        CancellationToken ct = default) =>
        RunAsync("ask_agent", Permissions.TaskCreate, async p =>
        {
            CheckWait(wait);
            var task = await asks.AskAsync(p, agent_id, intent, input, null, null, ct);
            return TaskService.View(await asks.WaitAsync(p, task.TaskId, TimeSpan.FromSeconds(wait ?? DefaultWaitSeconds), ct));
        });

    [McpServerTool(Name = "publish_event", Title = "Publish an event")]
    [Description("Publishes an event to a topic in app.> or custom.> (admins also system.>). Same as POST /api/v1/events.")]
    public Task<CallToolResult> PublishEvent(
        [Description("A concrete topic, for example app.orders.created.")] string topic,
        [Description("The event's data: any JSON value.")] JsonElement data,
        [Description("Optional correlation id, at most 128 characters.")] string? correlation_id = null,
        CancellationToken ct = default) =>
        RunAsync("publish_event", Permissions.EventPublish, async p =>
        {
            var e = EventRequests.Publication(p, new PublishPayload(topic, data, correlation_id), eventOptions.Value.MaxPublishBytes);
            var published = await router.PublishAsync(e, p, ct);
            return new PublishAck(published.Message.Id, e.Topic!);
        });

    [McpServerTool(Name = "read_events", ReadOnly = true, Title = "Read events")]
    [Description("Reads the events the caller may see on topic patterns (NATS style: * one token, > the rest) after `since` (an event id or cursor; default: now), waiting up to `wait` seconds for the first. Same as GET /api/v1/events.")]
    public Task<CallToolResult> ReadEvents(
        [Description("Topic patterns, for example [\"app.>\", \"task.*.completed\"].")] string[] topics,
        [Description("Read after this event id / next_cursor; absent: only new events.")] string? since = null,
        [Description("At most this many events, 1 to 1000 (default 100).")] int? limit = null,
        [Description("Seconds to wait for the first event, 0 to 30 (default 0).")] int? wait = null,
        CancellationToken ct = default) =>
        RunAsync("read_events", Permissions.EventSubscribe, async p =>
        {
            var o = eventOptions.Value;
            new Validation()
                .Check(wait is null or (>= 0 and <= DefaultWaitSeconds), "wait", $"must be 0 to {DefaultWaitSeconds} seconds")
                .Check(limit is null or (>= 1 and <= 1000), "limit", "must be 1 to 1000")
                .ThrowIfInvalid();
            var subscriptions = EventRequests.Subscriptions(topics, null, o.MaxPatternsPerLink, "topics");
            var from = EventRequests.Since(since) ?? log.Position;
            log.CheckSince(from);
            var deadline = time.GetUtcNow() + TimeSpan.FromSeconds(wait ?? 0);
            while (true)
            {
                var next = log.NextPublish;
                var found = router.Read(p, subscriptions, from, limit ?? 100);
                var left = deadline - time.GetUtcNow();
                if (found.Events.Count > 0 || found.Gap is not null || left <= TimeSpan.Zero)
                {
                    return new EventPollResponse(found.Events.Select(e => e.Message).ToList(), found.Next.ToString(), found.Gap is not null, found.Gap);
                }
                from = found.Next;
                try
                {
                    await next.WaitAsync(left, time, ct);
                }
                catch (TimeoutException)
                {
                    // The wait is over; the next read answers with what arrived.
                }
            }
        });

    private static void CheckWait(int? wait) =>
        new Validation().Check(wait is null or (>= 0 and <= AgentAsks.MaxWaitSeconds), "wait", $"must be 0 to {AgentAsks.MaxWaitSeconds} seconds").ThrowIfInvalid();

    /// <summary>
    /// Checks the permission (audited like a REST 403), runs the call as the caller, and answers the result as JSON text; a hub error
    /// is a tool error (<c>isError</c>) whose text is <c>"{CODE}: {message} {details}"</c>, so a model can read and correct it.
    /// </summary>
    private async Task<CallToolResult> RunAsync<T>(string tool, string permission, Func<KaiPrincipal, Task<T>> call)
    {
        var context = http.HttpContext ?? throw new InvalidOperationException("MCP tools run inside an HTTP request (stateless Streamable HTTP).");
        var principal = context.Principal();
        if (!principal.Can(permission))
        {
            await audit.WriteAsync(context, AuditActions.PermissionDenied, "mcp " + tool, AuditOutcomes.Denied, new { permission });
            return Error($"{ErrorCodes.Forbidden}: the caller's role ({principal.Role}) lacks the permission '{permission}' that {tool} needs.");
        }
        try
        {
            return new CallToolResult { Content = [new TextContentBlock { Text = JsonSerializer.Serialize(await call(principal), KaiJson.Options) }] };
        }
        catch (ApiException e)
        {
            var details = e.Details is null ? "" : " " + JsonSerializer.Serialize(e.DetailsElement(), KaiJson.Options);
            return Error($"{e.Code}: {e.Message}{details}");
        }
    }

    private static CallToolResult Error(string text) => new() { IsError = true, Content = [new TextContentBlock { Text = text }] };
}
