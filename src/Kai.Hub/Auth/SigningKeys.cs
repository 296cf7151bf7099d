using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.Tokens;

namespace Kai.Hub.Auth;

/// <summary>
/// The RSA keys that sign access tokens: the current key signs, the current and the previous key validate, so a rotation never
/// invalidates a token that is still within its lifetime. Keys live under <c>{DataDirectory}/keys/</c> (PKCS#8 PEM, mode 0600):
/// <c>jwt-signing.pem</c> and <c>jwt-signing-previous.pem</c>. A <c>kid</c> is the RFC 7638 JWK thumbprint, so a key keeps its id.
/// </summary>
internal sealed class SigningKeys : IDisposable
{
    private readonly string _dir;
    private readonly TimeProvider _time;
    private readonly Lock _rotateLock = new();
    private readonly List<RSA> _all = [];
    private volatile KeySet _keys;

    public SigningKeys(string dataDirectory, TimeProvider time)
    {
        _time = time;
        _dir = Path.Combine(dataDirectory, "keys");
        Directory.CreateDirectory(_dir);
        var current = Load(CurrentPath) ?? Create(CurrentPath);
        _keys = new KeySet(current, Load(PreviousPath), ReadCreatedAt());
    }

    private string CurrentPath => Path.Combine(_dir, "jwt-signing.pem");

    private string PreviousPath => Path.Combine(_dir, "jwt-signing-previous.pem");

    private string CreatedPath => Path.Combine(_dir, "jwt-signing.created");

    /// <summary>The key that signs new tokens.</summary>
    public RsaSecurityKey Key => _keys.Current;

    public string KeyId => _keys.Current.KeyId;

    /// <summary>When the current key was made (for scheduled rotation).</summary>
    public DateTimeOffset CurrentCreatedAt => _keys.CreatedAt;

    /// <summary>The keys that validate: current first, then previous.</summary>
    public IReadOnlyList<RsaSecurityKey> ValidationKeys => _keys.Previous is null ? [_keys.Current] : [_keys.Current, _keys.Previous];

    /// <summary>The validating key named by <paramref name="kid"/>, or null (unknown kids are refused, never tried against every key).</summary>
    public RsaSecurityKey? Find(string? kid)
    {
        var keys = _keys;
        return kid is null ? null : kid == keys.Current.KeyId ? keys.Current : kid == keys.Previous?.KeyId ? keys.Previous : null;
    }

    /// <summary>Rotates only if the current key is at least <paramref name="age"/> old; checked under the rotation lock, so a scheduled and a
    /// manual rotation racing each other never rotate twice (which would retire a key still in use).</summary>
    public (string NewKid, string? RetiredKid)? RotateIfOlderThan(TimeSpan age)
    {
        lock (_rotateLock)
        {
            return _time.GetUtcNow() - _keys.CreatedAt < age ? null : Rotate();
        }
    }

    /// <summary>Makes a new current key; the current one becomes previous; the old previous stops validating.</summary>
    public (string NewKid, string? RetiredKid) Rotate()
    {
        lock (_rotateLock)
        {
            var old = _keys;
            var tmp = CurrentPath + ".new";
            var fresh = Create(tmp);
            // Order matters for a crash mid-rotation: previous is written before current is replaced.
            File.Copy(CurrentPath, PreviousPath, overwrite: true);
            File.Move(tmp, CurrentPath, overwrite: true);
            var now = _time.GetUtcNow();
            File.WriteAllText(CreatedPath, now.ToString("O", CultureInfo.InvariantCulture));
            _keys = new KeySet(fresh, old.Current, now);
            return (fresh.KeyId, old.Previous?.KeyId);
        }
    }

    /// <summary>JWK set of the validating public keys (RFC 7517), for <c>/.well-known/jwks.json</c>.</summary>
    public object Jwks() => new
    {
        keys = ValidationKeys.Select(k =>
        {
            var p = k.Rsa.ExportParameters(false);
            return new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["kty"] = "RSA",
                ["use"] = "sig",
                ["alg"] = SecurityAlgorithms.RsaSha256,
                ["kid"] = k.KeyId,
                ["n"] = Base64UrlEncoder.Encode(p.Modulus),
                ["e"] = Base64UrlEncoder.Encode(p.Exponent),
            };
        }).ToList(),
    };

    private DateTimeOffset ReadCreatedAt()
    {
        if (File.Exists(CreatedPath) && DateTimeOffset.TryParse(File.ReadAllText(CreatedPath), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var t))
        {
            return t;
        }
        var now = _time.GetUtcNow();
        File.WriteAllText(CreatedPath, now.ToString("O", CultureInfo.InvariantCulture));
        return now;
    }

    private RsaSecurityKey? Load(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }
        var rsa = RSA.Create();
        rsa.ImportFromPem(File.ReadAllText(path));
        return Wrap(rsa);
    }

    private RsaSecurityKey Create(string path)
    {
        var rsa = RSA.Create(2048);
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, rsa.ExportPkcs8PrivateKeyPem());
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(tmp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        File.Move(tmp, path, overwrite: true);
        return Wrap(rsa);
    }

    private RsaSecurityKey Wrap(RSA rsa)
    {
        lock (_all)
        {
            _all.Add(rsa);
        }
        // A factory of our own: the shared default caches signature providers by key id, which would hand a
        // later instance (same kid, e.g. a restart in one process) a provider over this instance's disposed RSA.
        return new RsaSecurityKey(rsa) { KeyId = Thumbprint(rsa.ExportParameters(false)), CryptoProviderFactory = new CryptoProviderFactory() };
    }

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

    public void Dispose()
    {
        // Retired keys are disposed only here: a validation that picked a key just before a rotation may still be using it.
        lock (_all)
        {
            foreach (var rsa in _all)
            {
                rsa.Dispose();
            }
        }
    }

    private sealed record KeySet(RsaSecurityKey Current, RsaSecurityKey? Previous, DateTimeOffset CreatedAt);
}
