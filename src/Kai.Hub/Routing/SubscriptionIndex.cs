using Kai.Hub.Auth;
using Kai.Protocol;

namespace Kai.Hub.Routing;

/// <summary>
/// Finds the subscribers of a topic without scanning every subscriber (docs/architecture.md, "Topics"): exact topics in a
/// dictionary, patterns with <c>*</c> and <c>&gt;</c> in a trie of segments, as NATS's sublist does. A publish walks one
/// dictionary entry and at most (segments × 2) trie nodes, whatever the number of subscribers.
/// </summary>
/// <remarks>
/// Not thread-safe by itself: the router calls every member under its topic gate, which also orders publishes against
/// subscribe-with-replay (so a replay is queued before any later live event, nothing missed or doubled). A subscriber with
/// several matching patterns gets an event once: the first match stamps it with the fan-out's sequence number.
/// </remarks>
internal sealed class SubscriptionIndex
{
    private readonly Dictionary<string, List<Entry>> _exact = new(StringComparer.Ordinal);
    private readonly Node _root = new();
    private readonly Dictionary<EventSubscriber, Dictionary<string, Entry>> _bySubscriber = [];
    private long _stamp;

    /// <summary>Subscribers with at least one pattern.</summary>
    public int SubscriberCount => _bySubscriber.Count;

    /// <summary>Patterns held, over all subscribers.</summary>
    public int PatternCount { get; private set; }

    public IEnumerable<EventSubscriber> Subscribers => _bySubscriber.Keys;

    /// <summary>Adds a pattern of a subscriber, replacing the same pattern's earlier filter.</summary>
    public void Add(EventSubscriber subscriber, Subscription subscription)
    {
        if (!_bySubscriber.TryGetValue(subscriber, out var mine))
        {
            _bySubscriber[subscriber] = mine = new Dictionary<string, Entry>(StringComparer.Ordinal);
        }
        if (mine.Remove(subscription.Pattern, out var old))
        {
            Unlink(old);
        }
        var entry = new Entry(subscriber, subscription);
        mine[subscription.Pattern] = entry;
        Link(entry);
    }

    public void Remove(EventSubscriber subscriber, string pattern)
    {
        if (_bySubscriber.TryGetValue(subscriber, out var mine) && mine.Remove(pattern, out var old))
        {
            Unlink(old);
            if (mine.Count == 0)
            {
                _bySubscriber.Remove(subscriber);
            }
        }
    }

    public void RemoveAll(EventSubscriber subscriber)
    {
        if (_bySubscriber.Remove(subscriber, out var mine))
        {
            foreach (var entry in mine.Values)
            {
                Unlink(entry);
            }
        }
    }

    /// <summary>Queues the event on every subscriber that matches it, may see it and whose filter passes. Never blocks.</summary>
    /// <returns>Sent, dropped (closing) and overflowed (closed as slow consumers) counts.</returns>
    public FanOutCounts FanOut(BusEvent e)
    {
        var counts = new FanOutCounts { Stamp = ++_stamp };
        var topic = e.Topic;
        if (_exact.TryGetValue(topic, out var exact))
        {
            Deliver(exact, e, ref counts);
        }
        if (_root.HasChildren || _root.Tail is { Count: > 0 })
        {
            Walk(_root, topic, 0, e, ref counts);
        }
        return counts;
    }

    private void Walk(Node node, string topic, int start, BusEvent e, ref FanOutCounts counts)
    {
        // '>' here matches the rest of the topic, which has at least one segment left.
        if (node.Tail is { Count: > 0 } tail)
        {
            Deliver(tail, e, ref counts);
        }
        var dot = topic.IndexOf('.', start);
        var segment = dot < 0 ? topic.AsSpan(start) : topic.AsSpan(start, dot - start);
        var last = dot < 0;
        if (node.Children is { } children && children.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(segment, out var literal))
        {
            Step(literal, topic, dot, last, e, ref counts);
        }
        if (node.Star is { } star)
        {
            Step(star, topic, dot, last, e, ref counts);
        }
    }

