using System.Text.Json;

namespace Kai.Protocol.Frames;

/// <summary>
/// One WebSocket message: a UTF-8 JSON text frame <c>{"type", "id"?, "timestamp", "payload", "signature"?}</c>
/// (seed 000, "Connection Management", <c>messageFormat</c>).
/// </summary>
/// <param name="Type">The frame type, one of <see cref="FrameTypes"/>.</param>
/// <param name="Id">Optional client-chosen id (at most 128 characters). A client frame with an id gets an <c>ack</c> or <c>error</c> frame with the same id.</param>
/// <param name="Timestamp">When the sender created the frame, ISO 8601 UTC.</param>
/// <param name="Payload">The type-specific payload object; see the payload records in this namespace.</param>
/// <param name="Signature">Optional signature (seed 000); carried, not verified by the hub today.</param>
public sealed record Frame(string Type, string? Id, DateTimeOffset Timestamp, JsonElement Payload, string? Signature = null)
{
    /// <summary>Deserializes the payload into <typeparamref name="T"/> with the wire settings.</summary>
    /// <typeparam name="T">A payload record of this namespace.</typeparam>
    /// <returns>The payload, or <see langword="null"/> when it is JSON <c>null</c> or absent.</returns>
    /// <exception cref="JsonException">The payload does not have the shape of <typeparamref name="T"/>.</exception>
    public T? PayloadAs<T>() => Payload.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null
        ? default
        : Payload.Deserialize<T>(KaiJson.Options);

    /// <summary>Creates a frame stamped now, with <paramref name="payload"/> serialized with the wire settings.</summary>
    /// <typeparam name="T">The payload type.</typeparam>
    /// <param name="type">The frame type.</param>
    /// <param name="payload">The payload object.</param>
    /// <param name="id">Optional frame id.</param>
    /// <param name="timestamp">The timestamp; the current UTC time when omitted.</param>
    /// <returns>The frame.</returns>
    public static Frame Create<T>(string type, T payload, string? id = null, DateTimeOffset? timestamp = null) =>
        new(type, id, timestamp ?? DateTimeOffset.UtcNow, JsonSerializer.SerializeToElement(payload, KaiJson.Options));

    /// <summary>
    /// Writes a frame straight to UTF-8 bytes, ready for one WebSocket text message: the same JSON as
    /// <c>Create(...).ToUtf8()</c> without the intermediate payload document. The hub's hot paths use it.
    /// </summary>
    /// <typeparam name="T">The payload type.</typeparam>
    /// <param name="type">The frame type.</param>
    /// <param name="payload">The payload object, serialized with the wire settings.</param>
    /// <param name="id">Optional frame id.</param>
    /// <param name="timestamp">The timestamp; the current UTC time when omitted.</param>
    /// <returns>The UTF-8 bytes of the frame.</returns>
    public static byte[] Encode<T>(string type, T payload, string? id = null, DateTimeOffset? timestamp = null)
    {
        var writer = BeginEncode(type, id, timestamp ?? DateTimeOffset.UtcNow);
        JsonSerializer.Serialize(writer, payload, KaiJson.Options);
        return EndEncode(writer);
    }

    /// <summary>
    /// Starts a frame in this thread's reused writer: <c>{"type", "id"?, "timestamp", "payload":</c>; the caller writes the payload
    /// value and calls <see cref="EndEncode"/> on the same thread, with no await between.
    /// </summary>
    internal static Utf8JsonWriter BeginEncode(string type, string? id, DateTimeOffset timestamp)
    {
        var buffer = t_buffer ??= new System.Buffers.ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        var writer = t_writer ??= new Utf8JsonWriter(buffer);
        writer.Reset(buffer);
        writer.WriteStartObject();
        writer.WriteString(TypeName, type);
        if (id is not null)
        {
            writer.WriteString(IdName, id);
        }
        writer.WritePropertyName(TimestampName);
        TimestampConverter.Write(writer, timestamp, KaiJson.Options);
        writer.WritePropertyName(PayloadName);
        return writer;
    }

    /// <summary>Ends the frame <see cref="BeginEncode"/> started and returns its bytes.</summary>
    internal static byte[] EndEncode(Utf8JsonWriter writer)
    {
        writer.WriteEndObject();
        writer.Flush();
        var buffer = t_buffer!;
        var bytes = buffer.WrittenSpan.ToArray();
        if (buffer.Capacity > 64 * 1024)
        {
            // Do not keep a large buffer alive per thread after an unusually big frame.
            t_buffer = null;
            t_writer = null;
        }
        return bytes;
    }

