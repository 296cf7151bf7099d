using System.Text.Json;

namespace Kai.Protocol.Kail;

/// <summary>
/// Signed KAIL envelopes (seed 002 §VIII "signed envelopes with local/remote keys"; docs/protocol.md, "KAIL signatures"): the algorithm
/// names, the member names and the signing input shared by senders, the hub and clients that verify the hub's results.
/// </summary>
/// <remarks>
/// A sender signs <see cref="SigningInput"/> of the envelope it sends, with <c>key_id</c> set and <c>signature</c> absent, using the private
/// half of a key it registered under its agent (<c>POST /api/v1/agents/{id}/keys</c>), and puts the base64 signature in <c>signature</c>.
/// The hub signs each <see cref="InvocationResult"/> the same way with its own Ed25519 key (<c>GET /api/v1/invocations/keys</c>).
/// </remarks>
public static class KailSignatures
{
    /// <summary>Ed25519 (RFC 8032): a 32-byte public key, a 64-byte signature.</summary>
    public const string Ed25519 = "ed25519";
    /// <summary>ECDSA on P-256 with SHA-256 (RFC 7518 §3.4 <c>ES256</c>): the signature is the 64-byte <c>r‖s</c> (IEEE P1363), as in JWS.</summary>
    public const string Es256 = "es256";
    /// <summary>The member that holds the signature and is left out of the signing input.</summary>
    public const string SignatureMember = "signature";
    /// <summary>The member that names the key; it is signed.</summary>
    public const string KeyIdMember = "key_id";

    /// <summary>The algorithms a key may have.</summary>
    public static readonly IReadOnlyList<string> Algorithms = [Ed25519, Es256];

    /// <summary>
    /// The bytes a KAIL signature is computed over: the RFC 8785 canonical UTF-8 (<see cref="JsonCanonicalizer"/>) of the JSON object
    /// <paramref name="message"/> (an envelope or a result, as sent) without its top-level <c>signature</c> member.
    /// </summary>
    /// <param name="message">The envelope or result as a JSON object.</param>
    /// <returns>The signing input.</returns>
    /// <exception cref="JsonCanonicalizationException">The message is not I-JSON (duplicate names, lone surrogates, numbers out of range).</exception>
    public static byte[] SigningInput(JsonElement message) => JsonCanonicalizer.Canonicalize(message, SignatureMember);

    /// <summary>Decodes a signature given as base64 or base64url (padding optional).</summary>
    /// <param name="signature">The text of the <c>signature</c> member.</param>
    /// <returns>The bytes, or null when it is not base64 or base64url.</returns>
    public static byte[]? DecodeSignature(string? signature)
    {
        if (string.IsNullOrEmpty(signature) || signature.Length > 1024)
        {
            return null;
        }
        var s = signature.Replace('-', '+').Replace('_', '/');
        s = s.PadRight(s.Length + ((4 - (s.Length % 4)) % 4), '=');
        var buffer = new byte[s.Length * 3 / 4];
        return Convert.TryFromBase64String(s, buffer, out var written) ? buffer[..written] : null;
    }
}

/// <summary>
/// A public key an agent registered for signing KAIL envelopes (<c>GET/POST /api/v1/agents/{agentId}/keys</c>, seed 002 §VIII).
/// </summary>
/// <param name="KeyId">The key id envelopes name in <c>key_id</c>: 1 to 64 characters of <c>A-Z a-z 0-9 . _ : -</c>, unique on the hub.</param>
/// <param name="AgentId">The agent the key belongs to; only that agent (or, for a user sender, its owner) may sign with it.</param>
/// <param name="Algorithm"><see cref="KailSignatures.Ed25519"/> or <see cref="KailSignatures.Es256"/>.</param>
/// <param name="PublicKey">Base64 of the key: the raw 32 bytes for Ed25519; the DER SubjectPublicKeyInfo for ES256.</param>
/// <param name="Jwk">The same key as a JWK (RFC 7517/8037): <c>{kty: OKP, crv: Ed25519, x}</c> or <c>{kty: EC, crv: P-256, x, y}</c>.</param>
/// <param name="CreatedAt">When it was registered.</param>
/// <param name="RevokedAt">When it was revoked (null while it is valid); signatures made with a revoked key are refused with
/// <see cref="ErrorCodes.KeyRevoked"/>.</param>
public sealed record AgentKey(string KeyId, string AgentId, string Algorithm, string PublicKey, IReadOnlyDictionary<string, string> Jwk,
    DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

/// <summary>
/// The body of <c>POST /api/v1/agents/{agentId}/keys</c>: register (or, next to an older one, rotate to) a public key. Give the key either
/// as <paramref name="PublicKey"/> or as <paramref name="Jwk"/>.
/// </summary>
/// <param name="Algorithm"><see cref="KailSignatures.Ed25519"/> or <see cref="KailSignatures.Es256"/>.</param>
/// <param name="PublicKey">Base64: the raw 32-byte Ed25519 key; for ES256 the DER SubjectPublicKeyInfo or the 65-byte uncompressed point.</param>
/// <param name="Jwk">A JWK instead of <paramref name="PublicKey"/> (<c>kty</c>, <c>crv</c>, <c>x</c>, and <c>y</c> for EC).</param>
/// <param name="KeyId">The key id to use; by default the hub derives one from the key (<c>k_</c> + base64url of the first 16 bytes of its SHA-256).</param>
public sealed record AgentKeyCreate(string? Algorithm, string? PublicKey = null, IReadOnlyDictionary<string, string>? Jwk = null, string? KeyId = null);

/// <summary>The answer of <c>GET /api/v1/agents/{agentId}/keys</c>.</summary>
/// <param name="Keys">The keys, newest first; revoked ones included (with <c>revoked_at</c>) for agents.</param>
public sealed record AgentKeyList(IReadOnlyList<AgentKey> Keys);

/// <summary>A key the hub signs its <see cref="InvocationResult"/>s with (<c>GET /api/v1/invocations/keys</c>).</summary>
/// <param name="KeyId">The id results name in <c>key_id</c>.</param>
/// <param name="Algorithm">Always <see cref="KailSignatures.Ed25519"/>.</param>
/// <param name="PublicKey">Base64 of the raw 32-byte Ed25519 public key.</param>
/// <param name="Jwk">The same key as a JWK (RFC 8037): <c>{kty: OKP, crv: Ed25519, x, kid}</c>.</param>
/// <param name="CreatedAt">When the hub made it (on its first start with this data directory).</param>
public sealed record HubKey(string KeyId, string Algorithm, string PublicKey, IReadOnlyDictionary<string, string> Jwk, DateTimeOffset CreatedAt);

/// <summary>The answer of <c>GET /api/v1/invocations/keys</c>.</summary>
/// <param name="Keys">The hub's result-signing keys (one today).</param>
public sealed record HubKeyList(IReadOnlyList<HubKey> Keys);