    private void Step(Node child, string topic, int dot, bool last, BusEvent e, ref FanOutCounts counts)
    {
        if (last)
        {
            if (child.Terminal is { Count: > 0 } terminal)
            {
                Deliver(terminal, e, ref counts);
            }
        }
        else if (child.HasChildren || child.Tail is { Count: > 0 })
        {
            Walk(child, topic, dot + 1, e, ref counts);
        }
    }

    private static void Deliver(List<Entry> entries, BusEvent e, ref FanOutCounts counts)
    {
        foreach (var entry in entries)
        {
            var s = entry.Subscriber;
            if (s.LastFanOut == counts.Stamp || !Access.CanSeeEvent(s.Principal, e.OwnerId))
            {
                continue;
            }
            if (entry.Subscription.Filter is { } filter && !filter.Matches(e.Message.Payload))
            {
                continue;
            }
            s.LastFanOut = counts.Stamp;
            switch (s.TrySend(e))
            {
                case SendResult.Sent:
                    counts.Sent++;
                    break;
                case SendResult.Overflow:
                    counts.Overflowed++;
                    break;
                default:
                    counts.Dropped++;
                    break;
            }
        }
    }

    private void Link(Entry entry)
    {
        PatternCount++;
        var pattern = entry.Subscription.Pattern;
        if (!pattern.Contains('*', StringComparison.Ordinal) && !pattern.Contains('>', StringComparison.Ordinal))
        {
            if (!_exact.TryGetValue(pattern, out var list))
            {
                _exact[pattern] = list = [];
            }
            list.Add(entry);
            return;
        }
        var node = _root;
        var segments = pattern.Split('.');
        for (var i = 0; i < segments.Length; i++)
        {
            var seg = segments[i];
            if (seg == Topics.Tail)
            {
                (node.Tail ??= []).Add(entry);
                return;
            }
            node = seg == Topics.Star ? node.Star ??= new Node() : node.Child(seg);
        }
        (node.Terminal ??= []).Add(entry);
    }

    private void Unlink(Entry entry)
    {
        PatternCount--;
        var pattern = entry.Subscription.Pattern;
        if (_exact.TryGetValue(pattern, out var list))
        {
            if (list.Remove(entry) && list.Count == 0)
            {
                _exact.Remove(pattern);
            }
            return;
        }
        // Walk down, remembering the path, then prune nodes left empty.
        var path = new List<(Node Parent, string Segment, Node Child)>();
        var node = _root;
        var segments = pattern.Split('.');
        foreach (var seg in segments)
        {
            if (seg == Topics.Tail)
            {
                node.Tail?.Remove(entry);
                break;
            }
            var next = seg == Topics.Star ? node.Star : node.Children?.GetValueOrDefault(seg);
            if (next is null)
            {
                return;
            }
            path.Add((node, seg, next));
            node = next;
        }
        if (segments[^1] != Topics.Tail)
        {
            node.Terminal?.Remove(entry);
        }
        for (var i = path.Count - 1; i >= 0; i--)
        {
            var (parent, seg, child) = path[i];
            if (!child.IsEmpty)
            {
                break;
            }
            if (seg == Topics.Star)
            {
                parent.Star = null;
            }
            else
            {
                parent.Children!.Remove(seg);
            }
        }
    }

    private sealed record Entry(EventSubscriber Subscriber, Subscription Subscription);

    private sealed class Node
    {
        public Dictionary<string, Node>? Children;
        public Node? Star;
        public List<Entry>? Terminal;
        public List<Entry>? Tail;

        public bool HasChildren => Children is { Count: > 0 } || Star is not null;

        public bool IsEmpty => !HasChildren && Terminal is not { Count: > 0 } && Tail is not { Count: > 0 };

        public Node Child(string segment)
        {
            Children ??= new Dictionary<string, Node>(StringComparer.Ordinal);
            if (!Children.TryGetValue(segment, out var child))
            {
                Children[segment] = child = new Node();
            }
            return child;
        }
    }
}

/// <summary>What one fan-out did.</summary>
internal struct FanOutCounts
{
    /// <summary>The fan-out's sequence number: a subscriber stamped with it already got this event.</summary>
    public long Stamp;
    public int Sent;
    public int Dropped;
    public int Overflowed;
}
