using System.Text.Json;
using Kai.Protocol;

namespace Kai.Cli.Cli;

/// <summary>
/// What <c>kai</c> remembers between runs: the hub URL and the user's tokens from the last <c>kai login</c>.
/// Kept as <c>config.json</c> in the config directory, readable only by the user (0600).
/// </summary>
/// <param name="Url">The hub URL the tokens belong to.</param>
/// <param name="Email">The email of the logged-in user.</param>
/// <param name="UserId">The user id.</param>
/// <param name="AccessToken">The last access token.</param>
/// <param name="RefreshToken">The last refresh token (single use: the hub rotates it).</param>
internal sealed record CliConfig(string? Url, string? Email, string? UserId, string? AccessToken, string? RefreshToken)
{
    /// <summary>An empty configuration.</summary>
    public static CliConfig Empty { get; } = new(null, null, null, null, null);
}

/// <summary>The config directory: <c>$KAI_CONFIG_DIR</c>, else ApplicationData/kai (<c>~/.config/kai</c> on Linux).</summary>
internal sealed class ConfigStore(string directory)
{
    public const string DefaultUrl = "http://127.0.0.1:8000";

    public string Directory { get; } = directory;

    public string ConfigPath => Path.Combine(Directory, "config.json");

    public string AgentsDirectory => Path.Combine(Directory, "agents");

    public static ConfigStore FromEnvironment() =>
        new(Environment.GetEnvironmentVariable("KAI_CONFIG_DIR") is { Length: > 0 } dir
            ? Path.GetFullPath(dir)
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.ApplicationData, Environment.SpecialFolderOption.DoNotVerify), "kai"));

    /// <summary>The path of an agent's saved credentials, <c>agents/{id}.json</c>.</summary>
    /// <exception cref="CliException">The id could escape the directory.</exception>
    public string AgentCredentialsPath(string agentId)
    {
        if (agentId.Length == 0 || agentId.IndexOfAny(['/', '\\']) >= 0 || agentId is "." or "..")
        {
            throw new CliException($"'{agentId}' is not a valid agent id.");
        }
        return Path.Combine(AgentsDirectory, agentId + ".json");
    }

    public CliConfig Load()
    {
        if (!File.Exists(ConfigPath))
        {
            return CliConfig.Empty;
        }
        try
        {
            return JsonSerializer.Deserialize<CliConfig>(File.ReadAllText(ConfigPath), KaiJson.Options) ?? CliConfig.Empty;
        }
        catch (JsonException ex)
        {
            throw new CliException($"{ConfigPath} is not valid JSON ({ex.Message}); delete it and run `kai login` again.");
        }
    }

    /// <summary>Writes the configuration atomically with mode 0600 (the directory gets 0700).</summary>
    public void Save(CliConfig config)
    {
        EnsureDirectory(Directory);
        var tmp = ConfigPath + "." + Environment.ProcessId + ".tmp";
        var json = JsonSerializer.Serialize(config, KaiJson.Options);
        if (OperatingSystem.IsWindows())
        {
            File.WriteAllText(tmp, json);
        }
        else
        {
            // Create the file with 0600 from the start, so the tokens are never readable by others, not even briefly.
            using var stream = new FileStream(tmp, new FileStreamOptions
            {
                Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
            using var writer = new StreamWriter(stream);
            writer.Write(json);
        }
        File.Move(tmp, ConfigPath, overwrite: true);
    }

    public static void EnsureDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(path);
        }
        else
        {
            System.IO.Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }
}
