using System.Diagnostics;
using System.Text;
using Kai.Hub.Routing;
using Kai.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Kai.Client.Tests.ForeignClients;

/// <summary>
/// Runs a client's own test suite (Python, TypeScript) as a child process against a real hub: starts a <see cref="TestHub"/>,
/// creates a user and two agents, passes them in environment variables (<c>KAI_HUB_URL</c>, <c>KAI_TEST_EMAIL</c>,
/// <c>KAI_TEST_PASSWORD</c>, <c>KAI_AGENT_ID</c>/<c>KAI_AGENT_SECRET</c>, <c>KAI_PEER_ID</c>/<c>KAI_PEER_SECRET</c>,
/// <c>KAI_TEST_CONTROL_URL</c>) and serves the suite's control requests at that URL (a second Kestrel on 127.0.0.1:0, so it works
/// whatever the child's test runner does with stdio): <c>POST</c> a body <c>close-events CODE</c> closes every event link with CODE,
/// <c>close-agent ID CODE</c> closes that agent's live link; the answer is <c>ok</c> once the hub has closed them (or <c>error ...</c>).
/// </summary>
internal static class ForeignClientRun
{
    public const string AgentId = "fc-worker";
    public const string PeerId = "fc-peer";

    /// <summary>The repository root (the folder with Kai.sln), found upwards from the test assembly.</summary>
    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Kai.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("Kai.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Runs a program to its end (for probes and builds): exit code and combined output.</summary>
    public static async Task<(int Code, string Output)> RunAsync(string program, string workingDirectory, TimeSpan timeout, params string[] args)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            return (-1, $"timed out after {timeout}\n{await stdout}{await stderr}");
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>Starts a hub, creates the user and agents, runs the suite and returns its exit code and output.</summary>
    public static async Task<(int Code, string Output)> RunSuiteAgainstHubAsync(string program, string workingDirectory, IReadOnlyList<string> args,
        IDictionary<string, string>? extraEnvironment = null)
    {
        await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string>
        {
            // Every client of the suite is 127.0.0.1: room for its logins and token exchanges.
            ["Kai:Security:RateLimits:Auth"] = "1000",
            ["Kai:Security:RateLimits:TokenVerify"] = "1000",
            ["Kai:Security:RateLimits:AgentOperations"] = "1000",
        });
        var email = $"client-{Guid.NewGuid():N}@example.com";
        const string password = "client-suite-password-1";
        var owner = await hub.NewUserAsync(email, password);
        var worker = await hub.NewAgentAsync(owner.AccessToken, AgentId, "worker", "double");
        var peer = await hub.NewAgentAsync(owner.AccessToken, PeerId, "worker");

        await using var control = await StartControlAsync(hub);
        var controlUrl = control.Urls.First().TrimEnd('/') + "/control";
        var start = new ProcessStartInfo(program)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        var env = new Dictionary<string, string>
        {
            ["KAI_HUB_URL"] = hub.BaseAddress.ToString().TrimEnd('/'),
            ["KAI_TEST_EMAIL"] = email,
            ["KAI_TEST_PASSWORD"] = password,
            ["KAI_AGENT_ID"] = worker.AgentId,
            ["KAI_AGENT_SECRET"] = worker.ClientSecret,
            ["KAI_PEER_ID"] = peer.AgentId,
            ["KAI_PEER_SECRET"] = peer.ClientSecret,
            ["KAI_TEST_CONTROL_URL"] = controlUrl,
            ["PYTHONUNBUFFERED"] = "1",
        };
        foreach (var (k, v) in extraEnvironment ?? new Dictionary<string, string>())
        {
            env[k] = v;
        }
        foreach (var (k, v) in env)
        {
            start.Environment[k] = v;
        }

        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var stdout = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                lock (output)
                {
                    output.AppendLine(line);
                }
            }
        });
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            output.AppendLine("(killed: the suite ran longer than 5 minutes)");
        }
        await stdout;
        lock (output)
        {
            return (process.HasExited ? process.ExitCode : -1, output + "\n--- stderr ---\n" + stderr.Result);
        }
    }

    private static async Task<WebApplication> StartControlAsync(TestHub hub)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.MapPost("/control", async (HttpRequest request) =>
        {
            using var reader = new StreamReader(request.Body);
            return Results.Text(await Control(hub, (await reader.ReadToEndAsync()).Trim()));
        });
        await app.StartAsync();
        return app;
    }

    private static async Task<string> Control(TestHub hub, string command)
    {
        var parts = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        try
        {
            switch (parts)
            {
                case ["close-events", var code]:
                    var subscribers = hub.Service<Router>().TopicSubscribers;
                    if (subscribers.Count == 0)
                    {
                        return "error no event link is open";
                    }
                    foreach (var s in subscribers)
                    {
                        s.Close(int.Parse(code, System.Globalization.CultureInfo.InvariantCulture), "closed by the test");
                    }
                    return "ok";
                case ["close-agent", var agentId, var code]:
                    var link = hub.Service<ConnectionRegistry>().AgentLink(agentId);
                    if (link is null)
                    {
                        return $"error agent {agentId} has no live link";
                    }
                    link.RequestClose(int.Parse(code, System.Globalization.CultureInfo.InvariantCulture), "closed by the test");
                    // Answer once the hub has let the link go, so what the child does next meets no open link.
                    var deadline = DateTime.UtcNow.AddSeconds(10);
                    while (ReferenceEquals(hub.Service<ConnectionRegistry>().AgentLink(agentId), link) && DateTime.UtcNow < deadline)
                    {
                        await Task.Delay(10);
                    }
                    return "ok";
                default:
                    return "error unknown control: " + command;
            }
        }
        catch (Exception ex) when (ex is FormatException or OverflowException)
        {
            return "error " + ex.Message;
        }
    }
}
