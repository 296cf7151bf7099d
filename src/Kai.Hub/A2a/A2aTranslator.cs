using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Files;
using Kai.Hub.Storage;
using Kai.Hub.Tasks;
using Kai.Protocol;
using Kai.Protocol.Frames;

namespace Kai.Hub.A2a;

/// <summary>The two wire versions the endpoint speaks: A2A 1.0 (PascalCase methods, ProtoJSON) and 0.3 (<c>message/send</c>, <c>kind</c> tags).</summary>
internal enum A2aVersion
{
    V1,
    V03,
}

/// <summary>An A2A protocol error (docs/specification.md §5.4, §9.5): a JSON-RPC error code and message.</summary>
internal sealed class A2aException(int code, string message, string? reason = null, JsonNode? violations = null) : Exception(message)
{
    public const int ParseError = -32700;
    public const int InvalidRequest = -32600;
    public const int MethodNotFound = -32601;
    public const int InvalidParams = -32602;
    public const int Internal = -32603;
    public const int TaskNotFound = -32001;
    public const int TaskNotCancelable = -32002;
    public const int PushNotSupported = -32003;
    public const int UnsupportedOperation = -32004;
    public const int ExtendedCardNotConfigured = -32007;

    public int Code { get; } = code;

    /// <summary>The hub's error code (<c>google.rpc.ErrorInfo.reason</c>), when the error came from the hub.</summary>
    public string? Reason { get; } = reason;

    /// <summary><c>google.rpc.BadRequest.fieldViolations</c>, for invalid parameters.</summary>
    public JsonNode? Violations { get; } = violations;

    public static A2aException Invalid(string field, string problem) =>
        new(InvalidParams, $"Invalid parameters: {field} {problem}.", ErrorCodes.ValidationError,
            new JsonArray(new JsonObject { ["field"] = field, ["description"] = problem }));
}

/// <summary>
/// THE seam between A2A and the hub (docs/protocol.md, "A2A"): an A2A message becomes an ask through <see cref="AgentAsks"/> (today a
/// durable task, later a KAIL invocation), its parts become the ask's <c>input_data</c> and its file parts hub files; the hub's task
/// becomes an A2A Task with status, artifacts and history, in the caller's protocol version. Nothing else in the A2A folder knows how
/// the hub stores an ask.
/// </summary>
/// <remarks>
/// <para><c>input_data</c> of an A2A ask: <c>text</c> (the text parts joined by newlines, or null), <c>data</c> (the first data part),
/// <c>parts</c> (every part: <c>{"kind":"text","text"}</c>, <c>{"kind":"data","data"}</c>, <c>{"kind":"file","file_id","name","media_type","url"}</c>)
/// and <c>a2a</c> (<c>message_id</c>, <c>context_id</c>, <c>version</c>).</para>
/// <para>The agent's result becomes one artifact: a string is a text part; an object with <c>parts</c> (the same kinds) is those parts;
/// any other object is a text part (its <c>text</c>, when it has one) and a data part; other JSON values a data part <c>{"value": …}</c>.</para>
/// </remarks>
internal sealed class A2aTranslator(FileService files)
{
    /// <summary>Default skill of a message to an agent with no single skill.</summary>
    public const string DefaultIntent = "a2a.message";

    /// <summary>Largest inline file (<c>raw</c> / <c>bytes</c>) a message may carry, in decoded bytes.</summary>
    public const int MaxInlineFileBytes = 512 * 1024;

