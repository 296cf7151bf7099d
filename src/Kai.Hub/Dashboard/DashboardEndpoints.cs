using System.Text;
using Kai.Hub.Auth;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Dashboard;

/// <summary>
/// The web dashboard (issue 15 item 4): <c>/</c> redirects to <c>/ui/</c>, which serves the static build of <c>dashboard/</c>
/// (plain TypeScript + Vite; it talks to the hub only through the public REST routes and the <c>/ws</c> event link).
/// When the build is absent (a fresh clone with only the .NET SDK) <c>/ui/</c> answers a short page saying how to build it.
/// The Content-Security-Policy for these paths is set in <c>Security/SecurityHeaders.cs</c>.
/// </summary>
internal static class DashboardEndpoints
{
    public const string BasePath = Security.SecurityHeadersMiddleware.DashboardPath;

    private static readonly FileExtensionContentTypeProvider ContentTypes = new();

    public static IServiceCollection AddKaiDashboard(this IServiceCollection services)
    {
        services.AddOptions<DashboardOptions>().BindConfiguration(DashboardOptions.Section);
        services.AddSingleton<DashboardFiles>();
        return services;
    }

    public static void MapDashboard(this IEndpointRouteBuilder app)
    {
        app.MapGet("/", () => Results.Redirect(BasePath + "/")).ExcludeFromDescription()
            .AllowAnonymous("redirects to the web dashboard, which is public static files");
        app.MapGet(BasePath + "/{**path}", Serve).ExcludeFromDescription()
            .AllowAnonymous("the web dashboard's static files; every call it makes sends the user's bearer token");
    }

    private static IResult Serve(HttpContext http, DashboardFiles files, string? path)
    {
        if (http.Request.Path.Value == BasePath)
        {
            return Results.Redirect(BasePath + "/");
        }
        if (files.Provider is not { } provider)
        {
            return Results.Text(NotBuiltPage, "text/html; charset=utf-8", Encoding.UTF8);
        }
        path = string.IsNullOrEmpty(path) ? "index.html" : path;
        var file = provider.GetFileInfo(path);
        if (!file.Exists || file.IsDirectory || file.PhysicalPath is null)
        {
            // Hashed assets that do not exist are 404; any other path is a view of the single page.
            if (path.StartsWith("assets/", StringComparison.Ordinal) || Path.HasExtension(path))
            {
                return Results.NotFound();
            }
            file = provider.GetFileInfo("index.html");
            if (!file.Exists || file.PhysicalPath is null)
            {
                return Results.Text(NotBuiltPage, "text/html; charset=utf-8", Encoding.UTF8);
            }
            path = "index.html";
        }
        // Vite names assets by content hash, so they never change; the page itself is revalidated every time.
        http.Response.Headers.CacheControl = path.StartsWith("assets/", StringComparison.Ordinal) ? "public, max-age=31536000, immutable" : "no-cache";
        var type = ContentTypes.TryGetContentType(file.Name, out var t) ? t : "application/octet-stream";
        return Results.File(file.PhysicalPath, type);
    }

    /// <summary>No scripts and no styles: the page stays within the dashboard's Content-Security-Policy.</summary>
    internal const string NotBuiltPage = """
        <!doctype html>
        <html lang="en">
        <head><meta charset="utf-8"><title>Kai Hub: dashboard not built</title></head>
        <body>
        <h1>Kai Hub is running</h1>
        <p>The web dashboard has not been built on this machine. It needs Node.js 20 and npm; from the repository root:</p>
        <pre>cd dashboard &amp;&amp; npm ci &amp;&amp; npm run build</pre>
        <p>then start the hub again (<code>dotnet run --project src/Kai.Hub</code> copies <code>dashboard/dist</code> beside the hub),
        or point <code>Kai:Dashboard:Directory</code> at the build.</p>
        <p>Meanwhile: the API docs are at <a href="/docs">/docs</a> (and <a href="/redoc">/redoc</a>), the OpenAPI document at
        <a href="/openapi.json">/openapi.json</a>.</p>
        </body>
        </html>
        """;
}

/// <summary>The dashboard's build folder, found once at start; null when there is no build.</summary>
internal sealed class DashboardFiles : IDisposable
{
    public DashboardFiles(IOptions<DashboardOptions> options)
    {
        var dir = options.Value.Directory is { Length: > 0 } configured
            ? Path.GetFullPath(configured)
            : Path.Combine(AppContext.BaseDirectory, "dashboard");
        Directory = dir;
        Provider = File.Exists(Path.Combine(dir, "index.html")) ? new PhysicalFileProvider(dir) : null;
    }

    public string Directory { get; }

    /// <summary>Refuses paths that leave the folder (<c>..</c>, rooted paths); null without a build.</summary>
    public PhysicalFileProvider? Provider { get; }

    public void Dispose() => Provider?.Dispose();
}
