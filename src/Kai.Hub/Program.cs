using Kai.Hub;
using Kai.Hub.Security;

// `admin create ...` runs against the data directory and exits; it never starts the web host.
if (AdminCommand.Matches(args))
{
    return await AdminCommand.RunAsync(args, Console.Out, Console.Error);
}
var app = await HubApplication.CreateAsync(args);
await app.RunAsync();
return 0;
