using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Storage;
using Kai.Hub.Tasks;
using Kai.Protocol;

namespace Kai.Hub.A2a;

/// <summary>
/// The A2A JSON-RPC 2.0 binding (docs/specification.md §9) at the card's URL: A2A 1.0 methods (<c>SendMessage</c>,
/// <c>SendStreamingMessage</c>, <c>GetTask</c>, <c>ListTasks</c>, <c>CancelTask</c>, <c>SubscribeToTask</c>) and the 0.3 names
/// (<c>message/send</c>, <c>message/stream</c>, <c>tasks/get</c>, <c>tasks/cancel</c>, <c>tasks/resubscribe</c>), each answered in its
/// version's shapes. Streaming answers are Server-Sent Events whose <c>data</c> are JSON-RPC responses.
/// </summary>
/// <remarks>An edge: it parses, checks the method's permission, and hands over to <see cref="A2aTranslator"/> and <see cref="AgentAsks"/>
/// as the caller; ownership is decided there.</remarks>
internal sealed class A2aJsonRpc(A2aTranslator translator, A2aTasks tasks, A2aPush push, AgentAsks asks, TimeProvider time)
{
    /// <summary>How long a blocking <c>SendMessage</c> waits for the task to end before answering it as it is.</summary>
    public static readonly TimeSpan BlockingWait = TimeSpan.FromSeconds(60);

    /// <summary>How long one stream stays open; a client resubscribes after.</summary>
    public static readonly TimeSpan MaxStream = TimeSpan.FromMinutes(10);

    private enum Op
    {
        Send,
        Stream,
        Get,
        List,
        Cancel,
        Subscribe,
        PushConfig,
        PushRead,
        ExtendedCard,
    }

    private static readonly Dictionary<string, (Op Op, A2aVersion Version)> Methods = new(StringComparer.Ordinal)
    {
        ["SendMessage"] = (Op.Send, A2aVersion.V1),
        ["SendStreamingMessage"] = (Op.Stream, A2aVersion.V1),
        ["GetTask"] = (Op.Get, A2aVersion.V1),
        ["ListTasks"] = (Op.List, A2aVersion.V1),
        ["CancelTask"] = (Op.Cancel, A2aVersion.V1),
        ["SubscribeToTask"] = (Op.Subscribe, A2aVersion.V1),
        ["CreateTaskPushNotificationConfig"] = (Op.PushConfig, A2aVersion.V1),
        ["GetTaskPushNotificationConfig"] = (Op.PushRead, A2aVersion.V1),
        ["ListTaskPushNotificationConfigs"] = (Op.PushRead, A2aVersion.V1),
        ["ListTaskPushNotificationConfig"] = (Op.PushRead, A2aVersion.V1),
        ["DeleteTaskPushNotificationConfig"] = (Op.PushConfig, A2aVersion.V1),
        ["GetExtendedAgentCard"] = (Op.ExtendedCard, A2aVersion.V1),
        ["message/send"] = (Op.Send, A2aVersion.V03),
        ["message/stream"] = (Op.Stream, A2aVersion.V03),
        ["tasks/get"] = (Op.Get, A2aVersion.V03),
        ["tasks/cancel"] = (Op.Cancel, A2aVersion.V03),
        ["tasks/resubscribe"] = (Op.Subscribe, A2aVersion.V03),
        ["tasks/pushNotificationConfig/set"] = (Op.PushConfig, A2aVersion.V03),
        ["tasks/pushNotificationConfig/get"] = (Op.PushRead, A2aVersion.V03),
        ["tasks/pushNotificationConfig/list"] = (Op.PushRead, A2aVersion.V03),
        ["tasks/pushNotificationConfig/delete"] = (Op.PushConfig, A2aVersion.V03),
        ["agent/getAuthenticatedExtendedCard"] = (Op.ExtendedCard, A2aVersion.V03),
    };

