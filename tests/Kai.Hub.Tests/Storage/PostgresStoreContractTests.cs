using Dapper;
using Kai.Hub.Storage;
using Kai.Hub.Storage.Postgres;
using Kai.Testing;
using Npgsql;

namespace Kai.Hub.Tests.Storage;

/// <summary>
/// The store contract on PostgreSQL (<see cref="PostgresHubStore"/>): a fresh schema per test in the server of
/// <c>KAI_TEST_POSTGRES</c> (.ci/setup/80-postgres.sh), dropped afterwards. Skipped locally without a server, failed in CI.
/// </summary>
public sealed class PostgresStoreContractTests : StoreContractTests
{
    protected override async Task<IStoreTestDatabase> CreateDatabaseAsync()
    {
        TestPostgres.Require();
        var schema = "kai_c_" + Guid.NewGuid().ToString("N")[..20];
        return new PostgresTestDatabase(schema, await TestPostgres.CreateSchemaAsync(schema));
    }

    internal sealed class PostgresTestDatabase(string schema, string connectionString) : IStoreTestDatabase
    {
        private readonly List<PostgresHubStore> _opened = [];

        public string ConnectionString => connectionString;

        public IHubStore Open()
        {
            var store = new PostgresHubStore(connectionString);
            _opened.Add(store);
            return store;
        }

        public async Task ExecuteAsync(string sql)
        {
            await using var c = new NpgsqlConnection(connectionString);
            await c.OpenAsync();
            await c.ExecuteAsync(sql);
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var store in _opened)
            {
                store.Dispose();
            }
            await TestPostgres.DropSchemaAsync(schema);
        }
    }
}
