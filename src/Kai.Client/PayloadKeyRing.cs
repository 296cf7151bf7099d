using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using Kai.Protocol;

namespace Kai.Client;

/// <summary>
/// The shared keys of encrypted payloads (seed 002 §VIII; docs/protocol.md, "Encrypted payloads"): key id (<c>kid</c>) → 32-byte
/// AES-256-GCM key. Set it as <see cref="HubClient.PayloadKeys"/> on the calling side and <see cref="AgentHostOptions.PayloadKeys"/> on the
/// agent, with the same id and key on both; the keys are distributed out of band (the hub never holds them). Thread-safe.
/// </summary>
/// <remarks>
/// With it, <see cref="HubClient.CallAsync(string, object?, string?, TimeSpan?, string?, string?, string?, CancellationToken)"/> and
/// <see cref="HubClient.InvokeAsync(string, string, object?, object?, string?, IReadOnlyList{string}?, string?, CancellationToken)"/>
/// seal <c>params</c> / <c>payload.input</c> when given <c>sealWith</c> and open a sealed result; an <see cref="AgentHost"/> opens sealed
/// RPC params and KAIL input before its handler runs and seals the handler's result with the same key. Anything else (messages, commands,
/// tasks) can be sealed and opened by hand with <see cref="Seal"/> and <see cref="Open"/>.
/// </remarks>
public sealed class PayloadKeyRing
{
    private readonly ConcurrentDictionary<string, byte[]> _keys = new(StringComparer.Ordinal);

    /// <summary>A new random 32-byte key (<see cref="RandomNumberGenerator"/>), to share with the other agent.</summary>
    /// <returns>The key bytes.</returns>
    public static byte[] NewKey() => RandomNumberGenerator.GetBytes(EncryptedPayload.KeyBytes);

    /// <summary>Adds or replaces a key. The bytes are copied.</summary>
    /// <param name="keyId">The key id both sides use (sent in the clear in the JWE header, so it should not be secret).</param>
    /// <param name="key">Exactly 32 bytes.</param>
    /// <returns>This ring.</returns>
    /// <exception cref="EncryptedPayloadException"><see cref="EncryptedPayloadError.InvalidKey"/>: the key is not 32 bytes.</exception>
    /// <exception cref="ArgumentException"><paramref name="keyId"/> is null or empty.</exception>
    public PayloadKeyRing Add(string keyId, ReadOnlySpan<byte> key)
    {
        ArgumentException.ThrowIfNullOrEmpty(keyId);
        if (key.Length != EncryptedPayload.KeyBytes)
        {
            throw new EncryptedPayloadException(EncryptedPayloadError.InvalidKey,
                $"Key '{keyId}' is {key.Length} bytes; A256GCM takes a {EncryptedPayload.KeyBytes}-byte (256-bit) key (RFC 7518 §5.3).", keyId);
        }
        _keys[keyId] = key.ToArray();
        return this;
    }

    /// <summary>Removes a key (after a rotation): values sealed with it no longer open here.</summary>
    /// <param name="keyId">The key id.</param>
    /// <returns>Whether there was such a key.</returns>
    public bool Remove(string keyId) => _keys.TryRemove(keyId, out _);

    /// <summary>Whether the ring holds a key with this id.</summary>
    /// <param name="keyId">The key id.</param>
    /// <returns>True when it does.</returns>
    public bool Contains(string keyId) => _keys.ContainsKey(keyId);

    /// <summary>Seals a value with the key <paramref name="keyId"/> (<see cref="EncryptedPayload.Seal"/>).</summary>
    /// <param name="value">Any value serializable to JSON with <see cref="KaiJson.Options"/> (a <see cref="JsonElement"/> is taken as it is).</param>
    /// <param name="keyId">The key to seal with.</param>
    /// <returns>The JWE object to send in place of the value.</returns>
    /// <exception cref="EncryptedPayloadException"><see cref="EncryptedPayloadError.UnknownKey"/>: the ring has no such key.</exception>
    public JsonElement Seal(object? value, string keyId)
    {
        ArgumentException.ThrowIfNullOrEmpty(keyId);
        var key = Find(keyId) ?? throw new EncryptedPayloadException(EncryptedPayloadError.UnknownKey, $"No key with id '{keyId}' is in this key ring.", keyId);
        return EncryptedPayload.Seal(value is JsonElement element ? element : JsonSerializer.SerializeToElement(value, KaiJson.Options), key, keyId);
    }

    /// <summary>Opens a sealed value with the key its <c>kid</c> names (<see cref="EncryptedPayload.Open"/>).</summary>
    /// <param name="value">The JWE object as received.</param>
    /// <returns>The plaintext value.</returns>
    /// <exception cref="EncryptedPayloadException">It is not a JWE, names a key this ring lacks, or does not authenticate (<see cref="EncryptedPayloadException.Error"/>).</exception>
    public JsonElement Open(JsonElement value) => EncryptedPayload.Open(value, Find);

    /// <summary>Opens <paramref name="value"/> when it is sealed (<see cref="EncryptedPayload.IsEncrypted"/>); other values come back as they are.</summary>
    /// <param name="value">Any value.</param>
    /// <param name="keyId">The key id it was sealed with, or null when it was not sealed.</param>
    /// <returns>The plaintext, or <paramref name="value"/> itself.</returns>
    /// <exception cref="EncryptedPayloadException">It is sealed but does not open here.</exception>
    public JsonElement OpenIfSealed(JsonElement value, out string? keyId)
    {
        keyId = null;
        if (!EncryptedPayload.IsEncrypted(value))
        {
            return value;
        }
        keyId = EncryptedPayload.KeyIdOf(value);
        return Open(value);
    }

    private byte[]? Find(string keyId) => _keys.TryGetValue(keyId, out var key) ? key : null;
}
