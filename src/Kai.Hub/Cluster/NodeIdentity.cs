using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Cluster;

/// <summary>
/// The id of this hub node: <c>Kai:NodeId</c> when set, else generated once (<c>node-</c> and 16 hex digits) and kept in
/// <c>node.id</c> in the data directory. Link state in the store is recorded per node with it.
/// </summary>
internal sealed partial class NodeIdentity
{
    /// <summary>What a node id may be.</summary>
    public const string Pattern = "^[A-Za-z0-9._-]{1,64}$";

    /// <summary>The file in the data directory that keeps a generated id.</summary>
    public const string FileName = "node.id";

    public NodeIdentity(IOptions<ClusterOptions> cluster, IOptions<HubOptions> hub)
    {
        Id = cluster.Value.NodeId is { Length: > 0 } configured
            ? configured
            : LoadOrCreate(Path.Combine(Path.GetFullPath(hub.Value.DataDirectory), FileName));
    }

    /// <summary>This node's id.</summary>
    public string Id { get; }

    /// <summary>Reads the kept id, or creates it; two processes racing on a fresh directory end with the same id.</summary>
    /// <exception cref="InvalidOperationException">The file holds something that is not a node id.</exception>
    internal static string LoadOrCreate(string path)
    {
        if (!File.Exists(path))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var temp = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
            File.WriteAllText(temp, "node-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)) + "\n");
            try
            {
                File.Move(temp, path, overwrite: false);
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another process created it first: use theirs.
            }
            finally
            {
                File.Delete(temp);
            }
        }
        var id = File.ReadAllText(path).Trim();
        if (!IdRegex().IsMatch(id))
        {
            throw new InvalidOperationException(
                $"'{path}' does not hold a node id (1 to 64 letters, digits or - _ .). Fix or delete the file, or set Kai:NodeId.");
        }
        return id;
    }

    [GeneratedRegex(Pattern)]
    private static partial Regex IdRegex();
}
