using Kai.Hub.Agents;
using Kai.Hub.Auth;
using Kai.Hub.Commands;
using Kai.Hub.Errors;
using Kai.Hub.Events;
using Kai.Hub.Messaging;
using Kai.Hub.Observability;
using Kai.Hub.Security;
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
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = 1024 * 1024);
        AddServices(builder);
        configure?.Invoke(builder);

        var app = builder.Build();
        await InitializeAsync(app.Services);
        // Without this, Kestrel waits its whole shutdown timeout for open WebSocket requests, and clients see a dropped
        // connection instead of a close frame telling them to reconnect.
        var registry = app.Services.GetRequiredService<ConnectionRegistry>();
        app.Lifetime.ApplicationStopping.Register(() => registry.CloseEverything(Kai.Protocol.CloseCodes.GoingAway, "hub shutting down"));
        UsePipeline(app);
        StartupBanner.Register(app);
        return app;
    }

    private static void AddServices(WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<HubOptions>().BindConfiguration(HubOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.ConfigureHttpJsonOptions(o => KaiJson.Configure(o.SerializerOptions));
        // Body-binding failures become exceptions with the JSON error inside, so the envelope can say what was wrong.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);

        services.AddSingleton<IHubStore>(sp =>
        {
            var dir = Path.GetFullPath(sp.GetRequiredService<IOptions<HubOptions>>().Value.DataDirectory);
            Directory.CreateDirectory(dir);
            return new SqliteHubStore(Path.Combine(dir, "kai.db"));
        });
        services.AddSingleton(sp => new SigningKeys(Path.GetFullPath(sp.GetRequiredService<IOptions<HubOptions>>().Value.DataDirectory), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<SessionRevocations>();
        services.AddSingleton<TokenService>();
        services.AddSingleton<AuthService>();
        services.AddAuthentication(BearerAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, BearerAuthenticationHandler>(BearerAuthenticationHandler.SchemeName, null);
        services.AddAuthorization();
        services.AddSingleton<IAuthorizationPolicyProvider, PermissionPolicyProvider>();
        services.AddSingleton<IAuthorizationHandler, PermissionHandler>();
        services.AddKaiSecurity();

        services.AddOptions<TelemetryOptions>().BindConfiguration(HubOptions.Section + ":Telemetry").ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<Telemetry>();
        services.AddSingleton<HubMetrics>();
        services.AddSingleton<PrometheusExporter>();
        services.AddSingleton<RequestStats>();
        services.AddSingleton<ConnectionRegistry>();
        services.AddSingleton<Router>();
        services.AddSingleton<AgentAccess>();
        services.AddSingleton<AgentPresence>();
        services.AddSingleton<AgentService>();
        services.AddSingleton<CommandService>();
        services.AddKaiTasks();
        services.AddSingleton<HubSweeper>();
        services.AddHostedService(sp => sp.GetRequiredService<HubSweeper>());
        services.AddKaiEvents();

        services.AddKaiOpenApi();
        services.AddHealthChecks()
            .AddCheck<DatabaseHealthCheck>("database", tags: ["ready"])
            .AddCheck<BusHealthCheck>("bus", tags: ["ready"]);
    }

    private static async Task InitializeAsync(IServiceProvider services)
    {
        var store = services.GetRequiredService<IHubStore>();
        var time = services.GetRequiredService<TimeProvider>();
        await store.MigrateAsync(CancellationToken.None);
        await store.ResetLinksAsync(time.GetUtcNow(), CancellationToken.None);
        var revocations = services.GetRequiredService<SessionRevocations>();
        foreach (var sessionId in await store.ListRevokedSessionsAsync(time.GetUtcNow(), CancellationToken.None))
        {
            revocations.Revoke(sessionId);
        }
        await services.GetRequiredService<AuthService>().EnsureBootstrapAdminAsync(CancellationToken.None);
        // Start listening to the meters and activity sources now, so the first request is counted and traced.
        services.GetRequiredService<PrometheusExporter>();
        services.GetRequiredService<Telemetry>();
        var metrics = services.GetRequiredService<HubMetrics>();
        metrics.Gauge("kai.commands.open", () => store.CountOpenCommandsAsync(CancellationToken.None).GetAwaiter().GetResult(),
            description: "Commands queued or executing (the command queue depth).");
        metrics.Gauge("kai.tasks", () => store.CountTasksByStatusAsync(CancellationToken.None).GetAwaiter().GetResult()
                .Select(kv => new System.Diagnostics.Metrics.Measurement<int>(kv.Value, new KeyValuePair<string, object?>("status", kv.Key))),
            description: "Tasks by status; status=\"queued\" is the task queue depth.");
    }

    private static void UsePipeline(WebApplication app)
    {
        app.UseKaiErrors();
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
        app.MapHealthChecks("/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready") }).AllowAnonymous("readiness probe for load balancers");

        app.MapAuthApi();
        app.MapAgentsApi();
        app.MapTasksApi();
        app.MapWorkflowsApi();
        app.MapAgentLinks();
        app.MapMetricsApi();
        app.MapKaiEvents();
        app.MapAdminApi();
    }
}