    /// <summary>Serves one JSON-RPC request addressed to <paramref name="agent"/> (null: the hub, routing by capability).</summary>
    public async Task HandleAsync(HttpContext http, AgentRecord? agent, string baseUrl)
    {
        var ct = http.RequestAborted;
        JsonNode? id = null;
        var streaming = false;
        try
        {
            JsonElement request;
            try
            {
                using var doc = await JsonDocument.ParseAsync(http.Request.Body, default, ct);
                request = doc.RootElement.Clone();
            }
            catch (JsonException)
            {
                throw new A2aException(A2aException.ParseError, "Invalid JSON payload: the body is not JSON.");
            }
            if (request.ValueKind != JsonValueKind.Object)
            {
                throw new A2aException(A2aException.InvalidRequest, request.ValueKind == JsonValueKind.Array
                    ? "Request payload validation error: batches are not supported; send one request object."
                    : "Request payload validation error: the body must be a JSON-RPC request object.");
            }
            if (request.TryGetProperty("id", out var rawId))
            {
                id = rawId.ValueKind is JsonValueKind.String or JsonValueKind.Number ? JsonNode.Parse(rawId.GetRawText()) : null;
            }
            if (!request.TryGetProperty("jsonrpc", out var version) || version.ValueKind != JsonValueKind.String || version.GetString() != "2.0")
            {
                throw new A2aException(A2aException.InvalidRequest, "Request payload validation error: \"jsonrpc\" must be \"2.0\".");
            }
            if (!request.TryGetProperty("method", out var m) || m.ValueKind != JsonValueKind.String)
            {
                throw new A2aException(A2aException.InvalidRequest, "Request payload validation error: \"method\" must be a string.");
            }
            var method = m.GetString()!;
            if (!Methods.TryGetValue(method, out var target))
            {
                throw new A2aException(A2aException.MethodNotFound, $"Method not found: '{(method.Length > 64 ? method[..64] : method)}'.");
            }
            var p = request.TryGetProperty("params", out var ps) ? ps : default;
            if (p.ValueKind != JsonValueKind.Object)
            {
                throw A2aException.Invalid("params", "must be an object");
            }
            var caller = http.Principal();
            switch (target.Op)
            {
                case Op.PushConfig:
                    Require(caller, Permissions.TaskCreate);
                    await WriteAsync(http, Result(id, await push.HandleAsync(caller, method, p, target.Version, baseUrl, ct)));
                    return;
                case Op.PushRead:
                    Require(caller, Permissions.TaskReadOwn);
                    await WriteAsync(http, Result(id, await push.HandleAsync(caller, method, p, target.Version, baseUrl, ct)));
                    return;
                case Op.ExtendedCard:
                    throw new A2aException(A2aException.ExtendedCardNotConfigured, "This agent has no extended card.");
                case Op.Send:
                    Require(caller, Permissions.TaskCreate);
                    await WriteAsync(http, Result(id, await SendAsync(caller, agent, p, target.Version, baseUrl, ct)));
                    return;
                case Op.Stream:
                    Require(caller, Permissions.TaskCreate);
                    var inline = await push.InlineAsync(Prop(p, "configuration"), target.Version, ct);
                    var created = await tasks.SendAsync(caller, agent, Prop(p, "message"), Meta(p), target.Version, ct);
                    if (inline is not null)
                    {
                        await push.PutAsync(created, inline, baseUrl, ct);
                    }
                    streaming = true;
                    await StreamAsync(http, id, caller, created, target.Version, baseUrl, ct);
                    return;
                case Op.Subscribe:
                    Require(caller, Permissions.TaskReadOwn);
                    var current = await tasks.GetAsync(caller, TaskId(p), ct);
                    if (current.IsTerminal)
                    {
                        throw new A2aException(A2aException.UnsupportedOperation, $"Task '{current.Id}' is {A2aTranslator.State(current, target.Version)}; there is nothing to subscribe to (GetTask reads it).");
                    }
                    streaming = true;
                    await StreamAsync(http, id, caller, current, target.Version, baseUrl, ct);
                    return;
                case Op.Get:
                    Require(caller, Permissions.TaskReadOwn);
                    var task = await tasks.GetAsync(caller, TaskId(p), ct);
                    await WriteAsync(http, Result(id, translator.Task(task, target.Version, baseUrl, Int(p, "historyLength"))));
                    return;
                case Op.Cancel:
                    Require(caller, Permissions.TaskCreate);
                    var canceled = await tasks.CancelAsync(caller, TaskId(p), ct);
                    await WriteAsync(http, Result(id, translator.Task(canceled, target.Version, baseUrl)));
                    return;
                case Op.List:
                    Require(caller, Permissions.TaskReadOwn);
                    await WriteAsync(http, Result(id, await ListAsync(caller, p, baseUrl, ct)));
                    return;
            }
        }
        catch (A2aException e) when (!streaming)
        {
            await WriteAsync(http, Error(id, e));
        }
        catch (A2aException e)
        {
            // The stream has started: the error is its last event.
            await WriteEventAsync(http, Error(id, e), CancellationToken.None);
        }
    }

