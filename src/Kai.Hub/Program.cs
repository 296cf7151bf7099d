using Kai.Hub;
using Kai.Hub.Security;

// `admin create ...` runs against the data directory and exits; it never starts the web host.
if (AdminCommand.Matches(args))
{
    return await AdminCommand.RunAsync(args, Console.Out, Console.Error);
}
try
{
    var app = await HubApplication.CreateAsync(args);
    await app.RunAsync();
    return 0;
}
catch (Exception ex)
{
    // One line naming the path or port and the cause, and a sysexits code (docs/operations.md, "Start-up failures").
    return StartupFailure.Report(ex, args, Console.Error);
}
