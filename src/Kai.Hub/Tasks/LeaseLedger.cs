using System.Collections.Concurrent;

namespace Kai.Hub.Tasks;

/// <summary>
/// Which channel received which attempt of a task (issue 10 item 7), so an update that carries neither <c>fencing_token</c> nor
/// <c>attempt</c> is matched to an attempt only when that is provable: the channel (one agent link, by connection id, or the agent's
/// REST claims) received the current attempt and no other attempt of the same task. Kept in memory: after a restart nothing is
/// provable, and such updates must carry the token.
/// </summary>
internal sealed class LeaseLedger
{
    private readonly ConcurrentDictionary<string, Delivery[]> _deliveries = new(StringComparer.Ordinal);

    /// <summary>The channel of an agent link.</summary>
    public static string LinkChannel(string connectionId) => "link:" + connectionId;

    /// <summary>The channel of an agent's REST calls (<c>PATCH /api/v1/tasks/{id}</c>).</summary>
    public static string RestChannel(string agentId) => "rest:" + agentId;

    /// <summary>Records that <paramref name="channel"/> received the attempt with <paramref name="fencingToken"/>.</summary>
    public void Record(string taskId, long fencingToken, string channel) =>
        _deliveries.AddOrUpdate(taskId, _ => [new Delivery(channel, fencingToken)], (_, old) => [.. old, new Delivery(channel, fencingToken)]);

    /// <summary>True when <paramref name="channel"/> received the attempt <paramref name="fencingToken"/> and no other attempt of the task.</summary>
    public bool Proves(string taskId, long fencingToken, string channel)
    {
        if (!_deliveries.TryGetValue(taskId, out var all))
        {
            return false;
        }
        var mine = all.Where(d => d.Channel == channel).ToList();
        return mine.Count == 1 && mine[0].FencingToken == fencingToken;
    }

    /// <summary>Forgets a task that ended (its terminal state needs no proof any more).</summary>
    public void Forget(string taskId) => _deliveries.TryRemove(taskId, out _);

    /// <summary>Tasks tracked (for tests and memory accounting).</summary>
    public int Count => _deliveries.Count;

    private readonly record struct Delivery(string Channel, long FencingToken);
}
