using Kai.Hub.Routing;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Rpc;

internal static class RpcServiceCollectionExtensions
{
    /// <summary>
    /// AMRI RPC (seed 001): the options (<c>Kai:Rpc</c>, validated at start), the per-target circuit breakers
    /// (<c>Kai:Routing:CircuitBreaker</c>, shared with other request/response callers), the routing table, the service and its edges.
    /// </summary>
    public static IServiceCollection AddKaiRpc(this IServiceCollection services)
    {
        services.AddOptions<RpcOptions>().BindConfiguration(RpcOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<RpcOptions>, RpcOptionsValidator>();
        services.AddOptions<CircuitBreakerOptions>().BindConfiguration(CircuitBreakerOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton<CircuitBreakers>();
        services.AddSingleton<RpcRouteTable>();
        services.AddSingleton<RpcResultCache>();
        // A method may declare a cache TTL up to the RPC cache's limit.
        services.AddOptions<Schemas.SchemaLimits>().Configure<IOptions<RpcOptions>>((limits, rpc) => limits.MaxCacheTtlMs = rpc.Value.MaxCacheTtlMs);
        services.AddSingleton<RpcService>();
        // The agent a call is with reads the files its params reference (issue 13).
        services.AddSingleton<Auth.IWorkHolder>(sp => new Auth.InMemoryWorkHolder(Auth.WorkKinds.Rpc, sp.GetRequiredService<RpcService>().HeldTenant));
        services.AddSingleton<IReplyCodec, RpcReplyCodec>(); // rpc_responses answered on another node
        services.AddSingleton<RpcMessages>();
        services.AddSingleton<RpcSocketEdge>();
        return services;
    }
}
