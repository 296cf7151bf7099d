using Kai.Hub.Agents;
using Kai.Hub.Auth;
using Kai.Hub.Messaging;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Hosting;

/// <summary>Registers and maps the hosting capability: LLM providers, the OpenAI-compatible adapter, hosted agents.</summary>
internal static class HostingServiceCollectionExtensions
{
    public static IServiceCollection AddKaiHosting(this IServiceCollection services)
    {
        services.AddOptions<Dictionary<string, ProviderOptions>>().BindConfiguration(HostingOptions.ProvidersSection).ValidateOnStart();
        services.AddSingleton<IValidateOptions<Dictionary<string, ProviderOptions>>, ProvidersValidator>();
        services.AddOptions<HostingOptions>().BindConfiguration(HostingOptions.Section)
            .Validate(o => o.HistoryLimit is >= 0 and <= 10_000 && o.MaxConcurrency is >= 1 and <= 256 && o.QueueLimit is >= 1 and <= 1_000_000,
                $"{HostingOptions.Section}: HistoryLimit must be 0 to 10000, MaxConcurrency 1 to 256, QueueLimit 1 to 1000000.")
            .ValidateOnStart();

        // Inline API keys are protected with ASP.NET Core Data Protection; its key ring lives in <data>/keys/dataprotection.
        services.AddDataProtection().SetApplicationName("kai-hub");
        services.AddOptions<KeyManagementOptions>().Configure<IOptions<HubOptions>, ILoggerFactory>((o, hub, logs) =>
        {
            var dir = new DirectoryInfo(Path.Combine(Path.GetFullPath(hub.Value.DataDirectory), "keys", "dataprotection"));
            if (!dir.Exists)
            {
                dir.Create();
                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(dir.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                }
            }
            o.XmlRepository = new FileSystemXmlRepository(dir, logs);
        });

        services.AddSingleton<IHostedAgentStore>(sp => sp.GetRequiredService<Storage.IHubStore>() is Storage.Postgres.PostgresHubStore postgres
            ? new PostgresHostedAgentStore(postgres)
            : new SqliteHostedAgentStore(Path.Combine(Path.GetFullPath(sp.GetRequiredService<IOptions<HubOptions>>().Value.DataDirectory), "kai.db")));
        // Webhook, custom-API and shell agents (Hosting/Adapters): the SSRF guard and the adapters' limits (Kai:Adapters).
        services.AddOptions<Adapters.AdapterOptions>().BindConfiguration(Adapters.AdapterOptions.Section)
            .Validate(o => o.Webhook.Timeout > 0 && o.Webhook.MaxTimeout >= o.Webhook.Timeout && o.Webhook.Retries is >= 0 and <= 10 && o.Webhook.MaxResponseBytes > 0
                && o.Webhook.AllowedCidrs.All(c => System.Net.IPNetwork.TryParse(c, out _))
                && o.Shell.Timeout > 0 && o.Shell.MaxTimeout >= o.Shell.Timeout && o.Shell.MaxOutputBytes > 0 && o.Shell.MaxErrorBytes >= 0
                && o.Shell.Allowed.Values.All(Path.IsPathFullyQualified),
                $"{Adapters.AdapterOptions.Section}: timeouts above 0 (and at most MaxTimeout), Webhook:Retries 0 to 10, AllowedCidrs as CIDR (10.0.0.0/8), Shell:Allowed paths absolute.")
            .ValidateOnStart();
        services.AddSingleton<Adapters.SsrfGuard>();
        services.AddSingleton<Adapters.AdapterAgents>();
        services.AddSingleton<Adapters.HealthProbe>();
        services.AddHostedService(sp => sp.GetRequiredService<Adapters.HealthProbe>());
        services.AddSingleton<HostedAgentSupervisor>();
        services.AddSingleton<Routing.IDeliveryTarget>(sp => sp.GetRequiredService<HostedAgentSupervisor>());
        services.AddSingleton<IHostedAgentHooks>(sp => sp.GetRequiredService<HostedAgentSupervisor>());
        services.AddHostedService(sp => sp.GetRequiredService<HostedAgentSupervisor>());
        return services;
    }

    public static RouteGroupBuilder MapKaiHosting(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/providers").WithTags("Hosting");
        api.MapGet("/", List).WithName("listProviders").WithSummary("List the configured LLM providers and their models (no secrets)").RequirePermission(Permissions.AgentCreate);
        return api;
    }

    /// <summary>The configured LLM providers and their models, for choosing a hosted agent's <c>config.provider</c>; no secrets, no addresses.</summary>
    private static Ok<ProviderListResponse> List(IOptions<Dictionary<string, ProviderOptions>> providers) =>
        TypedResults.Ok(new ProviderListResponse([.. providers.Value.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => new ProviderView(
            kv.Key, kv.Value.Type, kv.Value.Models, kv.Value.DefaultModel ?? kv.Value.Models.FirstOrDefault(), kv.Value.Timeout,
            kv.Value.ApiKey is not null || kv.Value.ApiKeyRef is not null, kv.Value.AllowAgentBaseUrl))]));
}

/// <summary><c>GET /api/v1/providers</c>.</summary>
internal sealed record ProviderListResponse(IReadOnlyList<ProviderView> Providers);

/// <summary>One provider as listed: never its key or its address.</summary>
internal sealed record ProviderView(string Name, string Type, IReadOnlyList<string> Models, string? DefaultModel, double Timeout, bool ApiKeyConfigured, bool AllowAgentBaseUrl);
