namespace Kai.Hub.Schemas;

internal static class SchemasServiceCollectionExtensions
{
    /// <summary>Agents' schema declarations for their methods, commands and intents (<see cref="SchemaCatalog"/>), stored with the agent.</summary>
    public static IServiceCollection AddKaiSchemas(this IServiceCollection services) => services.AddSingleton<SchemaCatalog>();
}
