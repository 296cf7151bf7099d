namespace Kai.Hub.Storage;

/// <summary>The schema of the store: migration at start and the readiness probe.</summary>
public interface IStoreLifecycle
{
    /// <summary>Applies the migration steps not yet applied, each once, in order. Safe to call on every start.</summary>
    Task MigrateAsync(CancellationToken ct);

    /// <summary>Answers the migrated schema version; throws when the database does not answer.</summary>
    Task<int> PingAsync(CancellationToken ct);

    /// <summary>The schema version this build expects (the last migration step).</summary>
    int ExpectedSchemaVersion { get; }
}
