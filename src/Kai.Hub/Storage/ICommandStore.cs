namespace Kai.Hub.Storage;

/// <summary>Durable commands to one agent (seed 000): queued until delivered, completed once by their agent, failed at their deadline.</summary>
public interface ICommandStore
{
    Task CreateCommandAsync(CommandRecord command, CancellationToken ct);

    /// <summary>
    /// Stores a command under an idempotency key of its requester, atomically: a first use stores it (<c>Created</c>); a repeat
    /// with the same <paramref name="requestHash"/> returns the command stored first; a repeat with another hash stores nothing
    /// and returns that command with <c>Conflict</c> set.
    /// </summary>
    Task<(CommandRecord Command, bool Created, bool Conflict)> CreateCommandOnceAsync(CommandRecord command, string idempotencyKey, string requestHash, CancellationToken ct);

    Task<CommandRecord?> GetCommandAsync(string commandId, CancellationToken ct);

    /// <summary>Open commands (queued or executing) of an agent whose deadline is after <paramref name="now"/>, highest priority first, then oldest.</summary>
    Task<IReadOnlyList<CommandRecord>> ListDeliverableCommandsAsync(string agentId, DateTimeOffset now, CancellationToken ct);

    /// <summary>An open command was written to its agent: <c>executing</c>, one more delivery counted. Nothing if it is not open.</summary>
    Task MarkCommandDeliveredAsync(string commandId, DateTimeOffset now, CancellationToken ct);

    /// <summary>Sets a terminal status, only if the command is still open and addressed to <paramref name="agentId"/>.</summary>
    Task<bool> TryCompleteCommandAsync(string commandId, string agentId, string status, string? resultJson, string? error, DateTimeOffset now, CancellationToken ct);

    /// <summary>Fails every open command whose deadline is at or before <paramref name="now"/> and returns them.</summary>
    Task<IReadOnlyList<CommandRecord>> ExpireCommandsAsync(DateTimeOffset now, string error, CancellationToken ct);
}