    [ThreadStatic]
    private static System.Buffers.ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    private static readonly JsonEncodedText TypeName = JsonEncodedText.Encode("type");
    private static readonly JsonEncodedText IdName = JsonEncodedText.Encode("id");
    private static readonly JsonEncodedText TimestampName = JsonEncodedText.Encode("timestamp");
    private static readonly JsonEncodedText PayloadName = JsonEncodedText.Encode("payload");
    private static readonly UtcDateTimeOffsetConverter TimestampConverter = new();

    /// <summary>Serializes the frame to UTF-8 JSON bytes, ready for one WebSocket text message.</summary>
    /// <returns>The UTF-8 bytes.</returns>
    public byte[] ToUtf8() => JsonSerializer.SerializeToUtf8Bytes(this, KaiJsonContext.Default.Frame);

    /// <summary>Parses one WebSocket text message.</summary>
    /// <param name="utf8">The message bytes.</param>
    /// <returns>The frame.</returns>
    /// <exception cref="JsonException">The text is not a JSON object with a string <c>type</c>.</exception>
    public static Frame Parse(ReadOnlySpan<byte> utf8)
    {
        var frame = JsonSerializer.Deserialize(utf8, KaiJsonContext.Default.Frame)
            ?? throw new JsonException("A frame must be a JSON object.");
        if (string.IsNullOrEmpty(frame.Type))
        {
            throw new JsonException("A frame needs a non-empty string 'type'.");
        }
        return frame;
    }
}

/// <summary>The frame types of the live links (seed 000 "Server-to-Client Events" and "Client-to-Server Events").</summary>
public static partial class FrameTypes
{
    /// <summary>Hub to client: a client frame with an <c>id</c> was accepted. Payload: type-specific, often empty.</summary>
    public const string Ack = "ack";
    /// <summary>Hub to client: a client frame failed. Payload: <see cref="ErrorPayload"/>.</summary>
    public const string Error = "error";
    /// <summary>Hub to client, first frame on every link. Payload: <see cref="WelcomePayload"/>.</summary>
    public const string Welcome = "welcome";
    /// <summary>Agent to hub: liveness. Payload: <see cref="HeartbeatPayload"/>.</summary>
    public const string Heartbeat = "heartbeat";
    /// <summary>Agent to hub (<see cref="AgentMessageSend"/>) and hub to agent (<see cref="AgentMessageDelivery"/>).</summary>
    public const string AgentMessage = "agent_message";
    /// <summary>Hub to agent (<see cref="CommandPayload"/>), observer to hub (<see cref="CommandRequest"/>), and hub to observers (<see cref="CommandPayload"/>).</summary>
    public const string Command = "command";
    /// <summary>Agent to hub, and hub to observers. Payload: <see cref="CommandResultPayload"/>.</summary>
    public const string CommandResult = "command_result";
    /// <summary>Agent to hub, and hub to observers. Payload: <see cref="LogPayload"/>.</summary>
    public const string Log = "log";
    /// <summary>Agent to hub (<see cref="StatusReport"/>) and hub to observers (<see cref="StatusUpdatePayload"/>).</summary>
    public const string StatusUpdate = "status_update";
    /// <summary>Hub to agent: one attempt of a durable task. Payload: <see cref="TaskPayload"/>.</summary>
    public const string Task = "task";
    /// <summary>Agent to hub: progress or outcome of a task attempt. Payload: <see cref="TaskUpdatePayload"/>.</summary>
    public const string TaskUpdate = "task_update";
    /// <summary>Hub to agent: the task it works was canceled. Payload: <see cref="TaskCancelPayload"/>.</summary>
    public const string TaskCancel = "task_cancel";
    /// <summary>Hub to agent: a KAIL invocation to answer, and agent to hub: an invocation the agent makes (seed 002). Payload: <see cref="Kail.AgentInvocation"/>.</summary>
    public const string Invocation = "invocation";
    /// <summary>Agent to hub: the answer to an <c>invocation</c> (<see cref="Kail.InvocationResultPayload"/>); hub to an invoking agent: the outcome (<see cref="Kail.InvocationResult"/>).</summary>
    public const string InvocationResult = "invocation_result";
}
