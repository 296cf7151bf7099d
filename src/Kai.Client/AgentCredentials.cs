using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Rest;

namespace Kai.Client;

/// <summary>
/// An agent's client credentials (seed 004 "Agent Authentication"), as returned once at creation. Saved as a small
/// JSON file readable only by the owner (mode 0600 on Unix).
/// </summary>
/// <param name="HubUrl">The hub's base URL.</param>
/// <param name="AgentId">The agent id.</param>
/// <param name="ClientId">The OAuth client id (equal to the agent id).</param>
/// <param name="ClientSecret">The client secret.</param>
public sealed record AgentCredentials(string HubUrl, string AgentId, string ClientId, string ClientSecret)
{
    /// <summary>Reads credentials saved with <see cref="Save"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not a credentials file.</exception>
    public static AgentCredentials Load(string path) =>
        JsonSerializer.Deserialize<AgentCredentials>(File.ReadAllText(path), KaiJson.Options) is { AgentId.Length: > 0, ClientSecret.Length: > 0 } c
            ? c
            : throw new InvalidDataException($"'{path}' does not hold agent credentials.");

    /// <summary>Writes the credentials atomically, readable only by the current user.</summary>
    public void Save(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(this, KaiJson.Options));
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(tmp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>
    /// Loads the credentials at <paramref name="path"/> if the file exists; otherwise registers a new agent with
    /// <paramref name="owner"/> (signed in as a user) and saves its credentials there.
    /// </summary>
    public static async Task<AgentCredentials> RegisterOrLoadAsync(HubClient owner, string path, RegisterAgentRequest request, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(owner);
        if (File.Exists(path))
        {
            return Load(path);
        }
        var created = await owner.RegisterAgentAsync(request, ct);
        var credentials = new AgentCredentials(owner.BaseAddress.ToString().TrimEnd('/'), created.AgentId, created.ClientId, created.ClientSecret);
        credentials.Save(path);
        return credentials;
    }
}
