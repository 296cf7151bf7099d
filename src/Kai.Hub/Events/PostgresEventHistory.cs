using System.Text.Json;
using Kai.Hub.Housekeeping;
using Kai.Hub.Storage;
using Kai.Hub.Storage.Postgres;
using Kai.Protocol.Events;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Kai.Hub.Events;

/// <summary>One stored event, as <see cref="IEventHistory.Read"/> returns it.</summary>
internal sealed record StoredEvent(long Offset, string? OwnerId, string Topic, DateTimeOffset Published, EventMessage Message);

/// <summary>What <see cref="IEventHistory.Read"/> found after a position.</summary>
/// <param name="Events">Stored events after the position, oldest first.</param>
/// <param name="Trims">The highest offset dropped per (tenant, topic) above the position; topic <c>""</c> = any topic of that tenant.</param>
/// <param name="Last">The cluster's last offset handed out (0 before any).</param>
/// <param name="More">Whether more events follow the page.</param>
internal sealed record HistoryPage(IReadOnlyList<StoredEvent> Events, IReadOnlyList<(string? OwnerId, string Topic, long Through)> Trims, long Last, bool More);

/// <summary>
/// Durable event history shared by every node (the PostgreSQL store): a fixed epoch per database and one offset sequence, so
/// positions are stable across restarts and mean the same on every node. <see cref="EventLog"/> uses it instead of its in-memory
/// histories when present; the embedded store has none. The methods are synchronous because the router calls the log under its
/// topic gate (numbering, fan-out and replay in one order).
/// </summary>
internal interface IEventHistory
{
    /// <summary>The database's epoch (12 hex characters, made by the migration).</summary>
    string Epoch { get; }

    /// <summary>Stores an event and returns its offset.</summary>
    /// <exception cref="StoreUnavailableException">The database cannot be reached.</exception>
    long Append(string? ownerId, string topic, EventMessage message);

    /// <summary>Up to <paramref name="page"/> events with an offset above <paramref name="after"/>, with the trims above it.</summary>
    /// <exception cref="StoreUnavailableException">The database cannot be reached.</exception>
    HistoryPage Read(long after, int page);

    /// <summary>The last offset handed out on any node.</summary>
    /// <exception cref="StoreUnavailableException">The database cannot be reached.</exception>
    long LastOffset();
}

/// <summary>
/// <see cref="IEventHistory"/> on PostgreSQL (migration step 9: <c>event_epoch</c>, <c>events</c>, <c>event_trims</c>). Retention is
/// the same as in memory (<c>Kai:Events:HistorySize</c> per tenant and topic, <c>HistoryTtl</c>), swept by the housekeeping
/// leader only (<see cref="IClusterHousekeeping"/>); whatever it drops is recorded in <c>event_trims</c>, so a <c>since</c> before
/// it gets the <c>gap</c> signal.
/// </summary>
internal sealed class PostgresEventHistory(PostgresHubStore store, TimeProvider time, IOptionsMonitor<EventOptions> options) : IEventHistory, IClusterHousekeeping
{
    private string? _epoch;

    public string Epoch => _epoch ??= Run(c =>
    {
        using var cmd = new NpgsqlCommand("SELECT epoch FROM event_epoch WHERE id = 1", c);
        return (string)cmd.ExecuteScalar()!;
    });

