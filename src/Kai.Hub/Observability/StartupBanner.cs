using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Kai.Hub.Observability;

/// <summary>
/// One log line when the hub has started: the addresses it listens on and where a person goes next (the API docs, and the
/// web console at <c>/</c> when one is mapped), so a new user does not have to guess the paths.
/// </summary>
internal static partial class StartupBanner
{
    /// <summary>The logger category (<c>Logging:LogLevel:Kai.Hub.Startup</c>).</summary>
    public const string Category = "Kai.Hub.Startup";

    public static void Register(WebApplication app) =>
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var urls = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.Select(a => a.TrimEnd('/')).ToList() ?? [];
            var first = urls.FirstOrDefault() ?? HubApplication.DefaultUrl;
            var root = app.Services.GetServices<EndpointDataSource>().SelectMany(s => s.Endpoints).OfType<RouteEndpoint>()
                .Any(e => e.RoutePattern.RawText is "/" or "" && e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods.Contains("GET") != false);
            var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(Category);
            Started(logger, string.Join(", ", urls), root ? $"the web console at {first}/, " : "", $"{first}/docs", $"{first}/openapi.json");
        });

    [LoggerMessage(1, LogLevel.Information, "Kai Hub is listening on {Urls}; open {Console}the API docs at {Docs} (OpenAPI document: {OpenApi}; WebSocket protocol: docs/asyncapi.yaml)")]
    private static partial void Started(ILogger logger, string urls, string console, string docs, string openApi);
}