    /// <summary>
    /// The ask <paramref name="message"/> becomes: its skill (the intent; from the message's or the request's metadata, else the
    /// agent's only skill, else <see cref="DefaultIntent"/>; null when <paramref name="skillRequired"/> is false and none is named)
    /// and its <c>input_data</c>. File parts are stored for <paramref name="targetAgentId"/>.
    /// </summary>
    public async Task<(string? Skill, JsonObject Input, string? TaskId, string? ContextId)> InputAsync(
        KaiPrincipal caller, AgentRecord? agent, string? targetAgentId, JsonElement message, JsonElement? requestMetadata, A2aVersion version, bool skillRequired, CancellationToken ct)
    {
        if (message.ValueKind != JsonValueKind.Object)
        {
            throw A2aException.Invalid("message", "is required and must be an object");
        }
        var messageId = Str(message, "messageId") ?? throw A2aException.Invalid("message.messageId", "is required");
        var taskId = Str(message, "taskId") is { Length: > 0 } t ? t : null;
        var contextId = Str(message, "contextId") is { Length: > 0 } c ? c : null;
        var skill = Skill(message) ?? (requestMetadata is { } rm ? Skill(rm, direct: true) : null)
            ?? (agent is null ? null : AgentCards.Skills(agent) is [var only] ? only : DefaultIntent);
        if (skill is null && skillRequired)
        {
            throw A2aException.Invalid("message.metadata.skill", "must name the skill (a capability) on the hub's endpoint");
        }
        var parts = message.TryGetProperty("parts", out var p) && p.ValueKind == JsonValueKind.Array ? p.EnumerateArray().ToList() : null;
        if (parts is not { Count: > 0 })
        {
            throw A2aException.Invalid("message.parts", "must have at least one part");
        }
        var hubParts = new JsonArray();
        var texts = new List<string>();
        JsonNode? firstData = null;
        for (var i = 0; i < parts.Count; i++)
        {
            var part = await InPartAsync(caller, targetAgentId, parts[i], $"message.parts[{i}]", version, ct);
            if (part["kind"]!.GetValue<string>() == "text")
            {
                texts.Add(part["text"]!.GetValue<string>());
            }
            else if (part["kind"]!.GetValue<string>() == "data")
            {
                firstData ??= part["data"]?.DeepClone();
            }
            hubParts.Add(part);
        }
        var input = new JsonObject
        {
            ["text"] = texts.Count > 0 ? string.Join("\n", texts) : null,
            ["data"] = firstData,
            ["parts"] = hubParts,
            ["a2a"] = new JsonObject { ["message_id"] = messageId, ["context_id"] = contextId, ["version"] = version == A2aVersion.V1 ? "1.0" : "0.3" },
        };
        return (skill, input, taskId, contextId);
    }

    private static string? Skill(JsonElement holder, bool direct = false)
    {
        var meta = direct ? holder : holder.TryGetProperty("metadata", out var m) ? m : default;
        if (meta.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        foreach (var name in new[] { "skill", "skillId", "skill_id" })
        {
            if (meta.TryGetProperty(name, out var s) && s.ValueKind == JsonValueKind.String && s.GetString() is { Length: > 0 } v)
            {
                return v;
            }
        }
        return null;
    }

    /// <summary>One incoming part (1.0: <c>text</c>/<c>raw</c>/<c>url</c>/<c>data</c>; 0.3: <c>kind</c> text/file/data) as a hub part.</summary>
    private async Task<JsonObject> InPartAsync(KaiPrincipal caller, string? targetAgentId, JsonElement part, string field, A2aVersion version, CancellationToken ct)
    {
        if (part.ValueKind != JsonValueKind.Object)
        {
            throw A2aException.Invalid(field, "must be an object");
        }
        string? text = null, raw = null, url = null, name = null, media = null;
        JsonElement? data = null;
        if (version == A2aVersion.V1)
        {
            text = Str(part, "text");
            raw = Str(part, "raw");
            url = Str(part, "url");
            data = part.TryGetProperty("data", out var d) ? d : null;
            name = Str(part, "filename");
            media = Str(part, "mediaType");
        }
        else
        {
            switch (Str(part, "kind"))
            {
                case "text":
                    text = Str(part, "text") ?? throw A2aException.Invalid(field + ".text", "is required");
                    break;
                case "data":
                    data = part.TryGetProperty("data", out var d) ? d : throw A2aException.Invalid(field + ".data", "is required");
                    break;
                case "file":
                    if (!part.TryGetProperty("file", out var f) || f.ValueKind != JsonValueKind.Object)
                    {
                        throw A2aException.Invalid(field + ".file", "is required");
                    }
                    raw = Str(f, "bytes");
                    url = Str(f, "uri");
                    name = Str(f, "name");
                    media = Str(f, "mimeType");
                    break;
                default:
                    throw A2aException.Invalid(field + ".kind", "must be text, file or data");
            }
        }
        if (text is not null)
        {
            return new JsonObject { ["kind"] = "text", ["text"] = text };
        }
        if (data is { } value)
        {
            return new JsonObject { ["kind"] = "data", ["data"] = JsonNode.Parse(value.GetRawText()) };
        }
        if (raw is not null)
        {
            return await UploadAsync(caller, targetAgentId, raw, name, media, field, ct);
        }
        if (url is not null)
        {
            return await LinkAsync(caller, url, name, media, field, ct);
        }
        throw A2aException.Invalid(field, version == A2aVersion.V1 ? "must have text, raw, url or data" : "must have a text, file or data");
    }

    /// <summary>Inline bytes become a hub file of the caller's tenant, assigned to the target agent (so it may read it).</summary>
    private async Task<JsonObject> UploadAsync(KaiPrincipal caller, string? targetAgentId, string base64, string? name, string? media, string field, CancellationToken ct)
    {
        if (!caller.Can(Permissions.FileUpload))
        {
            throw new A2aException(A2aException.InvalidRequest, $"The caller's role ({caller.Role}) lacks '{Permissions.FileUpload}', which inline file parts need.", ErrorCodes.Forbidden);
        }
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            throw A2aException.Invalid(field, "has file bytes that are not base64");
        }
        if (bytes.Length > MaxInlineFileBytes)
        {
            throw A2aException.Invalid(field, $"has {bytes.Length} bytes inline; send at most {MaxInlineFileBytes}, or upload the file and send its URL");
        }
        using var staging = files.Stage();
        await staging.WriteAsync(bytes, ct);
        var staged = await staging.FinishAsync(ct);
        var file = await files.CommitAsync(staged, new FileTarget(caller, caller.OwnerId, targetAgentId, null),
            FileRules.Filename(name ?? "a2a-part"), FileRules.MimeType(media), null, ct);
        return FilePart(file);
    }