    public long Append(string? ownerId, string topic, EventMessage message) => Run(c =>
    {
        using var cmd = new NpgsqlCommand("""
            INSERT INTO events (owner_key, topic, event_type, source_agent, target_agent, correlation_id, payload, published_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq
            """, c);
        cmd.Parameters.Add(new NpgsqlParameter { Value = ownerId ?? "" });
        cmd.Parameters.Add(new NpgsqlParameter { Value = topic });
        cmd.Parameters.Add(new NpgsqlParameter { Value = message.EventType });
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)message.SourceAgent ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)message.TargetAgent ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)message.CorrelationId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        cmd.Parameters.Add(new NpgsqlParameter { Value = message.Payload.GetRawText() });
        cmd.Parameters.Add(new NpgsqlParameter { Value = message.Timestamp.ToUnixTimeMilliseconds() });
        return (long)cmd.ExecuteScalar()!;
    });

    public HistoryPage Read(long after, int page) => Run(c =>
    {
        var epoch = Epoch;
        var events = new List<StoredEvent>();
        using (var cmd = new NpgsqlCommand("""
            SELECT seq, owner_key, topic, event_type, source_agent, target_agent, correlation_id, payload, published_at
            FROM events WHERE seq > $1 ORDER BY seq LIMIT $2
            """, c))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = after });
            cmd.Parameters.Add(new NpgsqlParameter { Value = page + 1 });
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                var seq = r.GetInt64(0);
                var owner = r.GetString(1);
                var at = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(8));
                using var payload = JsonDocument.Parse(r.GetString(7));
                events.Add(new StoredEvent(seq, owner.Length == 0 ? null : owner, r.GetString(2), at, new EventMessage(
                    new EventPosition(epoch, seq).ToString(), at, r.GetString(3), r.GetString(2),
                    r.IsDBNull(4) ? null : r.GetString(4), r.IsDBNull(5) ? null : r.GetString(5), r.IsDBNull(6) ? null : r.GetString(6),
                    payload.RootElement.Clone())));
            }
        }
        var more = events.Count > page;
        if (more)
        {
            events.RemoveAt(events.Count - 1);
        }
        var trims = new List<(string?, string, long)>();
        using (var cmd = new NpgsqlCommand("SELECT owner_key, topic, through FROM event_trims WHERE through > $1", c))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = after });
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                var owner = r.GetString(0);
                trims.Add((owner.Length == 0 ? null : owner, r.GetString(1), r.GetInt64(2)));
            }
        }
        return new HistoryPage(events, trims, LastOffset(c), more);
    });

    public long LastOffset() => Run(LastOffset);

    private static long LastOffset(NpgsqlConnection c)
    {
        using var cmd = new NpgsqlCommand("SELECT coalesce(pg_sequence_last_value('event_offsets'), 0)", c);
        return (long)cmd.ExecuteScalar()!;
    }

    /// <summary>The leader's retention sweep: age, then size per (tenant, topic); trims of topics left empty fold into their tenant's.</summary>
    public async Task SweepAsync(CancellationToken ct)
    {
        var o = options.CurrentValue;
        const string record = """
            INSERT INTO event_trims (owner_key, topic, through) SELECT owner_key, topic, max(seq) FROM gone GROUP BY owner_key, topic
            ON CONFLICT (owner_key, topic) DO UPDATE SET through = GREATEST(event_trims.through, EXCLUDED.through);
            """;
        await using var c = await store.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        await using (var cmd = new NpgsqlCommand("WITH gone AS (DELETE FROM events WHERE published_at < $1 RETURNING owner_key, topic, seq) " + record, c, tx))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = (time.GetUtcNow() - o.HistoryTtl).ToUnixTimeMilliseconds() });
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await using (var cmd = new NpgsqlCommand("""
            WITH ranked AS (SELECT seq, row_number() OVER (PARTITION BY owner_key, topic ORDER BY seq DESC) AS rn FROM events),
            gone AS (DELETE FROM events e USING ranked r WHERE e.seq = r.seq AND r.rn > $1 RETURNING e.owner_key, e.topic, e.seq)
            """ + record, c, tx))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = (long)o.HistorySize });
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await using (var cmd = new NpgsqlCommand("""
            WITH dead AS (
                DELETE FROM event_trims t WHERE t.topic <> ''
                AND NOT EXISTS (SELECT 1 FROM events e WHERE e.owner_key = t.owner_key AND e.topic = t.topic)
                RETURNING owner_key, through)
            INSERT INTO event_trims (owner_key, topic, through) SELECT owner_key, '', max(through) FROM dead GROUP BY owner_key
            ON CONFLICT (owner_key, topic) DO UPDATE SET through = GREATEST(event_trims.through, EXCLUDED.through);
            """, c, tx))
        {
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
    }

    private T Run<T>(Func<NpgsqlConnection, T> work)
    {
        try
        {
            using var c = store.DataSource.OpenConnection();
            return work(c);
        }
        catch (Exception ex) when (PostgresHubStore.IsUnreachable(ex))
        {
            // Idle pooled connections to a server that went away are dead too.
            store.DataSource.Clear();
            throw new StoreUnavailableException($"PostgreSQL at {store.Target} is unavailable (event history): {ex.Message}", ex);
        }
    }
}
