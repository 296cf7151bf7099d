using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Kai.Hub.Security;

/// <summary>
/// The hub's command-line admin verb, run before (instead of) the web host, on the same data directory:
/// <code>dotnet run --project src/Kai.Hub -- admin create --email a@b.c [--password ...] [--name ...] [--Kai:DataDirectory=...]</code>
/// The password may come from <c>KAI_ADMIN_PASSWORD</c> instead, to keep it out of shell history. An existing account with that email
/// is promoted to admin. This is the only way besides configuration to make the first admin: there is no public route for it.
/// Exit codes: 0 done, 2 usage error, 3 rejected (password policy).
/// </summary>
public static class AdminCommand
{
    public static bool Matches(string[] args) => args.Length > 0 && args[0] == "admin";

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length < 2 || args[1] != "create")
        {
            await stderr.WriteLineAsync("usage: admin create --email <email> [--password <password> | env KAI_ADMIN_PASSWORD] [--name <display name>] [hub settings]");
            return 2;
        }
        string? email = null, password = Environment.GetEnvironmentVariable("KAI_ADMIN_PASSWORD"), name = "Administrator";
        var rest = new List<string>();
        for (var i = 2; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--email" when i + 1 < args.Length: email = args[++i]; break;
                case "--password" when i + 1 < args.Length: password = args[++i]; break;
                case "--name" when i + 1 < args.Length: name = args[++i]; break;
                default: rest.Add(args[i]); break;
            }
        }
        if (string.IsNullOrWhiteSpace(email) || string.IsNullOrEmpty(password))
        {
            await stderr.WriteLineAsync("admin create needs --email and a password (--password or KAI_ADMIN_PASSWORD).");
            return 2;
        }
        await using var app = await HubApplication.CreateAsync([.. rest]);
        var store = app.Services.GetRequiredService<IAuthStore>();
        var auth = app.Services.GetRequiredService<AuthService>();
        var audit = app.Services.GetRequiredService<AuditLog>();
        var normalized = email.Trim().ToLowerInvariant();
        var existing = await store.GetUserByEmailAsync(normalized, CancellationToken.None);
        if (existing is not null)
        {
            await store.SetUserRoleAsync(existing.UserId, Roles.Admin, CancellationToken.None);
            await audit.WriteAsync("cli", null, AuditActions.RoleChanged, existing.UserId, AuditOutcomes.Success, null, new { from = existing.Role, to = Roles.Admin });
            await stdout.WriteLineAsync($"{existing.UserId} {normalized} is now admin");
            return 0;
        }
        try
        {
            PasswordPolicy.Check(new Validation(), password, normalized).ThrowIfInvalid();
        }
        catch (ApiException ex)
        {
            await stderr.WriteLineAsync($"password rejected: {ex.DetailsElement()}");
            return 3;
        }
        var user = await auth.CreateUserAsync(normalized, password, name, Roles.Admin, CancellationToken.None);
        await audit.WriteAsync("cli", null, AuditActions.UserCreated, user?.UserId, AuditOutcomes.Success, null, new { role = Roles.Admin });
        await stdout.WriteLineAsync($"{user?.UserId} {normalized} created as admin");
        return 0;
    }
}
