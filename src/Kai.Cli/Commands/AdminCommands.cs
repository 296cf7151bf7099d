using Kai.Protocol.Rest;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using Kai.Cli.Cli;
using Kai.Client;

namespace Kai.Cli.Commands;

/// <summary><c>kai admin bootstrap|users|role|disable|enable</c> and <c>kai audit</c> (admin role, except bootstrap which runs the hub's own verb).</summary>
internal static class AdminCommands
{
    private static readonly Option<bool> JsonOutput = new("--json") { Description = "Print the hub's JSON instead of text." };

    public static IEnumerable<Command> Create()
    {
        var admin = new Command("admin", "Administer the hub: the first admin, users and roles (admin role).");
        admin.Subcommands.Add(Bootstrap());
        admin.Subcommands.Add(Users());
        admin.Subcommands.Add(Role());
        admin.Subcommands.Add(SetDisabled("disable", "Disable a user: their sessions, links and agents' tokens are revoked at once.", true));
        admin.Subcommands.Add(SetDisabled("enable", "Enable a disabled user again.", false));
        yield return admin;
        yield return Audit();
    }

    private static Command Bootstrap()
    {
        var email = new Option<string>("--email", "-e") { Description = "The admin's email; an existing account is promoted.", Required = true };
        var password = new Option<string?>("--password", "-p")
        {
            Description = "The password for a new account (default: $KAI_ADMIN_PASSWORD, else asked without echo). It reaches the hub through KAI_ADMIN_PASSWORD, never its command line.",
        };
        var dataDir = new Option<string?>("--data-dir")
        {
            Description = "The hub's data directory. Default: $Kai__DataDirectory, else the one existing database of ./data and "
                + "src/Kai.Hub/data (where `dotnet run --project src/Kai.Hub` keeps it); with none or both, kai asks you to say which.",
        };
        var hubDll = new Option<string?>("--hub-dll") { Description = "Path of the built Kai.Hub.dll (default: $KAI_HUB_DLL, else found next to kai in a source checkout)." };
        var command = new Command("bootstrap", """
            Make the first admin by running the hub's own verb (`Kai.Hub admin create`) on its data directory, with the hub stopped or not.
            Exit codes are the hub's: 0 done, 2 usage, 3 password refused by the policy.
            """)
        {
            email, password, dataDir, hubDll,
        };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            var dll = parse.GetValue(hubDll) ?? CliContext.Env("KAI_HUB_DLL") ?? FindHubDll();
            if (!File.Exists(dll))
            {
                throw new CliException($"the hub is not built at {dll}; build it (`dotnet build src/Kai.Hub`) or pass --hub-dll.", ExitCodes.Error);
            }
            var secret = parse.GetValue(password) ?? CliContext.Env("KAI_ADMIN_PASSWORD") ?? Output.ReadPassword("admin password: ");
            var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[] { dll, "admin", "create", "--email", parse.GetRequiredValue(email) })
            {
                start.ArgumentList.Add(arg);
            }
            var dir = FindDataDirectory(parse.GetValue(dataDir), CliContext.Env("Kai__DataDirectory"), Environment.CurrentDirectory, RepositoryRootOf(dll));
            start.ArgumentList.Add($"--Kai:DataDirectory={dir}");
            // The password goes through the environment: a child's command line is visible to every user of the machine (ps).
            start.Environment["KAI_ADMIN_PASSWORD"] = secret;
            using var process = Process.Start(start) ?? throw new CliException("could not start dotnet", ExitCodes.Error);
            var stdout = process.StandardOutput.ReadToEndAsync(ct);
            var stderr = process.StandardError.ReadToEndAsync(ct);
            await process.WaitForExitAsync(ct);
            Console.Write(await stdout);
            Console.Error.Write(await stderr);
            if (process.ExitCode == 0)
            {
                Console.Error.WriteLine($"log in with: kai login --email {parse.GetRequiredValue(email)}");
            }
            return process.ExitCode;
        }));
        return command;
    }

    /// <summary>
    /// The hub's data directory, by the hub's own rule (<c>Kai:DataDirectory</c>, default <c>data</c> under its working
    /// directory), so bootstrap never makes a second database by accident: <paramref name="explicitDir"/> (<c>--data-dir</c>),
    /// else <c>Kai__DataDirectory</c>, else whichever of <c>./data</c> and <c>src/Kai.Hub/data</c> of the checkout
    /// (<c>dotnet run</c>'s working directory) holds a <c>kai.db</c>. Refuses when neither or both do, naming them.
    /// </summary>
    internal static string FindDataDirectory(string? explicitDir, string? environmentDir, string workingDirectory, string? repositoryRoot)
    {
        if (explicitDir is { Length: > 0 })
        {
            var full = Path.GetFullPath(explicitDir, workingDirectory);
            if (!File.Exists(Path.Combine(full, "kai.db")))
            {
                Console.Error.WriteLine($"note: {full} has no database yet; bootstrap creates it (start the hub with --Kai:DataDirectory={full})");
            }
            return full;
        }
        if (environmentDir is { Length: > 0 })
        {
            return Path.GetFullPath(environmentDir, workingDirectory);
        }
        var candidates = new List<string> { Path.GetFullPath("data", workingDirectory) };
        if (repositoryRoot is not null)
        {
            candidates.Add(Path.Combine(repositoryRoot, "src", "Kai.Hub", "data"));
        }
        candidates = candidates.Distinct(StringComparer.Ordinal).ToList();
        var existing = candidates.Where(c => File.Exists(Path.Combine(c, "kai.db"))).ToList();
        if (existing.Count == 1)
        {
            Console.Error.WriteLine($"using the hub's data directory {existing[0]}");
            return existing[0];
        }
        var list = string.Join(" and ", candidates);
        throw new CliException(existing.Count == 0
            ? $"cannot tell which data directory the hub uses: no database in {list}. Start the hub once, or pass --data-dir DIR (the hub's --Kai:DataDirectory)."
            : $"cannot tell which data directory the hub uses: both {list} hold a database. Pass --data-dir DIR (the hub's --Kai:DataDirectory).", ExitCodes.Usage);
    }

    /// <summary>The checkout (the directory with Kai.sln) above the hub's dll, if any.</summary>
    private static string? RepositoryRootOf(string dll)
    {
        for (var dir = new DirectoryInfo(Path.GetDirectoryName(Path.GetFullPath(dll))!); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Kai.sln")))
            {
                return dir.FullName;
            }
        }
        return null;
    }

    /// <summary><c>src/Kai.Hub/bin/{configuration}/{tfm}/Kai.Hub.dll</c> of the source checkout kai runs from (the way the CLI tests find kai.dll).</summary>
    private static string FindHubDll()
    {
        var configuration = typeof(AdminCommands).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Name;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Kai.sln")))
            {
                return Path.Combine(dir.FullName, "src", "Kai.Hub", "bin", configuration, tfm, "Kai.Hub.dll");
            }
        }
        throw new CliException($"no source checkout (Kai.sln) above {AppContext.BaseDirectory}; pass --hub-dll or set KAI_HUB_DLL.", ExitCodes.Usage);
    }

    private static Command Users()
    {
        var command = new Command("users", "List every account as a table.") { JsonOutput };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            using var client = await ctx.UserClientAsync(ct);
            var all = await AllUsersAsync(client, ct);
            if (parse.GetValue(JsonOutput))
            {
                Console.WriteLine(Output.Json(all));
                return ExitCodes.Ok;
            }
            Console.Write(Output.Table(["ID", "EMAIL", "NAME", "ROLE", "DISABLED", "CREATED"],
                all.Select(u => (IReadOnlyList<string>)[u.UserId, u.Email, u.DisplayName, u.Role, u.Disabled ? "yes" : "no", Output.Time(u.CreatedAt)])));
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static async Task<List<AdminUser>> AllUsersAsync(HubClient client, CancellationToken ct)
    {
        var all = new List<AdminUser>();
        while (true)
        {
            var page = await client.ListUsersAsync(limit: 100, offset: all.Count, ct: ct);
            all.AddRange(page.Users);
            if (page.Users.Count == 0 || all.Count >= page.Total)
            {
                return all;
            }
        }
    }

    /// <summary>A user id as given, or the id of the account with that email.</summary>
    private static async Task<string> ResolveUserAsync(HubClient client, string user, CancellationToken ct)
    {
        if (!user.Contains('@', StringComparison.Ordinal))
        {
            return user;
        }
        return (await AllUsersAsync(client, ct)).FirstOrDefault(u => string.Equals(u.Email, user, StringComparison.OrdinalIgnoreCase))?.UserId
            ?? throw new CliException($"no account with email {user}", ExitCodes.Error);
    }

    private static readonly Argument<string> UserArgument = new("user") { Description = "The user id (usr_…) or email." };

    private static Command Role()
    {
        var role = new Argument<string>("role") { Description = "user, developer or admin." };
        role.AcceptOnlyFromAmong("user", "developer", "admin");
        var command = new Command("role", "Change a user's role; their sessions end so it applies at once.") { UserArgument, role, JsonOutput };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            using var client = await ctx.UserClientAsync(ct);
            var id = await ResolveUserAsync(client, parse.GetRequiredValue(UserArgument), ct);
            return Print(await client.ChangeRoleAsync(id, parse.GetRequiredValue(role), ct), parse.GetValue(JsonOutput), "role " + parse.GetRequiredValue(role));
        }));
        return command;
    }

    private static Command SetDisabled(string name, string description, bool disable)
    {
        var command = new Command(name, description) { UserArgument, JsonOutput };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            using var client = await ctx.UserClientAsync(ct);
            var id = await ResolveUserAsync(client, parse.GetRequiredValue(UserArgument), ct);
            var user = disable ? await client.DisableUserAsync(id, ct) : await client.EnableUserAsync(id, ct);
            return Print(user, parse.GetValue(JsonOutput), disable ? "disabled" : "enabled");
        }));
        return command;
    }

    private static int Print(AdminUser user, bool json, string what)
    {
        Console.WriteLine(json ? Output.Json(user) : $"{user.UserId} {user.Email}: {what} (role {user.Role}{(user.Disabled ? ", disabled" : "")})");
        return ExitCodes.Ok;
    }

    private static Command Audit()
    {
        var actor = new Option<string?>("--actor") { Description = "Only entries by this actor (user or agent id, or cli)." };
        var action = new Option<string?>("--action") { Description = "Only this action, for example admin.user.role_changed or agent.secret_rotated." };
        var since = new Option<string?>("--since") { Description = "Only entries since an ISO 8601 time or a duration back from now (30s, 10m, 2h, 1d)." };
        var limit = new Option<int>("--limit") { Description = "Newest entries to show, 1 to 100.", DefaultValueFactory = _ => 50 };
        var command = new Command("audit", "Show the hub's audit log, newest first (admin role).") { actor, action, since, limit, JsonOutput };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            if (parse.GetValue(limit) is < 1 or > 100)
            {
                throw new CliException("--limit must be 1 to 100.", ExitCodes.Usage);
            }
            var from = LogsCommand.ParseSince(parse.GetValue(since));
            using var client = await ctx.UserClientAsync(ct);
            var page = await client.GetAuditAsync(new AuditQuery(parse.GetValue(actor), parse.GetValue(action), from, null, parse.GetValue(limit)), ct);
            if (parse.GetValue(JsonOutput))
            {
                Console.WriteLine(Output.Json(page.Entries));
                return ExitCodes.Ok;
            }
            if (page.Entries.Count == 0)
            {
                Console.WriteLine("no audit entries match");
                return ExitCodes.Ok;
            }
            Console.Write(Output.Table(["AT", "ACTOR", "ROLE", "ACTION", "TARGET", "OUTCOME", "IP", "DETAILS"],
                page.Entries.Select(e => (IReadOnlyList<string>)[Output.Time(e.At), e.ActorId ?? "-", e.ActorRole ?? "-", e.Action, e.Target ?? "-", e.Outcome, e.Ip ?? "-", Output.Compact(e.Details, 60)])));
            if (page.Total > page.Entries.Count)
            {
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"showing {page.Entries.Count} of {page.Total}; narrow with --since, --actor or --action"));
            }
            return ExitCodes.Ok;
        }));
        return command;
    }
}
