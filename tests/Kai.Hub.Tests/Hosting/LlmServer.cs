using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Kai.Testing;

namespace Kai.Hub.Tests.Hosting;

/// <summary>
/// An OpenAI-compatible server in its own process on a free loopback port: npm's <c>@dwmkerr/mock-llm</c>
/// (installed by <c>.ci/setup/60-hosted.sh</c> into <c>$KAI_MOCK_LLM_DIR</c>, default <c>/opt/kai-ci/mock-llm</c>), or the
/// repository's <c>scripted-llm.js</c> for what mock-llm cannot script (Retry-After, delays, exact echo). Both need node.
/// </summary>
internal sealed class LlmServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string? _configFile;

    private LlmServer(Process process, int port, string? configFile)
    {
        _process = process;
        _configFile = configFile;
        BaseUrl = new Uri($"http://127.0.0.1:{port}/v1");
    }

    /// <summary>The API root to configure as a provider's <c>base_url</c>.</summary>
    public Uri BaseUrl { get; }

    /// <summary>The hub settings of an <c>openai</c> provider <paramref name="name"/> at <paramref name="baseUrl"/>, offering models <c>m1</c> (the default) and <c>m2</c>.</summary>
    public static Dictionary<string, string> ProviderSettings(Uri baseUrl, string name = "local", double timeout = 30, int retries = 3, bool allowBaseUrl = false) => new()
    {
        [$"Kai:Providers:{name}:type"] = "openai",
        [$"Kai:Providers:{name}:base_url"] = baseUrl.ToString(),
        [$"Kai:Providers:{name}:models:0"] = "m1",
        [$"Kai:Providers:{name}:models:1"] = "m2",
        [$"Kai:Providers:{name}:default_model"] = "m1",
        [$"Kai:Providers:{name}:api_key"] = "provider-key",
        [$"Kai:Providers:{name}:timeout"] = timeout.ToString(System.Globalization.CultureInfo.InvariantCulture),
        [$"Kai:Providers:{name}:max_retries"] = retries.ToString(System.Globalization.CultureInfo.InvariantCulture),
        [$"Kai:Providers:{name}:max_retry_delay"] = "5",
        [$"Kai:Providers:{name}:allow_agent_base_url"] = allowBaseUrl ? "true" : "false",
    };

    public static string MockLlmMain => Path.Combine(
        Environment.GetEnvironmentVariable("KAI_MOCK_LLM_DIR") is { Length: > 0 } d ? d : "/opt/kai-ci/mock-llm",
        "node_modules", "@dwmkerr", "mock-llm", "dist", "main.js");

    private static string? Node => ExternalServers.FindProgram("node");

    /// <summary>Starts mock-llm with <paramref name="yaml"/> as its rules; skips (locally) or fails (CI) when it is not installed.</summary>
    public static async Task<LlmServer> StartMockLlmAsync(string yaml)
    {
        ExternalServers.Require(Node is not null && File.Exists(MockLlmMain), "@dwmkerr/mock-llm and node (.ci/setup/60-hosted.sh)");
        var config = Path.Combine(Path.GetTempPath(), $"kai-mock-llm-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(config, yaml);
        var port = FreePort();
        var start = new ProcessStartInfo(Node!, [MockLlmMain, "--config", config]) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        start.Environment["PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["HOST"] = "127.0.0.1";
        var process = Process.Start(start)!;
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        await WaitForLineAsync(process, "server running on");
        return new LlmServer(process, port, config);
    }

    /// <summary>Starts <c>scripted-llm.js</c>; skips (locally) or fails (CI) without node.</summary>
    public static async Task<LlmServer> StartScriptedAsync()
    {
        ExternalServers.Require(Node is not null, "node (apt-get install nodejs)");
        var script = Path.Combine(AppContext.BaseDirectory, "Hosting", "scripted-llm.js");
        var start = new ProcessStartInfo(Node!, [script]) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        start.Environment["PORT"] = "0";
        var process = Process.Start(start)!;
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        var line = await WaitForLineAsync(process, "listening ");
        return new LlmServer(process, int.Parse(line["listening ".Length..], System.Globalization.CultureInfo.InvariantCulture), null);
    }

    private static async Task<string> WaitForLineAsync(Process process, string marker)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (await process.StandardOutput.ReadLineAsync(cts.Token) is { } line)
        {
            if (line.Contains(marker, StringComparison.Ordinal))
            {
                // Keep draining stdout so the child never blocks on a full pipe.
                _ = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
                return line;
            }
        }
        throw new InvalidOperationException($"the LLM server exited before printing '{marker}'");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
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
        if (_configFile is not null)
        {
            File.Delete(_configFile);
        }
    }
}
