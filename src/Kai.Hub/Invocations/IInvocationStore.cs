namespace Kai.Hub.Invocations;

/// <summary>One finished invocation as the append-only log keeps it (seed 002 §IX "invocation chains stored in append-only logs").</summary>
/// <param name="InvocationId">The invocation id.</param>
/// <param name="OwnerId">The tenant of the caller (who may read it back).</param>
/// <param name="Sender">The sender handle.</param>
/// <param name="Target">The first target handle.</param>
/// <param name="Intent">The intent.</param>
/// <param name="Status"><c>completed</c> or <c>failed</c>.</param>
/// <param name="ErrorCode">The failure code, if failed.</param>
/// <param name="Agent">The handle that produced the output.</param>
/// <param name="Depth">The nesting depth.</param>
/// <param name="StackJson">The InvocationStack, JSON array.</param>
/// <param name="ResultJson">The whole <c>InvocationResult</c>, JSON (what <c>GET /api/v1/invocations/{id}</c> answers after the hub forgot the run).</param>
/// <param name="CreatedAt">When it was accepted.</param>
/// <param name="CompletedAt">When it ended.</param>
internal sealed record InvocationLogRecord(
    string InvocationId, string OwnerId, string Sender, string Target, string Intent, string Status, string? ErrorCode, string? Agent, int Depth,
    string StackJson, string ResultJson, DateTimeOffset CreatedAt, DateTimeOffset CompletedAt);

/// <summary>The KAIL capability's own store: the append-only invocation log and the replay nonces (migration step "kail_invocations").</summary>
internal interface IInvocationStore
{
    /// <summary>Appends a finished invocation. The table refuses UPDATE and DELETE (triggers).</summary>
    Task AppendAsync(InvocationLogRecord record, CancellationToken ct);

    /// <summary>A logged invocation, or null.</summary>
    Task<InvocationLogRecord?> GetAsync(string invocationId, CancellationToken ct);

    /// <summary>Records a nonce until <paramref name="expiresAt"/>; false when it is already recorded and not expired (a replay).</summary>
    Task<bool> TryAddNonceAsync(string nonce, DateTimeOffset now, DateTimeOffset expiresAt, CancellationToken ct);

    /// <summary>Forgets a nonce (an invocation refused before anything was routed leaves nothing behind).</summary>
    Task RemoveNonceAsync(string nonce, CancellationToken ct);

    /// <summary>Forgets nonces whose window ended; returns how many.</summary>
    Task<int> PurgeNoncesAsync(DateTimeOffset now, CancellationToken ct);
}
