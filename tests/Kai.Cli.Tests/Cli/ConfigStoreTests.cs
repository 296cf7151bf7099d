using Kai.Cli.Cli;

namespace Kai.Cli.Tests.Cli;

public sealed class ConfigStoreTests
{
    [Fact]
    public void Saves_tokens_readable_only_by_the_user_and_loads_them_back()
    {
        var dir = Path.Combine(Path.GetTempPath(), "kai-cli-tests", Guid.NewGuid().ToString("N"));
        try
        {
            var store = new ConfigStore(dir);
            Assert.Equal(CliConfig.Empty, store.Load());
            var config = new CliConfig("http://127.0.0.1:9", "a@example.com", "usr_1", "access", "refresh");
            store.Save(config);
            Assert.Equal(config, store.Load());
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(store.ConfigPath));
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(dir));
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("../evil")]
    [InlineData("a/b")]
    [InlineData("..")]
    public void Agent_ids_cannot_escape_the_agents_directory(string id)
    {
        Assert.Throws<CliException>(() => new ConfigStore("/tmp/x").AgentCredentialsPath(id));
    }
}
