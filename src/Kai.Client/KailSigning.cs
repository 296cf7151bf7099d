using System.Security.Cryptography;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Kail;
using NSec.Cryptography;

namespace Kai.Client;

/// <summary>
/// Client side of signed KAIL envelopes (seed 002 §VIII; docs/protocol.md, "KAIL signatures"): sign an <see cref="AgentInvocation"/> with a key
/// registered under the sending agent (<c>POST /api/v1/agents/{id}/keys</c>), and verify the hub's signature on an <see cref="InvocationResult"/>
/// with a key of <see cref="HubClient.InvocationKeysAsync"/>. Both sign or check the RFC 8785 canonical JSON of the message as
/// <see cref="KaiJson.Options"/> writes it, without <c>signature</c> (<see cref="KailSignatures.SigningInput"/>).
/// </summary>
public static class KailSigning
{
    /// <summary>The envelope with <c>key_id</c> = <paramref name="keyId"/> and <c>signature</c> made by <paramref name="sign"/>.</summary>
    /// <param name="invocation">The envelope to send (any earlier signature is replaced).</param>
    /// <param name="keyId">The registered key's id.</param>
    /// <param name="sign">Signs the signing input; returns the 64-byte signature (Ed25519, or ES256 as <c>r‖s</c>).</param>
    /// <returns>The signed envelope; send it unchanged (any change afterwards makes the hub answer <c>SIGNATURE_INVALID</c>).</returns>
    public static AgentInvocation Sign(AgentInvocation invocation, string keyId, Func<byte[], byte[]> sign)
    {
        ArgumentNullException.ThrowIfNull(invocation);
        ArgumentNullException.ThrowIfNull(sign);
        var unsigned = invocation with { KeyId = keyId, Signature = null };
        var input = KailSignatures.SigningInput(JsonSerializer.SerializeToElement(unsigned, KaiJson.Options));
        return unsigned with { Signature = Convert.ToBase64String(sign(input)) };
    }

    /// <summary>Signs with an Ed25519 private key (NSec).</summary>
    /// <param name="invocation">The envelope.</param>
    /// <param name="keyId">The id under which the key's public half is registered.</param>
    /// <param name="key">An Ed25519 <see cref="Key"/>.</param>
    /// <returns>The signed envelope.</returns>
    public static AgentInvocation SignEd25519(AgentInvocation invocation, string keyId, Key key) =>
        Sign(invocation, keyId, input => SignatureAlgorithm.Ed25519.Sign(key, input));

    /// <summary>Signs with an ES256 (P-256) private key.</summary>
    /// <param name="invocation">The envelope.</param>
    /// <param name="keyId">The id under which the key's public half is registered.</param>
    /// <param name="key">A P-256 <see cref="ECDsa"/> key with its private part.</param>
    /// <returns>The signed envelope.</returns>
    public static AgentInvocation SignEs256(AgentInvocation invocation, string keyId, ECDsa key) =>
        Sign(invocation, keyId, input => key.SignData(input, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));

    /// <summary>
    /// Whether <paramref name="result"/> carries a valid hub signature by one of <paramref name="hubKeys"/> (matched by <c>key_id</c>).
    /// </summary>
    /// <param name="result">A result as received (typed; it is written again with <see cref="KaiJson.Options"/>, as the hub signed it).</param>
    /// <param name="hubKeys">The keys of <c>GET /api/v1/invocations/keys</c>.</param>
    /// <returns>False when it is unsigned, names another key, or does not verify.</returns>
    public static bool VerifyResult(InvocationResult result, IEnumerable<HubKey> hubKeys) =>
        VerifyResult(JsonSerializer.SerializeToElement(result, KaiJson.Options), hubKeys);

    /// <summary>As <see cref="VerifyResult(InvocationResult, IEnumerable{HubKey})"/>, for a result as raw JSON (a frame payload, an SSE event).</summary>
    /// <param name="result">The result object.</param>
    /// <param name="hubKeys">The keys of <c>GET /api/v1/invocations/keys</c>.</param>
    /// <returns>False when it is unsigned, names another key, or does not verify.</returns>
    public static bool VerifyResult(JsonElement result, IEnumerable<HubKey> hubKeys)
    {
        ArgumentNullException.ThrowIfNull(hubKeys);
        if (result.ValueKind != JsonValueKind.Object
            || !result.TryGetProperty(KailSignatures.KeyIdMember, out var kid) || kid.ValueKind != JsonValueKind.String
            || !result.TryGetProperty(KailSignatures.SignatureMember, out var sig) || sig.ValueKind != JsonValueKind.String)
        {
            return false;
        }
        var key = hubKeys.FirstOrDefault(k => k.KeyId == kid.GetString() && k.Algorithm == KailSignatures.Ed25519);
        var signature = KailSignatures.DecodeSignature(sig.GetString());
        if (key is null || signature is null || !PublicKey.TryImport(SignatureAlgorithm.Ed25519, Convert.FromBase64String(key.PublicKey),
                KeyBlobFormat.RawPublicKey, out var publicKey) || publicKey is null)
        {
            return false;
        }
        try
        {
            return SignatureAlgorithm.Ed25519.Verify(publicKey, KailSignatures.SigningInput(result), signature);
        }
        catch (JsonCanonicalizationException)
        {
            return false;
        }
    }
}
