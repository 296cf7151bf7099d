using Kai.Hub.Agents;
using Kai.Hub.Auth;
using Kai.Hub.Housekeeping;
using Kai.Hub.Storage;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Files;

internal static class FilesServiceCollectionExtensions
{
    /// <summary>Files and artifacts: options <c>Kai:Files</c>, the metadata store, the blob backend (local or S3), uploads, the sweep, and the read policy.</summary>
    public static IServiceCollection AddKaiFiles(this IServiceCollection services)
    {
        services.AddOptions<FilesOptions>().BindConfiguration(FilesOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<IFileStore>(sp => sp.GetRequiredService<IHubStore>() switch
        {
            SqliteHubStore sqlite => new SqliteFileStore(sqlite),
            Storage.Postgres.PostgresHubStore postgres => new PostgresFileStore(postgres),
            _ => throw new InvalidOperationException("The files store shares the hub store (SQLite or PostgreSQL)."),
        });
        services.AddSingleton<IBlobStore>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<FilesOptions>>().Value;
            var data = Path.GetFullPath(sp.GetRequiredService<IOptions<HubOptions>>().Value.DataDirectory);
            IBlobStore blobs = options.Backend == "s3" ? new S3BlobStore(options.S3) : new LocalBlobStore(Path.Combine(data, "files", "blobs"));
            blobs.InitializeAsync(CancellationToken.None).GetAwaiter().GetResult();
            return blobs;
        });
        services.AddSingleton<FileService>();
        services.AddSingleton<IAgentDataOwner>(sp => sp.GetRequiredService<FileService>());
        services.AddSingleton<IFileReferences>(sp => sp.GetRequiredService<FileService>());
        services.AddSingleton<ChunkedUploads>();
        services.AddSingleton<FileHousekeeping>();
        services.AddSingleton<IHousekeeping>(sp => sp.GetRequiredService<FileHousekeeping>());
        services.AddAuthorizationBuilder().AddPolicy(FilesApi.ReadPolicy, p => p
            .AddAuthenticationSchemes(BearerTokens.SchemeName)
            .RequireAuthenticatedUser()
            .RequireAssertion(c => KaiPrincipal.From(c.User) is { } k && (k.Can(Permissions.FileDownloadOwn) || k.Can(Permissions.FileReadAssigned))))
            .AddPolicy(FilesApi.ArtifactPolicy, p => p
            .AddAuthenticationSchemes(BearerTokens.SchemeName)
            .RequireAuthenticatedUser()
            .RequireAssertion(c => KaiPrincipal.From(c.User) is { } k && (k.Can(Permissions.FileUpload) || k.Can(Permissions.TaskExecute))));
        return services;
    }
}
