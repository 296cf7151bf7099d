using System.ComponentModel.DataAnnotations;

namespace Kai.Hub.Storage;

/// <summary>
/// Which store the hub runs on (docs/operations.md, "PostgreSQL store"). <c>Kai:Store</c>: <c>sqlite</c> (the default: the embedded
/// <c>kai.db</c> in <c>Kai:DataDirectory</c>, one node) or <c>postgres</c> (several nodes on one database, connection string
/// <c>ConnectionStrings:Postgres</c>). A bad value or a missing connection string stops the start with one line (exit 78).
/// </summary>
public sealed class StoreOptions : IValidatableObject
{
    /// <summary><c>Kai:Store</c>: <c>sqlite</c> or <c>postgres</c>. Default: <c>sqlite</c>.</summary>
    [RegularExpression("^(sqlite|postgres)$", ErrorMessage = "Kai:Store must be sqlite or postgres")]
    public string Store { get; set; } = "sqlite";

    /// <summary><c>ConnectionStrings:Postgres</c>: an Npgsql connection string (<c>Host=…;Port=…;Username=…;Password=…;Database=…</c>), needed when <see cref="Store"/> is postgres.</summary>
    public string? Postgres { get; set; }

    public bool IsPostgres => Store == "postgres";

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!IsPostgres)
        {
            yield break;
        }
        if (string.IsNullOrWhiteSpace(Postgres))
        {
            yield return new ValidationResult("Kai:Store is postgres but ConnectionStrings:Postgres is not set", [nameof(Postgres)]);
            yield break;
        }
        string? error = null;
        try
        {
            _ = new Npgsql.NpgsqlConnectionStringBuilder(Postgres);
        }
        catch (ArgumentException ex)
        {
            error = ex.Message;
        }
        if (error is not null)
        {
            yield return new ValidationResult($"ConnectionStrings:Postgres is not a valid connection string: {error}", [nameof(Postgres)]);
        }
    }
}
