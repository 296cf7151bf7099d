using System.Net.WebSockets;
using System.Text.Json;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Observability;
using Kai.Hub.Routing;
using Kai.Hub.Security;
using Kai.Protocol;
using Kai.Protocol.Frames;

namespace Kai.Hub.Edges;

/// <summary>
/// The per-frame policy shared by every WebSocket edge, in one place: the per-link frame rate (over it: an error, then
/// close 4004), parsing (a malformed frame gets an error and the link stays open), the id length, the permission the frame
/// type declares in <see cref="FramePermissions"/> (denials are audited), and the answer: every frame with an <c>id</c>
/// gets exactly one <c>ack</c> or <c>error</c> with that id. The edge's handler only does the frame's work.
/// </summary>
internal sealed partial class FrameDispatcher(
    LinkConnection link, string edge, WindowLimiter rate, HubMetrics metrics, AuditLog audit, TimeProvider time, ILogger logger)
{
    /// <summary>Returned by a handler that queued its own ack (a subscribe's ack must precede the events it replays).</summary>
    public static readonly object Acked = new();

    public async ValueTask HandleAsync(ReadOnlyMemory<byte> utf8, Func<InboundFrame, Task<object?>> handle)
    {
        if (link.IsClosing)
        {
            return;
        }
        if (!rate.TryTake(out var retry))
        {
            Send(FrameTypes.Error, new ErrorPayload(ErrorCodes.RateLimitExceeded, $"More than {rate.Limit} frames per minute on this link.",
                ApiException.ToDetails(new Dictionary<string, int> { ["retry_after"] = Math.Max(1, (int)Math.Ceiling(retry.TotalSeconds)) })), null);
            link.RequestCloseAfterFlush(CloseCodes.RateLimited, "frame rate limit exceeded");
            return;
        }
        InboundFrame frame;
        try
        {
            if (utf8.IsEmpty)
            {
                throw new JsonException("Binary frames are not supported; send UTF-8 JSON text.");
            }
            frame = InboundFrame.Parse(utf8);
        }
        catch (JsonException ex)
        {
            Error(null, ErrorCodes.ValidationError, $"Malformed frame: {ClientErrors.Describe(ex)}.");
            return;
        }
        // Frame types are client-chosen strings: only declared ones become metric labels, so cardinality stays bounded.
        metrics.FramesIn.Add(1, new KeyValuePair<string, object?>("type", FramePermissions.IsKnownType(frame.Type) ? frame.Type : "other"));
        if (frame.Id is { Length: > 128 })
        {
            Error(null, ErrorCodes.ValidationError, "A frame id must be at most 128 characters.");
            return;
        }
        try
        {
            try
            {
                FramePermissions.Demand(edge, frame.Type, link.Principal);
            }
            catch (ApiException ex) when (ex.Code == ErrorCodes.Forbidden)
            {
                await audit.WriteAsync(link.Principal.Id, link.Principal.Role, AuditActions.PermissionDenied, $"frame {frame.Type} on {edge} {link.AgentId}",
                    AuditOutcomes.Denied, null, new { edge });
                throw;
            }
            var ack = await handle(frame);
            if (frame.Id is not null && !ReferenceEquals(ack, Acked))
            {
                Send(FrameTypes.Ack, ack ?? EmptyAck, frame.Id);
            }
        }
        catch (ApiException ex)
        {
            Error(frame.Id, ex.Code, ex.Message, ex.DetailsElement());
        }
        catch (JsonException ex)
        {
            Error(frame.Id, ErrorCodes.ValidationError, $"The payload of '{frame.Type}' is malformed: {ClientErrors.Describe(ex)}.");
        }
        catch (Storage.StorageFullException)
        {
            Error(frame.Id, ErrorCodes.InsufficientStorage, "The hub cannot store this now (its disk is full or failing); nothing was stored. Retry later.");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.FrameFailed(logger, ex, frame.Type, edge, link.AgentId);
            Error(frame.Id, ErrorCodes.InternalError, "The frame could not be processed.");
        }
    }

    public void Error(string? id, string code, string message, JsonElement? details = null) =>
        Send(FrameTypes.Error, new ErrorPayload(code, message, details), id);

    /// <summary>Queues one frame on this link, encoded once, straight to bytes.</summary>
    public void Send<T>(string type, T payload, string? id)
    {
        if (link.TrySend(Frame.Encode(type, payload, id, time.GetUtcNow())))
        {
            metrics.FramesOut.Add(1, new KeyValuePair<string, object?>("type", type));
        }
    }

    private static readonly Dictionary<string, object?> EmptyAck = [];

    /// <summary>Reads a frame's payload, or fails with a validation error naming the frame type.</summary>
    public static T Required<T>(InboundFrame frame) where T : class =>
        frame.PayloadAs<T>() ?? throw PayloadMissing(frame);

    /// <summary>The validation error for a frame whose type needs a payload and has none (or JSON null).</summary>
    public static ApiException PayloadMissing(InboundFrame frame) =>
        new(ErrorCodes.ValidationError, $"A '{frame.Type}' frame needs a payload object.");

    private static partial class Log
    {
        [LoggerMessage(200, LogLevel.Error, "Frame {Type} on {Edge} link of {Subject} failed")]
        public static partial void FrameFailed(ILogger logger, Exception ex, string type, string edge, string subject);
    }
}
