using Kai.Hub.A2a;
using Kai.Hub.Agents;
using Kai.Hub.Auth;
using Kai.Hub.Chat;
using Kai.Hub.Cluster;
using Kai.Hub.Commands;
using Kai.Hub.Dashboard;
using Kai.Hub.Errors;
using Kai.Hub.Events;
using Kai.Hub.Files;
using Kai.Hub.Hosting;
using Kai.Hub.Housekeeping;
using Kai.Hub.Invocations;
using Kai.Hub.Logs;
using Kai.Hub.Mcp;
using Kai.Hub.Messaging;
using Kai.Hub.Routing;
using Kai.Hub.Rpc;
using Kai.Hub.Schemas;
using Kai.Hub.Edges;
using Kai.Hub.Streams;
using Kai.Hub.Observability;
using Kai.Hub.Security;
using Kai.Hub.Settings;
using Kai.Hub.Storage;
using Kai.Hub.Tasks;
using Kai.Hub.Workflows;
using Kai.Protocol;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Kai.Hub;

/// <summary>Builds the hub: services, middleware and endpoints. <c>Program.cs</c> and the tests both start it through here.</summary>
public static class HubApplication
{
    /// <summary>The address used when no <c>--urls</c> / <c>ASPNETCORE_URLS</c> is given.</summary>
    public const string DefaultUrl = "http://127.0.0.1:8000";

    /// <summary>Creates the hub, with its data directory created, migrations applied and start-up state loaded.</summary>
    /// <param name="args">Command-line arguments (ASP.NET Core configuration syntax, for example <c>--urls</c> or <c>--Kai:DataDirectory</c>).</param>
    /// <param name="configure">Optional hook to change services before the app is built (tests swap <see cref="TimeProvider"/>).</param>
    /// <returns>The application, ready to run.</returns>
    public static async Task<WebApplication> CreateAsync(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        if (string.IsNullOrEmpty(builder.Configuration[WebHostDefaults.ServerUrlsKey]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = 1024 * 1024;
            // No "Server: Kestrel": the hub does not advertise its server software.
            k.AddServerHeader = false;
        });
        builder.Logging.EscapeControlCharacters();
        AddServices(builder);
        configure?.Invoke(builder);
        builder.AddKaiRuntimeSettingsLayer();

        var app = builder.Build();
        await InitializeAsync(app.Services);
        app.UseKaiEdges();
        UsePipeline(app);
        StartupBanner.Register(app);
        return app;
    }

    /// <summary>The hub's capabilities, one <c>AddKaiX()</c> per folder; the router is at the centre, the edges around it.</summary>
    private static void AddServices(WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<HubOptions>().BindConfiguration(HubOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.ConfigureHttpJsonOptions(o => KaiJson.Configure(o.SerializerOptions));
        // Body-binding failures become exceptions with the JSON error inside, so the envelope can say what was wrong.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);

        services.AddKaiStorage();
        services.AddKaiCluster();
        services.AddKaiAuth();
        services.AddKaiSecurity();
        services.AddKaiObservability();
        services.AddKaiRouting();
        services.AddKaiEdges();
        services.AddKaiAgents();
        services.AddKaiSchemas();
        services.AddKaiCommands();
        services.AddKaiMessaging();
        services.AddKaiTasks();
        services.AddKaiWorkflows();
        services.AddKaiEvents();
        services.AddKaiStreams();
        services.AddKaiLogs();
        services.AddKaiFiles();
        services.AddKaiHosting();
        services.AddKaiSettings();
        services.AddKaiRpc();
        services.AddKaiInvocations();
        services.AddKaiChat();
        services.AddKaiHousekeeping();
        services.AddKaiMcp();
        services.AddKaiA2a();
        services.AddKaiDashboard();
    }

    private static async Task InitializeAsync(IServiceProvider services)
    {
        var time = services.GetRequiredService<TimeProvider>();
        await services.GetRequiredService<IStoreLifecycle>().MigrateAsync(CancellationToken.None);
        await services.GetRequiredService<RuntimeSettings>().LoadAsync(CancellationToken.None);
        await services.GetRequiredService<NodeHeartbeat>().JoinAsync(CancellationToken.None);
        var revocations = services.GetRequiredService<SessionRevocations>();
        foreach (var sessionId in await services.GetRequiredService<IAuthStore>().ListRevokedSessionsAsync(time.GetUtcNow(), CancellationToken.None))
        {
            revocations.Revoke(sessionId);
        }
        await services.GetRequiredService<AuthService>().EnsureBootstrapAdminAsync(CancellationToken.None);
        // Start listening to the meters and activity sources now, so the first request is counted and traced.
        services.GetRequiredService<PrometheusExporter>();
        services.GetRequiredService<Telemetry>();
        var metrics = services.GetRequiredService<HubMetrics>();
        var store = services.GetRequiredService<IMetricsStore>();
        metrics.Gauge("kai.commands.open", () => store.CountOpenCommandsAsync(CancellationToken.None).GetAwaiter().GetResult(),
            description: "Commands queued or executing (the command queue depth).");
        metrics.Gauge("kai.tasks", () => store.CountTasksByStatusAsync(CancellationToken.None).GetAwaiter().GetResult()
                .Select(kv => new System.Diagnostics.Metrics.Measurement<int>(kv.Value, new KeyValuePair<string, object?>("status", kv.Key))),
            description: "Tasks by status; status=\"queued\" is the task queue depth.");
    }

    private static void UsePipeline(WebApplication app)
    {
        app.UseKaiErrors();
        app.UseKaiLingeringClose();
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(30) });
        // After UseWebSockets, which is what makes an upgrade request recognisable for the Origin check.
        app.UseKaiSecurityHeaders();
        app.UseCors(SecurityHeadersExtensions.CorsPolicy);
        app.UseAuthentication();
        // After authentication (limits are per principal when the token is valid), before authorization (a flood of
        // forbidden requests is still limited).
        app.UseRateLimiter();
        app.UseAuthorization();

        app.MapOpenApi("/openapi.json").AllowAnonymous("the public API description");
        app.UseSwaggerUI(o =>
        {
            o.RoutePrefix = "docs";
            o.SwaggerEndpoint("/openapi.json", "Kai Hub API");
            o.DocumentTitle = "Kai Hub API";
        });
        app.UseReDoc(o =>
        {
            o.RoutePrefix = "redoc";
            o.SpecUrl = "/openapi.json";
            o.DocumentTitle = "Kai Hub API";
        });
        app.MapHealthChecks("/health", new HealthCheckOptions { Predicate = _ => false }).AllowAnonymous("liveness probe; says nothing but up");
        app.MapHealthChecks("/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready"), ResponseWriter = ReadinessWriter.WriteAsync }).AllowAnonymous("readiness probe for load balancers");

        app.MapAuthApi();
        app.MapAgentsApi();
        app.MapNodesApi();
        app.MapTasksApi();
        app.MapWorkflowsApi();
        app.MapAgentLinks();
        app.MapMetricsApi();
        app.MapEventLink();
        app.MapEventsApi();
        app.MapStreamsApi();
        app.MapLogsApi();
        app.MapAdminApi();
        app.MapSettingsApi();
        app.MapKaiHosting();
        app.MapFilesApi();
        app.MapRpcApi();
        app.MapInvocationsApi();
        app.MapChat();
        app.MapKaiMcp();
        app.MapKaiA2a();
        app.MapDashboard();
    }
}
