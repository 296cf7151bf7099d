namespace Kai.Hub.Storage;

/// <summary>One audit entry. <c>Details</c> is a JSON object; never holds secrets (no passwords, tokens or client secrets).</summary>
public sealed record AuditRecord(
    long Seq, string AuditId, DateTimeOffset At, string? ActorId, string? ActorRole, string Action, string? Target, string Outcome, string? Ip, string DetailsJson);

public sealed record AuditQuery(string? ActorId, string? Action, DateTimeOffset? From, DateTimeOffset? To, int Limit, int Offset);

/// <summary>The append-only audit log (docs/security.md).</summary>
public interface IAuditStore
{
    /// <summary>Appends an audit entry. There is no update or delete: the table refuses both (triggers).</summary>
    Task AppendAuditAsync(AuditRecord entry, CancellationToken ct);

    /// <summary>Audit entries, newest first.</summary>
    Task<(IReadOnlyList<AuditRecord> Items, int Total)> ListAuditAsync(AuditQuery query, CancellationToken ct);
}
