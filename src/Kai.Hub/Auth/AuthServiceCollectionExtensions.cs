using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Auth;

internal static class AuthServiceCollectionExtensions
{
    /// <summary>Signing keys, tokens, accounts, bearer authentication and permission-based authorization.</summary>
    public static IServiceCollection AddKaiAuth(this IServiceCollection services)
    {
        services.AddSingleton(sp => new SigningKeys(Path.GetFullPath(sp.GetRequiredService<IOptions<HubOptions>>().Value.DataDirectory), sp.GetRequiredService<TimeProvider>()));
        services.AddKaiBearerAuthentication();
        services.AddSingleton<AuthService>();
        services.AddAuthorization();
        services.AddSingleton<IAuthorizationPolicyProvider, PermissionPolicyProvider>();
        services.AddSingleton<IAuthorizationHandler, PermissionHandler>();
        return services;
    }
}
