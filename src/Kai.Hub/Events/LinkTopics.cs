using Kai.Hub.Edges;
using Kai.Hub.Errors;
using Kai.Hub.Routing;
using Kai.Protocol.Events;
using Kai.Protocol.Frames;

namespace Kai.Hub.Events;

/// <summary>
/// The <c>subscribe</c> and <c>unsubscribe</c> frames of one link, the same on <c>/ws</c> (seed 004) and on <c>/ws/agents/{id}</c>
/// (seed 000): the link becomes an event subscriber of the router on its first subscribe, and stops being one when it closes.
/// </summary>
internal sealed class LinkTopics(LinkConnection link, Router router, EventOptions options, TimeProvider time)
{
    private LinkSubscriber? _subscriber;

    /// <summary>Adds patterns (with recovery from <c>since</c>); the router queues the ack before any replayed event.</summary>
    public object Subscribe(InboundFrame frame)
    {
        var request = FrameDispatcher.Required<SubscribePayload>(frame);
        var subscriptions = EventRequests.Subscriptions(request.Events ?? request.Topics, EventFilter.Parse(request.Filters), options.MaxPatternsPerSubscribe, "events");
        var since = EventRequests.Since(request.Since);
        _subscriber ??= new LinkSubscriber(link);
        router.Subscribe(_subscriber, subscriptions, since, options.MaxPatternsPerLink,
            ack => frame.Id is null ? null : Frame.Encode(Kai.Protocol.Frames.FrameTypes.Ack, ack, frame.Id, time.GetUtcNow()));
        return FrameDispatcher.Acked;
    }

    public object Unsubscribe(InboundFrame frame)
    {
        var un = FrameDispatcher.Required<UnsubscribePayload>(frame);
        new Validation().Check(un.Events is { Count: > 0 }, "events", "must list at least one pattern").ThrowIfInvalid();
        return new Dictionary<string, object?> { ["unsubscribed"] = _subscriber is null ? [] : router.Unsubscribe(_subscriber, un.Events!) };
    }

    /// <summary>The link closed: it receives no more events.</summary>
    public void Close()
    {
        if (_subscriber is not null)
        {
            router.Unsubscribe(_subscriber);
        }
    }
}
