namespace Kai.Hub.Dashboard;

/// <summary>Where the built web dashboard is (<c>Kai:Dashboard</c>).</summary>
internal sealed class DashboardOptions
{
    public const string Section = "Kai:Dashboard";

    /// <summary>
    /// The folder holding the dashboard's build (<c>index.html</c> and <c>assets/</c>). Default: <c>dashboard/</c> beside the
    /// hub's binaries, where the build copies <c>dashboard/dist</c> of the repository when it exists (Kai.Hub.csproj).
    /// </summary>
    public string? Directory { get; set; }
}
