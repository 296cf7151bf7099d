using System.CommandLine;
using Kai.Cli.Cli;

namespace Kai.Cli.Commands;

/// <summary><c>kai login</c>, <c>kai register</c>, <c>kai logout</c>.</summary>
internal static class AuthCommands
{
    public static IEnumerable<Command> Create()
    {
        yield return Login();
        yield return Register();
        yield return Logout();
    }

    private static Command Login()
    {
        var email = new Option<string?>("--email", "-e") { Description = "The account email (default: $KAI_EMAIL, else asked)." };
        var password = new Option<string?>("--password", "-p")
        {
            Description = "The password (default: $KAI_PASSWORD, else asked without echo, or read as one line from redirected stdin).",
        };
        var magic = new Option<bool>("--magic") { Description = "Mail a sign-in link (a kml_… token) to --email instead of using a password." };
        var magicToken = new Option<string?>("--magic-token") { Description = "Sign in with the kml_… token from a magic-link mail (valid 10 minutes, once)." };
        var command = new Command("login", "Log in to the hub and save the tokens in the config directory.") { email, password, magic, magicToken };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            using var client = ctx.AnonymousClient();
            if (parse.GetValue(magicToken) is { } token)
            {
                var verified = await client.VerifyMagicLinkAsync(token, ct);
                ctx.SaveTokens(verified);
                Console.WriteLine($"logged in to {ctx.Url} as {verified.UserProfile.Email} ({verified.UserProfile.UserId}, role {verified.UserProfile.Role}) with a magic link");
                return ExitCodes.Ok;
            }
            var user = parse.GetValue(email) ?? CliContext.Env("KAI_EMAIL") ?? Output.ReadLine("email: ");
            if (parse.GetValue(magic))
            {
                await client.RequestMagicLinkAsync(user, ct);
                Console.WriteLine($"if {user} has an account on {ctx.Url}, a sign-in link is on its way (valid 10 minutes).");
                Console.WriteLine("then run: kai login --magic-token <kml_… token from the mail>");
                return ExitCodes.Ok;
            }
            var secret = parse.GetValue(password) ?? CliContext.Env("KAI_PASSWORD") ?? Output.ReadPassword("password: ");
            var tokens = await client.LoginAsync(user, secret, ct);
            ctx.SaveTokens(tokens);
            Console.WriteLine($"logged in to {ctx.Url} as {tokens.UserProfile.Email} ({tokens.UserProfile.UserId}, role {tokens.UserProfile.Role})");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Register()
    {
        var email = new Option<string>("--email", "-e") { Description = "The account email.", Required = true };
        var password = new Option<string?>("--password", "-p") { Description = "The password, 8 to 128 characters (default: $KAI_PASSWORD, else asked)." };
        var name = new Option<string>("--name", "-n") { Description = "The display name.", Required = true };
        var command = new Command("register", "Create a user account (accepting the terms) and log in with it.") { email, password, name };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            var user = parse.GetRequiredValue(email);
            var secret = parse.GetValue(password) ?? CliContext.Env("KAI_PASSWORD") ?? Output.ReadPassword("new password: ");
            using var client = ctx.AnonymousClient();
            var created = await client.RegisterAsync(user, secret, parse.GetRequiredValue(name), ct);
            var tokens = await client.LoginAsync(user, secret, ct);
            ctx.SaveTokens(tokens);
            Console.WriteLine($"registered {user} ({created.UserId}) and logged in to {ctx.Url}");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Logout()
    {
        var command = new Command("logout", "Revoke the session on the hub and forget the saved tokens.");
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            if (ctx.Config.AccessToken is null)
            {
                Console.WriteLine("not logged in");
                return ExitCodes.Ok;
            }
            try
            {
                using var client = await ctx.UserClientAsync(ct);
                await client.LogoutAsync(ct);
            }
            catch (Kai.Client.HubApiException ex) when (ex.Status == 401)
            {
                // Already expired or revoked on the hub: forgetting it locally is all that is left to do.
            }
            ctx.ForgetTokens();
            Console.WriteLine($"logged out of {ctx.Url}");
            return ExitCodes.Ok;
        }));
        return command;
    }
}
