using System.Text.Json;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Events;
using Kai.Hub.Housekeeping;
using Kai.Hub.Logs;
using Kai.Hub.Routing;
using Kai.Hub.Security;
using Kai.Hub.Tasks;
using Kai.Protocol.Rest;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Settings;

/// <summary>
/// Registration and routes of the runtime settings (<c>/api/v1/config</c>). This folder names the groups that may change;
/// the capabilities only read their options through <c>IOptionsMonitor</c>, so none of them depends on this folder.
/// </summary>
internal static class SettingsServiceCollectionExtensions
{
    public static IServiceCollection AddKaiSettings(this IServiceCollection services)
    {
        services.AddSingleton<ISettingsStore>(sp => sp.GetRequiredService<Storage.IHubStore>() is Storage.Postgres.PostgresHubStore postgres
            ? new PostgresSettingsStore(postgres)
            : new SqliteSettingsStore(Path.Combine(Path.GetFullPath(sp.GetRequiredService<IOptions<HubOptions>>().Value.DataDirectory), "kai.db")));
        services.AddSingleton<RuntimeSettings>();
        services.AddSingleton<IHousekeeping>(sp => sp.GetRequiredService<RuntimeSettings>());
        // What may change at run time (seed 000: rate limits, the retry and timeout table, history sizes, log retention).
        // Paths, listeners, cluster names and anything read once at start are not here.
        services.AddSingleton<IRuntimeSection>(new RuntimeSection<RateLimitOptions>("rate_limits", RateLimitOptions.Section,
            nameof(RateLimitOptions.Window), nameof(RateLimitOptions.Auth), nameof(RateLimitOptions.TokenVerify), nameof(RateLimitOptions.SessionCreate),
            nameof(RateLimitOptions.Anonymous), nameof(RateLimitOptions.Authenticated), nameof(RateLimitOptions.AgentOperations)));
        services.AddSingleton<IRuntimeSection>(new RuntimeSection<RoutingOptions>("routing", RoutingOptions.Section,
            nameof(RoutingOptions.MaxPerSecondPerSender), nameof(RoutingOptions.Burst), nameof(RoutingOptions.DefaultMaxConcurrentTasks)));
        services.AddSingleton<IRuntimeSection>(new RuntimeSection<TaskOptions>("tasks", TaskOptions.Section,
            nameof(TaskOptions.LeaseDuration), nameof(TaskOptions.DefaultTimeoutSeconds), nameof(TaskOptions.Retry), nameof(TaskOptions.Types)));
        services.AddSingleton<IRuntimeSection>(new RuntimeSection<CommandOptions>("commands", CommandOptions.Section,
            nameof(CommandOptions.DefaultWaitSeconds), nameof(CommandOptions.DefaultTtlSeconds)));
        services.AddSingleton<IRuntimeSection>(new RuntimeSection<EventOptions>("events", EventOptions.Section,
            nameof(EventOptions.HistorySize), nameof(EventOptions.HistoryTtl), nameof(EventOptions.MaxTopics), nameof(EventOptions.MaxPublishBytes),
            nameof(EventOptions.MaxPollWaitSeconds)));
        services.AddSingleton<IRuntimeSection>(new RuntimeSection<LogOptions>("logs", LogOptions.Section,
            nameof(LogOptions.MaxPerAgent), nameof(LogOptions.MaxAge)));
        return services;
    }

    /// <summary>Adds the runtime layer last, after every other configuration source (tests' included), so an override wins.</summary>
    public static void AddKaiRuntimeSettingsLayer(this WebApplicationBuilder builder)
    {
        var source = new RuntimeSettingsSource();
        builder.Services.AddSingleton(source);
        ((IConfigurationBuilder)builder.Configuration).Add(source);
    }

    public static void MapSettingsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").WithTags("Admin").RequirePermission(Permissions.SystemConfigWrite);
        api.MapGet("/config", GetAsync)
            .WithName("getConfig").WithSummary("The settings that may change at run time, with their effective values and overrides");
        api.MapGet("/config/{section}", GetSection).WithName("getConfigSection").WithSummary("One group of runtime settings").WithErrors(404);
        api.MapPatch("/config/{section}", ChangeAsync).WithName("changeConfigSection")
            .WithSummary("Change runtime settings of one group (null removes an override); validated, audited and kept across restarts")
            .Accepts<JsonElement>("application/json").WithErrors(400, 404);
        api.MapDelete("/config/{section}", ResetAsync).WithName("resetConfigSection").WithSummary("Remove every runtime override of one group").WithErrors(404);
    }

    private static async Task<Ok<ConfigResponse>> GetAsync(RuntimeSettings settings, CancellationToken ct) => TypedResults.Ok(await settings.GetAsync(ct));

    private static Ok<ConfigSection> GetSection(string section, RuntimeSettings settings) => TypedResults.Ok(settings.Get(section));

    private static async Task<Ok<ConfigSection>> ChangeAsync(string section, HttpContext http, RuntimeSettings settings, CancellationToken ct)
    {
        JsonElement body;
        try
        {
            body = await JsonSerializer.DeserializeAsync<JsonElement>(http.Request.Body, cancellationToken: ct);
        }
        catch (JsonException e)
        {
            throw new ApiException(Kai.Protocol.ErrorCodes.ValidationError, "The body is not JSON: " + e.Message);
        }
        return TypedResults.Ok(await settings.ChangeAsync(http, section, body, ct));
    }

    private static async Task<Ok<ConfigSection>> ResetAsync(string section, HttpContext http, RuntimeSettings settings, CancellationToken ct) =>
        TypedResults.Ok(await settings.ResetAsync(http, section, ct));
}
