using Kai.Testing;
using Microsoft.Playwright;

namespace Kai.Dashboard.Tests;

/// <summary>
/// One Playwright driver and one Debian <c>chromium</c> for the test class. Playwright's own browser download does not work
/// here, so the browser is the system's: <c>KAI_CHROMIUM</c> (default <c>/usr/bin/chromium</c>), started with the flags a
/// closed network needs. The dashboard's build is <c>KAI_DASHBOARD_DIST</c> (default <c>dashboard/dist</c> of the repository).
/// <c>.ci/setup/65-dashboard.sh</c> installs the one and builds the other.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public static readonly string? ChromiumPath = ExternalServers.FindProgram("chromium",
        Environment.GetEnvironmentVariable("KAI_CHROMIUM") ?? "/usr/bin/chromium");

    public static readonly string DashboardDist = Environment.GetEnvironmentVariable("KAI_DASHBOARD_DIST") is { Length: > 0 } d
        ? Path.GetFullPath(d)
        : Path.Combine(RepositoryRoot(), "dashboard", "dist");

    public static bool DashboardBuilt => File.Exists(Path.Combine(DashboardDist, "index.html"));

    /// <summary>Where the screenshots go: <c>TestResults/screenshots</c> under the test output (kept as CI artifacts).</summary>
    public static readonly string Screenshots = Path.Combine(AppContext.BaseDirectory, "TestResults", "screenshots");

    private IPlaywright? _playwright;

    public IBrowser? Browser { get; private set; }

    public async Task InitializeAsync()
    {
        if (ChromiumPath is null)
        {
            return; // each test skips (or fails in CI) with the reason
        }
        Directory.CreateDirectory(Screenshots);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"],
        });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }
        _playwright?.Dispose();
    }

    /// <summary>Skips locally, fails in CI, when chromium is missing (tests of pages the hub does not serve, such as AgentConnect's).</summary>
    public IBrowser RequireChromium()
    {
        ExternalServers.Require(ChromiumPath is not null, "chromium (apt-get install chromium; or set KAI_CHROMIUM)");
        return Browser!;
    }

    /// <summary>Skips locally, fails in CI, when chromium or the dashboard build is missing.</summary>
    public IBrowser Require()
    {
        RequireChromium();
        ExternalServers.Require(DashboardBuilt, $"the dashboard build at {DashboardDist} (cd dashboard && npm ci && npm run build; or set KAI_DASHBOARD_DIST)");
        return Browser!;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Kai.sln")))
            {
                return dir.FullName;
            }
        }
        return Directory.GetCurrentDirectory();
    }
}
