using Kai.Hub.Auth;
using Kai.Hub.Housekeeping;
using Kai.Hub.Storage;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Invocations;

internal static class InvocationsServiceCollectionExtensions
{
    /// <summary>KAIL invocations (seed 002): options <c>Kai:Kail</c> (validated at start), the invocation policy grants, the store, the signing keys (Signing/), the service and its sweep.</summary>
    public static IServiceCollection AddKaiInvocations(this IServiceCollection services)
    {
        services.AddOptions<KailOptions>().BindConfiguration(KailOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<KailOptions>, KailOptionsValidator>();
        services.AddOptions<InvocationPolicyOptions>().BindConfiguration(KailOptions.Section);
        services.AddSingleton<IInvocationStore>(sp => sp.GetRequiredService<IHubStore>() switch
        {
            SqliteHubStore sqlite => new SqliteInvocationStore(sqlite),
            Storage.Postgres.PostgresHubStore postgres => new PostgresInvocationStore(postgres),
            _ => throw new InvalidOperationException("The invocation store has no implementation for this hub store."),
        });
        services.AddSingleton<Signing.IKailKeyStore>(sp => sp.GetRequiredService<IHubStore>() switch
        {
            SqliteHubStore sqlite => new Signing.SqliteKailKeyStore(sqlite),
            Storage.Postgres.PostgresHubStore postgres => new Signing.PostgresKailKeyStore(postgres),
            _ => throw new InvalidOperationException("The KAIL key store has no implementation for this hub store."),
        });
        services.AddSingleton(sp => new Signing.HubResultKey(Path.GetFullPath(sp.GetRequiredService<IOptions<HubOptions>>().Value.DataDirectory)));
        services.AddSingleton<Signing.EnvelopeSignatures>();
        services.AddSingleton<InvocationService>();
        services.AddSingleton<Routing.IReplyCodec, InvocationReplyCodec>(); // invocation_results answered on another node
        services.AddSingleton<IHousekeeping>(sp => sp.GetRequiredService<InvocationService>());
        // The agent an invocation's try is with reads the files its payload references (issue 13).
        services.AddSingleton<IWorkHolder>(sp => new InMemoryWorkHolder(WorkKinds.Invocation, sp.GetRequiredService<InvocationService>().HeldTenant));
        return services;
    }
}
