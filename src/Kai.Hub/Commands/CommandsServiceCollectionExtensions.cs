using Kai.Hub.Housekeeping;

namespace Kai.Hub.Commands;

internal static class CommandsServiceCollectionExtensions
{
    /// <summary>Durable commands (and their deadline sweep).</summary>
    public static IServiceCollection AddKaiCommands(this IServiceCollection services)
    {
        services.AddOptions<CommandOptions>().BindConfiguration(CommandOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<CommandService>();
        services.AddSingleton<IHousekeeping>(sp => sp.GetRequiredService<CommandService>());
        services.AddSingleton<Routing.IReplyCodec, CommandReplyCodec>();
        services.AddSingleton<Auth.IWorkHolder, CommandWorkHolder>();
        return services;
    }
}
