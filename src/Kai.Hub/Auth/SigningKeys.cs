using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.Tokens;

namespace Kai.Hub.Auth;

/// <summary>
/// The RSA key that signs access tokens. Created under <c>{DataDirectory}/keys/</c> on first start (PKCS#8 PEM,
/// file mode 0600); its <c>kid</c> is the RFC 7638 JWK thumbprint, so the same key always has the same id.
/// </summary>
internal sealed class SigningKeys : IDisposable
{
    private readonly RSA _rsa;

    public SigningKeys(string dataDirectory)
    {
        var dir = Path.Combine(dataDirectory, "keys");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "jwt-signing.pem");
        _rsa = RSA.Create();
        if (File.Exists(path))
        {
            _rsa.ImportFromPem(File.ReadAllText(path));
        }
        else
        {
            _rsa.KeySize = 2048;
            var pem = _rsa.ExportPkcs8PrivateKeyPem();
            var tmp = path + ".tmp";
            File.WriteAllText(tmp, pem);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(tmp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
            File.Move(tmp, path);
        }
        var p = _rsa.ExportParameters(false);
        KeyId = Thumbprint(p);
        // A factory of our own: the shared default caches signature providers by key id, which would hand a
        // later instance (same kid, e.g. a restart in one process) a provider over this instance's disposed RSA.
        Key = new RsaSecurityKey(_rsa) { KeyId = KeyId, CryptoProviderFactory = new CryptoProviderFactory() };
    }

    public string KeyId { get; }

    public RsaSecurityKey Key { get; }

    /// <summary>RFC 7638 §3: SHA-256 over the canonical JSON of the required members, base64url.</summary>
    private static string Thumbprint(RSAParameters p)
    {
        var json = JsonSerializer.Serialize(new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["e"] = Base64UrlEncoder.Encode(p.Exponent),
            ["kty"] = "RSA",
            ["n"] = Base64UrlEncoder.Encode(p.Modulus),
        });
        return Base64UrlEncoder.Encode(SHA256.HashData(Encoding.UTF8.GetBytes(json)));
    }

    public void Dispose() => _rsa.Dispose();
}