    private async Task<JsonObject> SendAsync(KaiPrincipal caller, AgentRecord? agent, JsonElement p, A2aVersion v, string baseUrl, CancellationToken ct)
    {
        var configuration = Prop(p, "configuration");
        var inline = await push.InlineAsync(configuration, v, ct);
        var task = await tasks.SendAsync(caller, agent, Prop(p, "message"), Meta(p), v, ct);
        if (inline is not null)
        {
            await push.PutAsync(task, inline, baseUrl, ct);
        }
        var wait = v == A2aVersion.V1
            ? !(configuration.ValueKind == JsonValueKind.Object && configuration.TryGetProperty("returnImmediately", out var ri) && ri.ValueKind == JsonValueKind.True)
            : !(configuration.ValueKind == JsonValueKind.Object && configuration.TryGetProperty("blocking", out var b) && b.ValueKind == JsonValueKind.False);
        if (wait)
        {
            task = await tasks.WaitAsync(caller, task, BlockingWait, ct, untilChange: false);
        }
        var a2aTask = translator.Task(task, v, baseUrl, configuration.ValueKind == JsonValueKind.Object ? Int(configuration, "historyLength") : null);
        return v == A2aVersion.V1 ? new JsonObject { ["task"] = a2aTask } : a2aTask;
    }

    /// <summary>ListTasks (1.0): the caller's tasks, oldest first; <c>pageToken</c> is an offset; <c>contextId</c> filters the page.</summary>
    private async Task<JsonObject> ListAsync(KaiPrincipal caller, JsonElement p, string baseUrl, CancellationToken ct)
    {
        var pageSize = Int(p, "pageSize") ?? 50;
        if (pageSize is < 1 or > 100)
        {
            throw A2aException.Invalid("pageSize", "must be 1 to 100");
        }
        var token = Str(p, "pageToken");
        var offset = 0;
        if (!string.IsNullOrEmpty(token) && (!int.TryParse(token, out offset) || offset < 0))
        {
            throw A2aException.Invalid("pageToken", "must be a token from a previous ListTasks answer");
        }
        var state = A2aTranslator.StatusFilter(Str(p, "status"));
        var page = await CallAsync(() => asks.ListAsync(caller, null, null, pageSize, offset, ct));
        var contextId = Str(p, "contextId");
        var includeArtifacts = p.TryGetProperty("includeArtifacts", out var ia) && ia.ValueKind == JsonValueKind.True;
        var history = Int(p, "historyLength") ?? 0;
        var records = new List<A2aTaskView>();
        foreach (var view in page.Tasks)
        {
            var record = await CallAsync(() => asks.GetAsync(caller, view.TaskId, ct));
            if (A2aTranslator.FollowUpOf(record) is not null || (!string.IsNullOrEmpty(contextId) && A2aTranslator.ContextId(record) != contextId))
            {
                // A follow-up turn is part of its task, not a task of its own.
                continue;
            }
            var a2a = await tasks.ResolveAsync(caller, record, ct);
            if (state is null || A2aTranslator.State(a2a, A2aVersion.V1) == state)
            {
                records.Add(a2a);
            }
        }
        return new JsonObject
        {
            ["tasks"] = new JsonArray([.. records.Select(r => translator.Task(r, A2aVersion.V1, baseUrl, history, includeArtifacts))]),
            ["nextPageToken"] = page.Pagination.HasMore ? (offset + page.Tasks.Count).ToString(System.Globalization.CultureInfo.InvariantCulture) : "",
            ["pageSize"] = pageSize,
            ["totalSize"] = page.Total,
        };
    }

    /// <summary>
    /// The stream of one task: the Task first, a status update at each change, and at the end the result artifact and the final
    /// status (or the input-required status with the agent's question); then the stream closes.
    /// </summary>
    private async Task StreamAsync(HttpContext http, JsonNode? id, KaiPrincipal caller, A2aTaskView task, A2aVersion v, string baseUrl, CancellationToken ct)
    {
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        await WriteEventAsync(http, Result(id, v == A2aVersion.V1 ? new JsonObject { ["task"] = translator.Task(task, v, baseUrl) } : translator.Task(task, v, baseUrl)), ct);
        if (task.IsSettled)
        {
            if (task.InputRequired)
            {
                await WriteEventAsync(http, Result(id, StatusUpdate(task, v, baseUrl, final: true)), ct);
            }
            return;
        }
        var end = time.GetUtcNow() + MaxStream;
        while (!task.IsSettled)
        {
            var left = end - time.GetUtcNow();
            if (left <= TimeSpan.Zero)
            {
                return;
            }
            var next = await tasks.WaitAsync(caller, task, left, ct, untilChange: true);
            if (next.Current.Status == task.Current.Status && next.Current.Progress == task.Current.Progress)
            {
                continue;
            }
            task = next;
            if (task.IsSettled)
            {
                break;
            }
            await WriteEventAsync(http, Result(id, StatusUpdate(task, v, baseUrl, final: false)), ct);
        }
        if (translator.Artifact(task, v, baseUrl) is { } artifact)
        {
            var update = new JsonObject();
            if (v == A2aVersion.V03)
            {
                update["kind"] = "artifact-update";
            }
            update["taskId"] = task.Id;
            update["contextId"] = task.ContextId;
            update["artifact"] = artifact;
            update["append"] = false;
            update["lastChunk"] = true;
            await WriteEventAsync(http, Result(id, v == A2aVersion.V1 ? new JsonObject { ["artifactUpdate"] = update } : update), ct);
        }
        await WriteEventAsync(http, Result(id, StatusUpdate(task, v, baseUrl, final: true)), ct);
    }

