using Microsoft.Extensions.Options;

namespace Kai.Hub.Storage;

internal static class StorageServiceCollectionExtensions
{
    /// <summary>The system of record: the embedded SQLite store under the data directory (created on first start).</summary>
    public static IServiceCollection AddKaiStorage(this IServiceCollection services)
    {
        services.AddSingleton<IHubStore>(sp =>
        {
            var dir = Path.GetFullPath(sp.GetRequiredService<IOptions<HubOptions>>().Value.DataDirectory);
            Directory.CreateDirectory(dir);
            return new SqliteHubStore(Path.Combine(dir, "kai.db"));
        });
        return services;
    }
}
