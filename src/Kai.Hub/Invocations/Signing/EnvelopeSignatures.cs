using System.Text.Json;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Protocol;
using Kai.Protocol.Kail;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Invocations.Signing;

/// <summary>
/// Signed KAIL envelopes (seed 002 §VIII; docs/protocol.md, "KAIL signatures"): the admission check of <see cref="InvocationService.StartAsync"/>
/// (once per envelope, never per hop or edge) and the signing of results with the hub's key. The policy is <c>Kai:Kail:Signatures</c>.
/// </summary>
internal sealed class EnvelopeSignatures(IKailKeyStore keys, HubResultKey hubKey, IOptions<KailOptions> options, TimeProvider time)
{
    private readonly KailOptions _options = options.Value;

    /// <summary>Whether results are signed (every mode but <c>off</c>).</summary>
    public bool SignsResults => _options.Signatures != SignatureModes.Off;

    /// <summary>
    /// Checks the signature of <paramref name="raw"/> (as received) under the policy; returns when it may be admitted.
    /// </summary>
    /// <exception cref="ApiException">SIGNATURE_REQUIRED (unsigned where required), KEY_UNKNOWN (no <c>key_id</c>, or a key the caller may not
    /// sign with), KEY_REVOKED, SIGNATURE_INVALID (does not verify, malformed), VALIDATION_ERROR (the envelope is not I-JSON, so it has no
    /// canonical form). Nothing is stored before or by this check.</exception>
    public async Task VerifyAsync(KaiPrincipal caller, JsonElement raw, AgentInvocation invocation, CancellationToken ct)
    {
        if (_options.Signatures == SignatureModes.Off)
        {
            return;
        }
        if (string.IsNullOrEmpty(invocation.Signature))
        {
            if (_options.Signatures == SignatureModes.Required || _options.SignedIntents.Contains(invocation.Intent, StringComparer.Ordinal))
            {
                throw new ApiException(ErrorCodes.SignatureRequired,
                    $"This hub requires a signed envelope for intent '{invocation.Intent}' (Kai:Kail:Signatures): set key_id and signature (docs/protocol.md, \"KAIL signatures\").",
                    new Dictionary<string, string> { ["intent"] = invocation.Intent });
            }
            return;
        }
        if (invocation.KeyId is not { } keyId)
        {
            throw new ApiException(ErrorCodes.KeyUnknown, "A signed envelope names its key in key_id.", new Dictionary<string, string[]> { ["/key_id"] = ["is required with signature"] });
        }
        var key = await keys.GetAsync(keyId, ct);
        if (key is null || !Access.MaySignWith(caller, key.AgentId, key.OwnerId))
        {
            throw new ApiException(ErrorCodes.KeyUnknown, $"Key '{keyId}' is not a key this sender registered (POST /api/v1/agents/{{id}}/keys).",
                new Dictionary<string, string> { ["key_id"] = keyId });
        }
        if (key.RevokedAt is { } revoked && revoked <= time.GetUtcNow())
        {
            throw new ApiException(ErrorCodes.KeyRevoked, $"Key '{keyId}' was revoked at {revoked:O}; sign with a current key.",
                new Dictionary<string, object> { ["key_id"] = keyId, ["revoked_at"] = revoked });
        }
        byte[] input;
        try
        {
            input = KailSignatures.SigningInput(raw);
        }
        catch (JsonCanonicalizationException e)
        {
            throw new ApiException(ErrorCodes.ValidationError, $"The envelope has no RFC 8785 canonical form, so it cannot be verified: {e.Message}");
        }
        var signature = KailSignatures.DecodeSignature(invocation.Signature);
        if (signature is null || !KeyMaterial.Verify(key.Algorithm, key.PublicKey, input, signature))
        {
            throw new ApiException(ErrorCodes.SignatureInvalid,
                $"The signature does not verify with key '{keyId}' ({key.Algorithm}) over the RFC 8785 canonical envelope without signature.",
                new Dictionary<string, string> { ["key_id"] = keyId, ["algorithm"] = key.Algorithm });
        }
    }

    /// <summary>The result signed with the hub's key (unchanged under <c>off</c>).</summary>
    public InvocationResult Sign(InvocationResult result) => SignsResults ? hubKey.Sign(result) : result;
}
