using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Kai.Testing;

namespace Kai.Dashboard.Tests.AgentConnect;

/// <summary>
/// The AgentConnect reference frontend (tests/agentconnect-frontend, vendored unchanged: its NOTICE) served by its own Vite dev
/// server in a child process, configured only the way its <c>.env.example</c> documents: <c>VITE_API_URL</c> and
/// <c>VITE_WS_URL</c> pointing at the hub. The packages are installed by <c>.ci/setup/66-chat.sh</c> into a copy at
/// <c>KAI_AGENTCONNECT_DIR</c> (default <c>/opt/kai-ci/agentconnect-frontend</c>); the copy must equal the vendored sources.
/// </summary>
internal sealed partial class AgentConnectFrontend : IAsyncDisposable
{
    private readonly Process _process;

    private AgentConnectFrontend(Process process, string origin)
    {
        _process = process;
        Origin = origin;
    }

    /// <summary>The page's origin, <c>http://127.0.0.1:port</c> (no trailing slash): the hub must allow it (Kai:Security:AllowedOrigins).</summary>
    public string Origin { get; }

    public static string Directory => Environment.GetEnvironmentVariable("KAI_AGENTCONNECT_DIR") is { Length: > 0 } d ? d : "/opt/kai-ci/agentconnect-frontend";

    private static string ViteMain => Path.Combine(Directory, "node_modules", "vite", "bin", "vite.js");

    /// <summary>Skips locally, fails in CI, without node or the installed frontend; fails when the copy differs from the vendored files.</summary>
    public static void Require()
    {
        ExternalServers.Require(ExternalServers.FindProgram("node") is not null && File.Exists(ViteMain),
            $"node and the AgentConnect frontend's packages at {Directory} (bash .ci/setup/66-chat.sh; or set KAI_AGENTCONNECT_DIR)");
        var vendored = Path.Combine(RepositoryRoot(), "tests", "agentconnect-frontend");
        foreach (var file in System.IO.Directory.EnumerateFiles(vendored, "*", SearchOption.AllDirectories))
        {
            var copy = Path.Combine(Directory, Path.GetRelativePath(vendored, file));
            Assert.True(File.Exists(copy) && File.ReadAllBytes(copy).AsSpan().SequenceEqual(File.ReadAllBytes(file)),
                $"{copy} differs from the vendored {file}: run .ci/setup/66-chat.sh again");
        }
    }

    /// <summary>A free loopback port for the dev server (chosen before the hub starts, so the hub can allow the origin).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Starts <c>vite</c> on <paramref name="port"/> with the API and WebSocket roots of <paramref name="hub"/> (<c>…/api</c>).</summary>
    public static async Task<AgentConnectFrontend> StartAsync(int port, Uri hub)
    {
        Require();
        var api = new Uri(hub, "api").ToString();
        var start = new ProcessStartInfo(ExternalServers.FindProgram("node")!, [ViteMain, "--host", "127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--strictPort"])
        {
            WorkingDirectory = Directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        start.Environment["VITE_API_URL"] = api;
        start.Environment["VITE_WS_URL"] = "ws" + api["http".Length..];
        start.Environment["NO_COLOR"] = "1";
        start.Environment["BROWSER"] = "none";
        var process = Process.Start(start)!;
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try
        {
            while (await process.StandardOutput.ReadLineAsync(cts.Token) is { } line)
            {
                if (Ansi().Replace(line, "").Contains($"http://127.0.0.1:{port}/", StringComparison.Ordinal))
                {
                    _ = process.StandardOutput.ReadToEndAsync(CancellationToken.None); // keep draining so vite never blocks
                    return new AgentConnectFrontend(process, $"http://127.0.0.1:{port}");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        process.Kill(entireProcessTree: true);
        throw new InvalidOperationException("vite exited or did not print its address in 120 s");
    }

    [GeneratedRegex(@"\x1b\[[0-9;]*m")]
    private static partial Regex Ansi();

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Kai.sln")))
            {
                return dir.FullName;
            }
        }
        return System.IO.Directory.GetCurrentDirectory();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
    }
}
