using Kai.Cli.Cli;
using Kai.Cli.Commands;

namespace Kai.Cli.Tests.Commands;

/// <summary>How <c>kai admin bootstrap</c> finds the hub's data directory, on real directories and database files.</summary>
public sealed class AdminBootstrapTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kai-bootstrap-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Repo => Path.Combine(_root, "repo");

    private string HubData => Path.Combine(Repo, "src", "Kai.Hub", "data");

    private string CwdData => Path.Combine(Repo, "data");

    private static void Database(string dir)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "kai.db"), "");
    }

    [Fact]
    public void The_one_existing_database_is_used_dotnet_runs_under_src_Kai_Hub()
    {
        Database(HubData);
        Assert.Equal(HubData, AdminCommands.FindDataDirectory(null, null, Repo, Repo));
        Assert.False(Directory.Exists(CwdData));
    }

    [Fact]
    public void The_working_directorys_data_is_used_when_only_it_has_a_database()
    {
        Database(CwdData);
        Assert.Equal(CwdData, AdminCommands.FindDataDirectory(null, null, Repo, Repo));
    }

    [Fact]
    public void No_database_or_two_is_refused_naming_the_candidates()
    {
        var none = Assert.Throws<CliException>(() => AdminCommands.FindDataDirectory(null, null, Repo, Repo));
        Assert.Equal(ExitCodes.Usage, none.ExitCode);
        Assert.Contains(CwdData, none.Message, StringComparison.Ordinal);
        Assert.Contains(HubData, none.Message, StringComparison.Ordinal);
        Assert.Contains("--data-dir", none.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(CwdData));
        Assert.False(Directory.Exists(HubData));

        Database(CwdData);
        Database(HubData);
        var both = Assert.Throws<CliException>(() => AdminCommands.FindDataDirectory(null, null, Repo, Repo));
        Assert.Contains("both", both.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_explicit_directory_or_Kai__DataDirectory_wins_resolved_against_the_working_directory()
    {
        Database(CwdData);
        Database(HubData);
        Assert.Equal(Path.Combine(Repo, "elsewhere"), AdminCommands.FindDataDirectory("elsewhere", HubData, Repo, Repo));
        Assert.Equal(Path.Combine(Repo, "from-env"), AdminCommands.FindDataDirectory(null, "from-env", Repo, Repo));
    }
}
