using Kai.Protocol.Rest;

namespace Kai.Hub.Auth;

/// <summary>The kinds of work that carry file references (docs/protocol.md, "Files in tasks, commands, invocations and RPC calls").</summary>
internal static class WorkKinds
{
    public const string Task = "task";
    public const string Command = "command";
    public const string Invocation = "invocation";
    public const string Rpc = "rpc";
}

/// <summary>
/// Work addressed to agents (a task, a command, an invocation, an RPC call), as the files capability sees it: whether an agent holds a piece
/// of it now, and whose it is. Each capability that sends work implements one; the files capability asks them (through this
/// kernel interface, so no capability depends on another) when an agent reads a file the work references.
/// </summary>
internal interface IWorkHolder
{
    /// <summary>One of <see cref="WorkKinds"/>.</summary>
    string Kind { get; }

    /// <summary>
    /// The tenant of work <paramref name="workId"/> if agent <paramref name="agentId"/> holds it now (a task leased to it and in
    /// progress, a command addressed to it and not yet answered, an invocation it is handling); null otherwise.
    /// </summary>
    Task<string?> HeldTenantAsync(string workId, string agentId, CancellationToken ct);

    /// <summary>The tenant of the work, whoever holds it; null when there is no such work.</summary>
    Task<string?> TenantAsync(string workId, CancellationToken ct);
}

/// <summary>
/// The <see cref="IWorkHolder"/> of work kept in memory by the node that accepted it (invocations, RPC calls): the service answers
/// from its in-flight table with <paramref name="heldTenant"/> (work id, agent id or null for any agent; the tenant or null). Such
/// work exists on that node only, so in a cluster an agent reads its files through that node.
/// </summary>
internal sealed class InMemoryWorkHolder(string kind, Func<string, string?, string?> heldTenant) : IWorkHolder
{
    /// <summary>
    /// A work id for one call or run of client-chosen id <paramref name="id"/>: <c>{id}#{random}</c>. Client ids may come again (an RPC
    /// id is unique only while in flight, a KAIL id only within its replay window), so the id alone would let a later call inherit
    /// an earlier one's files.
    /// </summary>
    public static string NewWorkId(string id) => id + '#' + Guid.NewGuid().ToString("N");

    /// <summary>The client id a work id of <see cref="NewWorkId"/> was made from; null for anything else.</summary>
    public static string? IdOf(string workId) => workId.LastIndexOf('#') is var cut and > 0 ? workId[..cut] : null;

    public string Kind => kind;

    public Task<string?> HeldTenantAsync(string workId, string agentId, CancellationToken ct) => Task.FromResult(heldTenant(workId, agentId));

    public Task<string?> TenantAsync(string workId, CancellationToken ct) => Task.FromResult(heldTenant(workId, null));
}

/// <summary>File references in work, and the artifacts of tasks: implemented by the files capability.</summary>
internal interface IFileReferences
{
    /// <summary>
    /// Records the files that <paramref name="json"/> (a JSON object, or null) references as references of the work: every property
    /// <c>file_id</c> with a string value and every <c>file_ids</c> array of strings, at any depth. Each must be a live file of
    /// <paramref name="workTenant"/> that <paramref name="sender"/> may read; at most 100 per piece of work.
    /// </summary>
    /// <remarks><c>field</c> is the request field the JSON came from (<c>input_data</c>, <c>parameters</c>, <c>payload</c>), named in errors.</remarks>
    /// <returns>The distinct file ids referenced (empty when none).</returns>
    /// <exception cref="Errors.ApiException">VALIDATION_ERROR naming the file id, when one does not exist, expired, belongs to another
    /// tenant or cannot be read by the sender (nothing is recorded then).</exception>
    Task<IReadOnlyList<string>> ReferenceAsync(KaiPrincipal sender, string kind, string workId, string workTenant, string field, string? json, CancellationToken ct);

    /// <summary>
    /// Forgets the references <see cref="ReferenceAsync"/> recorded for work that has ended and will never be held again (work kept
    /// in memory only, whose id is unique per run: an RPC call). Best effort: a failure leaves rows that no holder ever answers for,
    /// and they go with the file.
    /// </summary>
    Task ReleaseAsync(IReadOnlyList<string> fileIds, string kind, string workId);

    /// <summary>The artifacts of a task (files uploaded for it), oldest first; expired ones are left out.</summary>
    Task<IReadOnlyList<FileInfoResponse>> ArtifactsAsync(string taskId, CancellationToken ct);
}
