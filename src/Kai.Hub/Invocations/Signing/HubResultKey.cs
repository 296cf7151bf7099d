using System.Security.Cryptography;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Kail;
using NSec.Cryptography;

namespace Kai.Hub.Invocations.Signing;

/// <summary>
/// The hub's Ed25519 key that signs every <see cref="InvocationResult"/> it sends (docs/protocol.md, "KAIL signatures"). Made on the first start
/// and kept like the JWT keys (<see cref="Auth.SigningKeys"/>): <c>{DataDirectory}/keys/kail-result-ed25519.pem</c> (PKCS#8 PEM, mode 0600).
/// Published at <c>GET /api/v1/invocations/keys</c>.
/// </summary>
internal sealed class HubResultKey : IDisposable
{
    private static readonly SignatureAlgorithm Ed = SignatureAlgorithm.Ed25519;
    private readonly Key _key;

    public HubResultKey(string dataDirectory)
    {
        var dir = Path.Combine(dataDirectory, "keys");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "kail-result-ed25519.pem");
        _key = Load(path) ?? Create(path);
        var raw = _key.PublicKey.Export(KeyBlobFormat.RawPublicKey);
        KeyId = "hub_" + KeyMaterial.Base64Url(SHA256.HashData(raw)[..12]);
        Public = new HubKey(KeyId, KailSignatures.Ed25519, Convert.ToBase64String(raw), KeyMaterial.Jwk(KailSignatures.Ed25519, raw, KeyId),
            new DateTimeOffset(File.GetLastWriteTimeUtc(path), TimeSpan.Zero));
    }

    public string KeyId { get; }

    /// <summary>The published form.</summary>
    public HubKey Public { get; }

    /// <summary>The result with <c>key_id</c> set and <c>signature</c> over its canonical JSON (as <see cref="KaiJson.Options"/> write it).</summary>
    public InvocationResult Sign(InvocationResult result)
    {
        var unsigned = result with { KeyId = KeyId, Signature = null };
        var input = KailSignatures.SigningInput(JsonSerializer.SerializeToElement(unsigned, KaiJson.Options));
        return unsigned with { Signature = Convert.ToBase64String(Ed.Sign(_key, input)) };
    }

    /// <summary>Signs raw bytes (the benchmark and tests).</summary>
    public byte[] SignBytes(ReadOnlySpan<byte> data) => Ed.Sign(_key, data);

    private static Key? Load(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }
        return Key.Import(Ed, File.ReadAllBytes(path), KeyBlobFormat.PkixPrivateKeyText, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
    }

    private static Key Create(string path)
    {
        var key = Key.Create(Ed, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        var tmp = path + "." + Guid.NewGuid().ToString("N") + ".new";
        using (var f = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(tmp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
            f.Write(key.Export(KeyBlobFormat.PkixPrivateKeyText));
        }
        try
        {
            // Another process sharing the data directory may have made one first: keep theirs.
            File.Move(tmp, path, overwrite: false);
            return key;
        }
        catch (IOException) when (File.Exists(path))
        {
            File.Delete(tmp);
            key.Dispose();
            return Load(path)!;
        }
    }

    public void Dispose() => _key.Dispose();
}
