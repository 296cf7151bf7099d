using Kai.Testing;

namespace Kai.Cli.Tests.EndToEnd;

/// <summary>
/// The setting of an end-to-end CLI test: an in-process hub on a real socket, a throwaway config directory, and the built
/// <c>kai</c> run as child processes; long-running children (agents, tails) are stopped when the test ends.
/// </summary>
public abstract class CliFlow : IAsyncLifetime
{
    private readonly List<KaiCli.LongRunning> _children = [];

    protected string Dir { get; } = Path.Combine(Path.GetTempPath(), "kai-cli-tests", Guid.NewGuid().ToString("N"));

    protected TestHub Hub { get; private set; } = null!;

    protected KaiCli Cli { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Dir);
        Hub = await TestHub.StartAsync();
        Cli = new KaiCli(Path.Combine(Dir, "config"), Hub.BaseAddress);
    }

    public async Task DisposeAsync()
    {
        foreach (var child in _children)
        {
            child.Dispose();
        }
        await Hub.DisposeAsync();
        Directory.Delete(Dir, recursive: true);
    }

    /// <summary>Runs <c>kai</c> to completion.</summary>
    protected Task<KaiRun> Kai(params string[] args) => Cli.RunAsync(args);

    /// <summary>Starts a long-running <c>kai</c> (stopped at the end of the test).</summary>
    protected KaiCli.LongRunning Start(params string[] args)
    {
        var child = Cli.Start(args);
        _children.Add(child);
        return child;
    }
}
