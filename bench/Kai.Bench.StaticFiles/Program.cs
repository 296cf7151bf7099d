// The baseline of bench/files.sh: a plain ASP.NET Core server doing the same transfers as the hub with nothing else, so the hub's
// figures can be read against what Kestrel itself does on this machine. Downloads are UseStaticFiles over a directory (Range,
// ETag, sendfile where the OS has it); uploads stream one multipart file part to disk with MultipartReader, 64 KiB at a time,
// like the hub's upload route but without hashing, fsync, quota or metadata.
//
//   dotnet Kai.Bench.StaticFiles.dll --urls http://127.0.0.1:PORT --root DIR
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.FileProviders;
using Microsoft.Net.Http.Headers;

var builder = WebApplication.CreateBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = null);
var root = Path.GetFullPath(builder.Configuration["root"] ?? throw new InvalidOperationException("--root DIR is required"));
Directory.CreateDirectory(root);
var app = builder.Build();
app.UseStaticFiles(new StaticFileOptions { FileProvider = new PhysicalFileProvider(root), RequestPath = "/files", ServeUnknownFileTypes = true });
app.MapPost("/upload", async (HttpRequest request, CancellationToken ct) =>
{
    request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>()!.MaxRequestBodySize = null;
    var boundary = HeaderUtilities.RemoveQuotes(MediaTypeHeaderValue.Parse(request.ContentType).Boundary).Value!;
    var reader = new MultipartReader(boundary, request.Body) { BodyLengthLimit = null };
    long size = 0;
    while (await reader.ReadNextSectionAsync(ct) is { } section)
    {
        if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var cd) || !cd.IsFileDisposition())
        {
            continue;
        }
        var path = Path.Combine(root, "up-" + Guid.NewGuid().ToString("N"));
        await using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024, FileOptions.Asynchronous);
        var buffer = new byte[64 * 1024];
        int n;
        while ((n = await section.Body.ReadAsync(buffer, ct)) > 0)
        {
            await file.WriteAsync(buffer.AsMemory(0, n), ct);
            size += n;
        }
    }
    return Results.Ok(new { size });
});
app.Run();