    /// <summary>A URL of one of the hub's files (<c>/api/v1/files/{id}</c>…) becomes that file, if the caller may read it; other URLs stay links.</summary>
    private async Task<JsonObject> LinkAsync(KaiPrincipal caller, string url, string? name, string? media, string field, CancellationToken ct)
    {
        if (!Uri.TryCreate(url, UriKind.RelativeOrAbsolute, out var uri))
        {
            throw A2aException.Invalid(field, "has a URL that does not parse");
        }
        var path = uri.IsAbsoluteUri ? uri.AbsolutePath : url.Split('?')[0];
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments is ["api", "v1", "files", var id, ..] && FileRules.IsFileId(id))
        {
            return FilePart(await files.GetReadableAsync(caller, id, ct));
        }
        if (!uri.IsAbsoluteUri || uri.Scheme is not ("http" or "https"))
        {
            throw A2aException.Invalid(field, "must be an absolute http(s) URL or a hub file URL");
        }
        return new JsonObject { ["kind"] = "file", ["url"] = url, ["name"] = name, ["media_type"] = media };
    }

    private static JsonObject FilePart(FileRecord file) => new()
    {
        ["kind"] = "file",
        ["file_id"] = file.FileId,
        ["name"] = file.Filename,
        ["media_type"] = file.MimeType,
        ["url"] = FileService.View(file).Url,
    };

    // ---- hub -> A2A ----

    /// <summary>The A2A state of a hub task status.</summary>
    public static string State(string status, A2aVersion v) => (status, v) switch
    {
        (TaskStatuses.InProgress, A2aVersion.V1) => "TASK_STATE_WORKING",
        (TaskStatuses.Completed, A2aVersion.V1) => "TASK_STATE_COMPLETED",
        (TaskStatuses.Failed, A2aVersion.V1) => "TASK_STATE_FAILED",
        (TaskStatuses.Canceled, A2aVersion.V1) => "TASK_STATE_CANCELED",
        (_, A2aVersion.V1) => "TASK_STATE_SUBMITTED",
        (TaskStatuses.InProgress, _) => "working",
        (TaskStatuses.Completed, _) => "completed",
        (TaskStatuses.Failed, _) => "failed",
        (TaskStatuses.Canceled, _) => "canceled",
        _ => "submitted",
    };

    /// <summary>The A2A state of a task view: input-required while it waits for the client, canceled when the client canceled that wait.</summary>
    public static string State(A2aTaskView view, A2aVersion v) =>
        view.ClientCanceledAt is not null ? State(TaskStatuses.Canceled, v)
        : view.InputRequired ? (v == A2aVersion.V1 ? "TASK_STATE_INPUT_REQUIRED" : "input-required")
        : State(view.Current.Status, v);

    /// <summary>The A2A state a ListTasks <c>status</c> filter names, in 1.0 spelling (null: any); VALIDATION for a state the hub never has.</summary>
    public static string? StatusFilter(string? state) => state switch
    {
        null or "" or "TASK_STATE_UNSPECIFIED" => null,
        "TASK_STATE_SUBMITTED" or "submitted" => "TASK_STATE_SUBMITTED",
        "TASK_STATE_WORKING" or "working" => "TASK_STATE_WORKING",
        "TASK_STATE_COMPLETED" or "completed" => "TASK_STATE_COMPLETED",
        "TASK_STATE_FAILED" or "failed" => "TASK_STATE_FAILED",
        "TASK_STATE_CANCELED" or "canceled" => "TASK_STATE_CANCELED",
        "TASK_STATE_INPUT_REQUIRED" or "input-required" => "TASK_STATE_INPUT_REQUIRED",
        _ => throw A2aException.Invalid("status", "must be a task state the hub uses (submitted, working, input-required, completed, failed, canceled)"),
    };

    /// <summary>
    /// Whether a hub task's answer asks the client for more input: the agent completed it with a result object whose
    /// <c>a2a.state</c> is <c>"input-required"</c> (docs/protocol.md, "A2A", multi-turn).
    /// </summary>
    public static bool AsksForInput(TaskRecord t)
    {
        if (t.Status != TaskStatuses.Completed || t.ResultJson is null || !t.ResultJson.Contains("input-required", StringComparison.Ordinal))
        {
            return false;
        }
        return JsonNode.Parse(t.ResultJson) is JsonObject o && o["a2a"] is JsonObject a && a["state"] is JsonValue sv
            && sv.TryGetValue<string>(out var state) && state == InputRequiredState;
    }

    /// <summary>The value of <c>a2a.state</c> in an agent's result that asks for input.</summary>
    public const string InputRequiredState = "input-required";

    /// <summary>The A2A Task of a task view, with history (the user's messages and the agent's questions, the most recent <paramref name="historyLength"/>).</summary>
    public JsonObject Task(A2aTaskView view, A2aVersion v, string baseUrl, int? historyLength = null, bool artifacts = true)
    {
        var contextId = view.ContextId;
        var task = new JsonObject();
        if (v == A2aVersion.V03)
        {
            task["kind"] = "task";
        }
        task["id"] = view.Id;
        task["contextId"] = contextId;
        task["status"] = Status(view, v, baseUrl);
        var list = new JsonArray();
        if (artifacts && Artifact(view, v, baseUrl) is { } artifact)
        {
            list.Add(artifact);
        }
        task["artifacts"] = list;
        var messages = new List<JsonObject>();
        if (historyLength is not 0)
        {
            for (var i = 0; i < view.Turns.Count; i++)
            {
                var turn = view.Turns[i];
                var (input, a2a) = Input(turn);
                if (input?["parts"] is JsonArray parts)
                {
                    messages.Add(Message(a2a?["message_id"]?.GetValue<string>() ?? turn.TaskId + "-input", view.Id, contextId, user: true,
                        new JsonArray([.. parts.OfType<JsonObject>().Select(p => OutPart(p, v, baseUrl))]), v));
                }
                if (AsksForInput(turn))
                {
                    messages.Add(Question(view, turn, v, baseUrl));
                }
            }
        }
        var history = new JsonArray();
        foreach (var m in historyLength is > 0 && messages.Count > historyLength ? messages.Skip(messages.Count - historyLength.Value) : messages)
        {
            history.Add(m);
        }
        task["history"] = history;
        var current = view.Current;
        task["metadata"] = new JsonObject
        {
            ["kai_task_type"] = current.Type, ["kai_progress"] = current.Progress, ["kai_agent_id"] = current.CurrentAgent ?? current.AssignedAgent,
            ["kai_turns"] = view.Turns.Count,
        };
        return task;
    }

    /// <summary>The context id of a hub task made from an A2A message (the task id for other tasks).</summary>
    public static string ContextId(TaskRecord t) => Input(t).A2a?["context_id"]?.GetValue<string>() ?? t.TaskId;

    /// <summary>The A2A task a hub task is a follow-up turn of (<c>input_data.a2a.task_id</c>), or null for a first turn or another task.</summary>
    public static string? FollowUpOf(TaskRecord t) =>
        t.InputJson.Contains("\"task_id\"", StringComparison.Ordinal) && Input(t).A2a?["task_id"] is JsonValue id && id.TryGetValue<string>(out var root) && root != t.TaskId ? root : null;

    /// <summary>Whether a hub task was made from an A2A message (only those can have follow-up turns).</summary>
    public static bool IsFromA2a(TaskRecord t) => t.InputJson.Contains("\"a2a\"", StringComparison.Ordinal) && Input(t).A2a is not null;

    private static (JsonObject? Input, JsonObject? A2a) Input(TaskRecord t)
    {
        var input = JsonNode.Parse(t.InputJson) as JsonObject;
        return (input, input?["a2a"] as JsonObject);
    }

    /// <summary>The user's message of one turn and the agent's question, in hub parts (for the next turn's <c>input_data.a2a.history</c>).</summary>
    public static IEnumerable<JsonObject> HubHistory(A2aTaskView view)
    {
        foreach (var turn in view.Turns)
        {
            if (Input(turn).Input?["parts"] is JsonArray parts)
            {
                yield return new JsonObject { ["role"] = "user", ["parts"] = parts.DeepClone() };
            }
            if (AsksForInput(turn) && JsonNode.Parse(turn.ResultJson!) is { } result)
            {
                yield return new JsonObject { ["role"] = "agent", ["parts"] = HubParts(result) };
            }
        }
    }

    /// <summary>TaskStatus: state, timestamp, and for a failure or cancellation an agent message with the reason, for input-required the question.</summary>
    public static JsonObject Status(A2aTaskView view, A2aVersion v, string baseUrl)
    {
        var t = view.Current;
        var at = view.ClientCanceledAt ?? t.UpdatedAt;
        var status = new JsonObject { ["state"] = State(view, v), ["timestamp"] = at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'") };
        if (view.ClientCanceledAt is not null)
        {
            status["message"] = Message(view.Id + "-canceled", view.Id, view.ContextId, user: false, new JsonArray(TextPart("canceled by the client while the agent waited for input", v)), v);
        }
        else if (view.InputRequired)
        {
            status["message"] = Question(view, t, v, baseUrl);
        }
        else if (t.Status is TaskStatuses.Failed or TaskStatuses.Canceled && t.Error is { Length: > 0 } error)
        {
            status["message"] = Message(t.TaskId + "-status", view.Id, view.ContextId, user: false,
                new JsonArray(TextPart(t.ErrorCode is null ? error : $"{t.ErrorCode}: {error}", v)), v);
        }
        return status;
    }

    /// <summary>The agent's request for input of one turn: its result's parts (without the <c>a2a</c> marker) as an agent message.</summary>
    private static JsonObject Question(A2aTaskView view, TaskRecord turn, A2aVersion v, string baseUrl) =>
        Message(turn.TaskId + "-ask", view.Id, view.ContextId, user: false,
            new JsonArray([.. HubParts(JsonNode.Parse(turn.ResultJson!)).OfType<JsonObject>().Select(p => OutPart(p, v, baseUrl))]), v);

    private static JsonObject Message(string messageId, string taskId, string contextId, bool user, JsonArray parts, A2aVersion v)
    {
        var message = new JsonObject();
        if (v == A2aVersion.V03)
        {
            message["kind"] = "message";
        }
        message["messageId"] = messageId;
        message["contextId"] = contextId;
        message["taskId"] = taskId;
        message["role"] = (user, v) switch { (true, A2aVersion.V1) => "ROLE_USER", (true, _) => "user", (false, A2aVersion.V1) => "ROLE_AGENT", _ => "agent" };
        message["parts"] = parts;
        return message;
    }

    /// <summary>The result of the task's last turn, completed (not asking for input), as one artifact (id <c>{task_id}-result</c>); null otherwise.</summary>
    public JsonObject? Artifact(A2aTaskView view, A2aVersion v, string baseUrl)
    {
        var t = view.Current;
        if (view.ClientCanceledAt is not null || t.Status != TaskStatuses.Completed || t.ResultJson is null || view.InputRequired)
        {
            return null;
        }
        var parts = new JsonArray([.. HubParts(JsonNode.Parse(t.ResultJson)).OfType<JsonObject>().Select(p => OutPart(p, v, baseUrl))]);
        return new JsonObject { ["artifactId"] = view.Id + "-result", ["name"] = "result", ["parts"] = parts };
    }

    /// <summary>
    /// An agent's result as hub parts: a string is a text part; an object with <c>parts</c> is those parts; another object a text part
    /// (its <c>text</c>) and a data part (the object without <c>a2a</c>); other values a data part <c>{"value": …}</c>.
    /// </summary>
    private static JsonArray HubParts(JsonNode? result)
    {
        var parts = new JsonArray();
        switch (result)
        {
            case JsonValue s when s.TryGetValue<string>(out var text):
                parts.Add(new JsonObject { ["kind"] = "text", ["text"] = text });
                break;
            case JsonObject o when o["parts"] is JsonArray hubParts:
                foreach (var p in hubParts.OfType<JsonObject>())
                {
                    parts.Add(p.DeepClone());
                }
                break;
            case JsonObject o:
                var data = (JsonObject)o.DeepClone();
                var asks = data.Remove("a2a");
                if (o["text"] is JsonValue tv && tv.TryGetValue<string>(out var objectText))
                {
                    parts.Add(new JsonObject { ["kind"] = "text", ["text"] = objectText });
                    if (asks && data.Count == 1)
                    {
                        // A question that is only text: no data part.
                        break;
                    }
                }
                parts.Add(new JsonObject { ["kind"] = "data", ["data"] = data });
                break;
            case null:
                break;
            default:
                parts.Add(new JsonObject { ["kind"] = "data", ["data"] = new JsonObject { ["value"] = result.DeepClone() } });
                break;
        }
        return parts;
    }

    private static JsonObject TextPart(string text, A2aVersion v) =>
        v == A2aVersion.V1 ? new JsonObject { ["text"] = text } : new JsonObject { ["kind"] = "text", ["text"] = text };

    private static JsonObject DataPart(JsonNode data, A2aVersion v) =>
        v == A2aVersion.V1 ? new JsonObject { ["data"] = data } : new JsonObject { ["kind"] = "data", ["data"] = data is JsonObject ? data : new JsonObject { ["value"] = data } };

    /// <summary>A hub part as an A2A part; a hub file becomes an absolute download URL (readable with the caller's bearer token).</summary>
    private static JsonObject OutPart(JsonObject part, A2aVersion v, string baseUrl)
    {
        switch (part["kind"]?.GetValue<string>())
        {
            case "text":
                return TextPart(part["text"]?.GetValue<string>() ?? "", v);
            case "file":
                var url = part["url"]?.GetValue<string>() ?? "";
                if (url.StartsWith('/'))
                {
                    url = baseUrl.TrimEnd('/') + url;
                }
                var name = part["name"]?.GetValue<string>();
                var media = part["media_type"]?.GetValue<string>();
                if (v == A2aVersion.V1)
                {
                    var p = new JsonObject { ["url"] = url };
                    if (name is not null)
                    {
                        p["filename"] = name;
                    }
                    if (media is not null)
                    {
                        p["mediaType"] = media;
                    }
                    return p;
                }
                var file = new JsonObject { ["uri"] = url };
                if (name is not null)
                {
                    file["name"] = name;
                }
                if (media is not null)
                {
                    file["mimeType"] = media;
                }
                return new JsonObject { ["kind"] = "file", ["file"] = file };
            default:
                return DataPart(part["data"]?.DeepClone() ?? new JsonObject(), v);
        }
    }

    private static string? Str(JsonElement o, string name) =>
        o.ValueKind == JsonValueKind.Object && o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>Hub errors as A2A errors: not found → TaskNotFound (or invalid params for agents/files), validation → invalid params.</summary>
    public static A2aException FromHub(ApiException e, bool cancel = false)
    {
        var message = $"{e.Code}: {e.Message}";
        return e.Code switch
        {
            ErrorCodes.NotFound when e.Message.StartsWith("Task ", StringComparison.Ordinal) => new A2aException(A2aException.TaskNotFound, message, e.Code),
            ErrorCodes.Conflict when cancel => new A2aException(A2aException.TaskNotCancelable, message, e.Code),
            ErrorCodes.ValidationError => new A2aException(A2aException.InvalidParams, message, e.Code, Violations(e)),
            ErrorCodes.NotFound or ErrorCodes.AgentNotFound or ErrorCodes.DependencyNotMet or ErrorCodes.PayloadTooLarge or ErrorCodes.QuotaExceeded or ErrorCodes.UnsupportedMediaType
                => new A2aException(A2aException.InvalidParams, message, e.Code),
            _ => new A2aException(A2aException.InvalidRequest, message, e.Code),
        };
    }

    private static JsonArray? Violations(ApiException e)
    {
        var details = e.DetailsElement();
        if (details.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        var list = new JsonArray();
        foreach (var field in details.EnumerateObject())
        {
            var problems = field.Value.ValueKind == JsonValueKind.Array ? field.Value.EnumerateArray().Select(p => p.ToString()) : [field.Value.ToString()];
            foreach (var problem in problems)
            {
                list.Add(new JsonObject { ["field"] = field.Name, ["description"] = problem });
            }
        }
        return list;
    }

}