    /// <summary>A status-update event (1.0 <c>{"statusUpdate": …}</c>, 0.3 <c>kind: status-update</c> with <c>final</c>).</summary>
    internal static JsonObject StatusUpdate(A2aTaskView task, A2aVersion v, string baseUrl, bool final)
    {
        var update = new JsonObject();
        if (v == A2aVersion.V03)
        {
            update["kind"] = "status-update";
        }
        update["taskId"] = task.Id;
        update["contextId"] = task.ContextId;
        update["status"] = A2aTranslator.Status(task, v, baseUrl);
        update["metadata"] = new JsonObject { ["kai_progress"] = task.Current.Progress };
        if (v == A2aVersion.V03)
        {
            update["final"] = final;
            return update;
        }
        return new JsonObject { ["statusUpdate"] = update };
    }

    private static void Require(KaiPrincipal caller, string permission)
    {
        if (!caller.Can(permission))
        {
            throw new A2aException(A2aException.InvalidRequest, $"{ErrorCodes.Forbidden}: the caller's role ({caller.Role}) lacks the permission '{permission}'.", ErrorCodes.Forbidden);
        }
    }

    private static async Task<T> CallAsync<T>(Func<Task<T>> call, bool cancel = false)
    {
        try
        {
            return await call();
        }
        catch (ApiException e)
        {
            throw A2aTranslator.FromHub(e, cancel);
        }
    }

    private static string TaskId(JsonElement p) =>
        Str(p, "id") is { Length: > 0 } id ? id : throw A2aException.Invalid("id", "is required (the task id)");

    private static JsonElement Prop(JsonElement o, string name) => o.TryGetProperty(name, out var v) ? v : default;

    private static JsonElement? Meta(JsonElement p) => p.TryGetProperty("metadata", out var m) && m.ValueKind == JsonValueKind.Object ? m : null;

    private static string? Str(JsonElement o, string name) =>
        o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static int? Int(JsonElement o, string name) =>
        o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : null;

    private static JsonObject Result(JsonNode? id, JsonNode? result) => new() { ["jsonrpc"] = "2.0", ["id"] = id?.DeepClone(), ["result"] = result };

    private static JsonObject Error(JsonNode? id, A2aException e)
    {
        var data = new JsonArray(new JsonObject
        {
            ["@type"] = "type.googleapis.com/google.rpc.ErrorInfo",
            ["reason"] = e.Reason ?? ReasonOf(e.Code),
            ["domain"] = "kai-hub",
        });
        if (e.Violations is { } violations)
        {
            data.Add(new JsonObject { ["@type"] = "type.googleapis.com/google.rpc.BadRequest", ["fieldViolations"] = violations.DeepClone() });
        }
        return new JsonObject
        {
            ["jsonrpc"] = "2.0",
            ["id"] = id?.DeepClone(),
            ["error"] = new JsonObject { ["code"] = e.Code, ["message"] = e.Message, ["data"] = data },
        };
    }

    private static string ReasonOf(int code) => code switch
    {
        A2aException.ParseError => "PARSE_ERROR",
        A2aException.InvalidRequest => "INVALID_REQUEST",
        A2aException.MethodNotFound => "METHOD_NOT_FOUND",
        A2aException.InvalidParams => "INVALID_PARAMS",
        A2aException.TaskNotFound => "TASK_NOT_FOUND",
        A2aException.TaskNotCancelable => "TASK_NOT_CANCELABLE",
        A2aException.PushNotSupported => "PUSH_NOTIFICATION_NOT_SUPPORTED",
        A2aException.UnsupportedOperation => "UNSUPPORTED_OPERATION",
        A2aException.ExtendedCardNotConfigured => "EXTENDED_AGENT_CARD_NOT_CONFIGURED",
        _ => "INTERNAL",
    };

    /// <summary>JSON-RPC answers are HTTP 200 whatever the outcome (the error is in the body), as the binding's clients expect.</summary>
    private static async Task WriteAsync(HttpContext http, JsonObject body)
    {
        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = "application/json";
        await http.Response.WriteAsync(body.ToJsonString(), Encoding.UTF8, CancellationToken.None);
    }

    private static async Task WriteEventAsync(HttpContext http, JsonObject body, CancellationToken ct)
    {
        await http.Response.WriteAsync("data: " + body.ToJsonString() + "\n\n", Encoding.UTF8, ct);
        await http.Response.Body.FlushAsync(ct);
    }
}
