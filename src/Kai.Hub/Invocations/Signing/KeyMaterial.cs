using System.Security.Cryptography;
using Kai.Hub.Errors;
using Kai.Protocol;
using Kai.Protocol.Kail;
using NSec.Cryptography;

namespace Kai.Hub.Invocations.Signing;

/// <summary>
/// Public keys of the two KAIL signature algorithms: parsing what an agent registers (base64 or JWK) into the stored form, the JWK of a
/// stored key, and verification. Ed25519 is NSec (libsodium); ES256 is the framework's <see cref="ECDsa"/> (P-256, SHA-256, r‖s).
/// </summary>
internal static class KeyMaterial
{
    private static readonly SignatureAlgorithm Ed = SignatureAlgorithm.Ed25519;

    /// <summary>Parses a registration into (algorithm, stored key bytes).</summary>
    /// <exception cref="ApiException">VALIDATION_ERROR naming the field: unknown algorithm, neither or both of public_key and jwk, not a valid key.</exception>
    public static (string Algorithm, byte[] Key) Parse(AgentKeyCreate body)
    {
        var alg = body.Algorithm?.ToLowerInvariant();
        if (alg is not (KailSignatures.Ed25519 or KailSignatures.Es256))
        {
            throw Invalid("/algorithm", $"must be {KailSignatures.Ed25519} or {KailSignatures.Es256}");
        }
        if ((body.PublicKey is null) == (body.Jwk is null))
        {
            throw Invalid("/public_key", "give exactly one of public_key (base64) and jwk");
        }
        try
        {
            return alg == KailSignatures.Ed25519 ? (alg, ParseEd25519(body)) : (alg, ParseEs256(body));
        }
        catch (Exception e) when (e is FormatException or CryptographicException or ArgumentException)
        {
            throw Invalid(body.PublicKey is null ? "/jwk" : "/public_key", $"is not a valid {alg} public key ({e.Message})");
        }
    }

    private static byte[] ParseEd25519(AgentKeyCreate body)
    {
        byte[] raw;
        if (body.Jwk is { } jwk)
        {
            if (Field(jwk, "kty") != "OKP" || Field(jwk, "crv") != "Ed25519")
            {
                throw new FormatException("an Ed25519 JWK has kty OKP and crv Ed25519");
            }
            raw = Base64Url(Field(jwk, "x"));
        }
        else
        {
            raw = Convert.FromBase64String(body.PublicKey!);
        }
        if (raw.Length != 32 || !PublicKey.TryImport(Ed, raw, KeyBlobFormat.RawPublicKey, out _))
        {
            throw new FormatException("an Ed25519 public key is 32 bytes");
        }
        return raw;
    }

    private static byte[] ParseEs256(AgentKeyCreate body)
    {
        using var ec = ECDsa.Create();
        if (body.Jwk is { } jwk)
        {
            if (Field(jwk, "kty") != "EC" || Field(jwk, "crv") != "P-256")
            {
                throw new FormatException("an ES256 JWK has kty EC and crv P-256");
            }
            ec.ImportParameters(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, Q = new ECPoint { X = Base64Url(Field(jwk, "x")), Y = Base64Url(Field(jwk, "y")) } });
        }
        else
        {
            var bytes = Convert.FromBase64String(body.PublicKey!);
            if (bytes.Length == 65 && bytes[0] == 0x04)
            {
                ec.ImportParameters(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, Q = new ECPoint { X = bytes[1..33], Y = bytes[33..] } });
            }
            else
            {
                ec.ImportSubjectPublicKeyInfo(bytes, out var read);
                if (read != bytes.Length)
                {
                    throw new FormatException("trailing bytes after the SubjectPublicKeyInfo");
                }
            }
        }
        if (ec.KeySize != 256 || ec.ExportParameters(false).Curve.Oid?.Value != ECCurve.NamedCurves.nistP256.Oid.Value)
        {
            throw new FormatException("ES256 keys are on P-256");
        }
        return ec.ExportSubjectPublicKeyInfo();
    }

    /// <summary>The JWK (RFC 7517, RFC 8037 for Ed25519) of a stored key.</summary>
    public static Dictionary<string, string> Jwk(string algorithm, byte[] key, string keyId)
    {
        if (algorithm == KailSignatures.Ed25519)
        {
            return new(StringComparer.Ordinal) { ["kty"] = "OKP", ["crv"] = "Ed25519", ["x"] = Base64Url(key), ["kid"] = keyId, ["alg"] = "EdDSA" };
        }
        using var ec = ECDsa.Create();
        ec.ImportSubjectPublicKeyInfo(key, out _);
        var q = ec.ExportParameters(false).Q;
        return new(StringComparer.Ordinal) { ["kty"] = "EC", ["crv"] = "P-256", ["x"] = Base64Url(q.X!), ["y"] = Base64Url(q.Y!), ["kid"] = keyId, ["alg"] = "ES256" };
    }

    /// <summary>The default key id: <c>k_</c> + base64url of the first 16 bytes of SHA-256(algorithm ":" key).</summary>
    public static string DefaultKeyId(string algorithm, byte[] key) =>
        "k_" + Base64Url(SHA256.HashData([.. System.Text.Encoding.ASCII.GetBytes(algorithm + ":"), .. key])[..16]);

    /// <summary>Whether <paramref name="signature"/> is a valid signature of <paramref name="data"/> under the stored key.</summary>
    public static bool Verify(string algorithm, byte[] key, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        if (signature.Length != 64)
        {
            return false;
        }
        if (algorithm == KailSignatures.Ed25519)
        {
            return PublicKey.TryImport(Ed, key, KeyBlobFormat.RawPublicKey, out var pk) && pk is not null && Ed.Verify(pk, data, signature);
        }
        using var ec = ECDsa.Create();
        ec.ImportSubjectPublicKeyInfo(key, out _);
        return ec.VerifyData(data, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }

    public static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static byte[] Base64Url(string? text) => KailSignatures.DecodeSignature(text) ?? throw new FormatException("not base64url");

    private static string? Field(IReadOnlyDictionary<string, string> jwk, string name) => jwk.TryGetValue(name, out var v) ? v : null;

    private static ApiException Invalid(string path, string message) =>
        new(ErrorCodes.ValidationError, $"{path.TrimStart('/')} {message}.", new Dictionary<string, string[]> { [path] = [message] });
}
