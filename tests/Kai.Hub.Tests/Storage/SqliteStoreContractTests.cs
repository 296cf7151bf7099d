using Dapper;
using Kai.Hub.Storage;
using Microsoft.Data.Sqlite;

namespace Kai.Hub.Tests.Storage;

/// <summary>The store contract on the embedded SQLite store, a real file per test.</summary>
public sealed class SqliteStoreContractTests : StoreContractTests
{
    protected override Task<IStoreTestDatabase> CreateDatabaseAsync() => Task.FromResult<IStoreTestDatabase>(new SqliteTestDatabase());

    private sealed class SqliteTestDatabase : IStoreTestDatabase
    {
        private readonly string _directory = Path.Combine(Path.GetTempPath(), "kai-tests", "store-" + Guid.NewGuid().ToString("N"));
        private readonly List<SqliteHubStore> _opened = [];

        public SqliteTestDatabase() => Directory.CreateDirectory(_directory);

        private string DatabasePath => Path.Combine(_directory, "kai.db");

        public IHubStore Open()
        {
            var store = new SqliteHubStore(DatabasePath);
            _opened.Add(store);
            return store;
        }

        public async Task ExecuteAsync(string sql)
        {
            await using var c = new SqliteConnection(_opened[0].ConnectionString);
            await c.OpenAsync();
            await c.ExecuteAsync(sql);
        }

        public ValueTask DisposeAsync()
        {
            foreach (var store in _opened)
            {
                store.Dispose();
            }
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
                // A file still open on some platform; the temp directory is cleaned eventually.
            }
            return ValueTask.CompletedTask;
        }
    }
}
