using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Events;
using Kai.Protocol.Frames;

namespace Kai.Hub.Routing;

/// <summary>A published event: its position, its tenant, and its wire forms, each serialized once however many receive it.</summary>
internal sealed class BusEvent
{
    private byte[]? _sse;

    public BusEvent(string epoch, long offset, string? ownerId, EventMessage message)
    {
        Offset = offset;
        OwnerId = ownerId;
        Message = message;
        Position = new EventPosition(epoch, offset);
        Frame = Kai.Protocol.Frames.Frame.Encode(FrameTypes.Event, message, timestamp: message.Timestamp);
        Json = JsonSerializer.SerializeToUtf8Bytes(message, KaiJsonContext.Default.EventMessage);
    }

    public long Offset { get; }

    public EventPosition Position { get; }

    /// <summary>The tenant; null for events every principal may see.</summary>
    public string? OwnerId { get; }

    public string Topic => Message.Topic;

    public DateTimeOffset Timestamp => Message.Timestamp;

    public EventMessage Message { get; }

    /// <summary>The <c>event</c> WebSocket frame.</summary>
    public byte[] Frame { get; }

    /// <summary>The <see cref="EventMessage"/> JSON.</summary>
    public byte[] Json { get; }

    /// <summary>The SSE form, built on first use: <c>id</c>, <c>event: event</c> and <c>data</c> lines (the JSON has no raw newlines).</summary>
    public byte[] Sse => _sse ??= SseBytes("event", Message.Id, Json);

    public static byte[] SseBytes(string eventName, string? id, byte[] json)
    {
        var head = System.Text.Encoding.UTF8.GetBytes((id is null ? "" : $"id: {id}\n") + $"event: {eventName}\ndata: ");
        var bytes = new byte[head.Length + json.Length + 2];
        head.CopyTo(bytes, 0);
        json.CopyTo(bytes, head.Length);
        bytes[^2] = (byte)'\n';
        bytes[^1] = (byte)'\n';
        return bytes;
    }
}
