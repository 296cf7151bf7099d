using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Kai.Protocol;

/// <summary>
/// Encrypted payloads (seed 002 §VIII "optional encrypted payloads using AES"; docs/protocol.md, "Encrypted payloads"): a JSON value that
/// two agents sharing a key exchange through the hub without the hub reading it. The value is replaced by a JWE in the Flattened JSON
/// Serialization (RFC 7516 §7.2.2) with direct encryption (<c>alg</c> <c>dir</c>, RFC 7518 §4.5) under AES-256-GCM (<c>enc</c>
/// <c>A256GCM</c>, RFC 7518 §5.3):
/// <code>
/// {"protected": BASE64URL(UTF8({"alg":"dir","enc":"A256GCM","kid":"&lt;key id&gt;"})),
///  "iv": BASE64URL(96-bit nonce), "ciphertext": BASE64URL(AES-GCM(UTF8(JSON of the value))), "tag": BASE64URL(128-bit tag)}
/// </code>
/// All members are base64url without padding (RFC 7515 §2). The additional authenticated data is ASCII(<c>protected</c> as sent), or
/// ASCII(<c>protected</c> || '.' || <c>aad</c>) when the optional <c>aad</c> member is present (RFC 7516 §5.1 step 14), so the header,
/// and with it the key id, cannot be changed without the tag failing.
/// </summary>
/// <remarks>
/// Keys are shared out of band, one 32-byte key per pair or group of agents, and named by <c>kid</c>; the hub holds none. The hub routes,
/// stores and shows a sealed value as it is, and skips schema checks for values <see cref="IsEncrypted"/> says are sealed.
/// </remarks>
public static class EncryptedPayload
{
    /// <summary>The key management algorithm: direct use of a shared symmetric key as the content encryption key (RFC 7518 §4.5).</summary>
    public const string Algorithm = "dir";

    /// <summary>The content encryption algorithm: AES-GCM with a 256-bit key (RFC 7518 §5.3).</summary>
    public const string Encryption = "A256GCM";

    /// <summary>The key length, in bytes (256 bits, RFC 7518 §5.3).</summary>
    public const int KeyBytes = 32;

    /// <summary>The initialization vector length, in bytes (96 bits, RFC 7518 §5.3).</summary>
    public const int IvBytes = 12;

    /// <summary>The authentication tag length, in bytes (128 bits, RFC 7518 §5.3).</summary>
    public const int TagBytes = 16;

    /// <summary>
    /// Whether <paramref name="value"/> is a JWE in the Flattened JSON Serialization, which the hub must pass on without reading: an
    /// object with the string members <c>protected</c>, <c>iv</c>, <c>ciphertext</c> and <c>tag</c>, optionally <c>aad</c> and
    /// <c>encrypted_key</c> (strings) and <c>header</c> and <c>unprotected</c> (objects), and no other member, each at most once
    /// (RFC 7516 §7.2.1, §7.2.2); the strings are base64url without padding, <c>protected</c> decodes to a JSON object, and the headers
    /// together name an <c>alg</c> and an <c>enc</c>. Any algorithm counts, not only what <see cref="Open"/> decrypts.
    /// </summary>
    /// <param name="value">Any JSON value (an RPC <c>params</c> or <c>result</c>, a KAIL <c>payload.input</c> or output, …).</param>
    /// <returns>True for a JWE object; false for anything else, never an exception.</returns>
    public static bool IsEncrypted(JsonElement value) => Parse(value, out _) is null;

    /// <summary>The key id (<c>kid</c>) a sealed value names, from its protected header (or else its unprotected ones).</summary>
    /// <param name="value">Any JSON value.</param>
    /// <returns>The key id; null when the value is not a JWE (<see cref="IsEncrypted"/>) or names no key.</returns>
    public static string? KeyIdOf(JsonElement value) =>
        Parse(value, out var jwe) is null && jwe.Header.TryGetValue("kid", out var kid) && kid.ValueKind == JsonValueKind.String ? kid.GetString() : null;

    /// <summary>
    /// Seals <paramref name="plaintext"/>: encrypts its UTF-8 JSON with AES-256-GCM under <paramref name="key"/> and a fresh random 96-bit
    /// IV, with the protected header <c>{"alg":"dir","enc":"A256GCM","kid":<paramref name="keyId"/>}</c>.
    /// </summary>
    /// <param name="plaintext">The value to protect (any JSON value).</param>
    /// <param name="key">The shared key, exactly <see cref="KeyBytes"/> (32) bytes.</param>
    /// <param name="keyId">The key's id, which the receiver looks its copy of the key up by (any non-empty string; it is not secret).</param>
    /// <returns>The JWE object <c>{protected, iv, ciphertext, tag}</c>.</returns>
    /// <exception cref="EncryptedPayloadException"><see cref="EncryptedPayloadError.InvalidKey"/>: the key is not 32 bytes.</exception>
    /// <exception cref="ArgumentException"><paramref name="keyId"/> is null or empty, or <paramref name="plaintext"/> is undefined.</exception>
    public static JsonElement Seal(JsonElement plaintext, ReadOnlySpan<byte> key, string keyId) =>
        Seal(plaintext, key, keyId, RandomNumberGenerator.GetBytes(IvBytes));

    /// <summary>As the public <see cref="Seal(JsonElement, ReadOnlySpan{byte}, string)"/> with a given IV, for known-answer tests only:
    /// an IV must never be used twice with one key.</summary>
    internal static JsonElement Seal(JsonElement plaintext, ReadOnlySpan<byte> key, string keyId, ReadOnlySpan<byte> iv)
    {
        ArgumentException.ThrowIfNullOrEmpty(keyId);
        if (plaintext.ValueKind == JsonValueKind.Undefined)
        {
            throw new ArgumentException("The value to seal is undefined (a default JsonElement).", nameof(plaintext));
        }
        CheckKey(key, keyId);
        var header = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(header))
        {
            writer.WriteStartObject();
            writer.WriteString("alg", Algorithm);
            writer.WriteString("enc", Encryption);
            writer.WriteString("kid", keyId);
            writer.WriteEndObject();
        }
        var encodedProtected = Base64Url.EncodeToString(header.WrittenSpan);
        var (ciphertext, tag) = EncryptContent(encodedProtected, null, key, iv, JsonSerializer.SerializeToUtf8Bytes(plaintext));
        var jwe = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(jwe))
        {
            writer.WriteStartObject();
            writer.WriteString("protected", encodedProtected);
            writer.WriteString("iv", Base64Url.EncodeToString(iv));
            writer.WriteString("ciphertext", Base64Url.EncodeToString(ciphertext));
            writer.WriteString("tag", Base64Url.EncodeToString(tag));
            writer.WriteEndObject();
        }
        using var doc = JsonDocument.Parse(jwe.WrittenMemory);
        return doc.RootElement.Clone();
    }

    /// <summary>
    /// Opens a sealed value: checks that it is a <c>dir</c> / <c>A256GCM</c> JWE (<see cref="IsEncrypted"/>), finds the key with
    /// <paramref name="keyLookup"/> by its <c>kid</c>, authenticates the protected header, the <c>aad</c> member if present and the
    /// ciphertext, and parses the plaintext as JSON.
    /// </summary>
    /// <param name="value">The JWE object as received (the <c>protected</c> member is authenticated as sent, not re-encoded).</param>
    /// <param name="keyLookup">Returns the 32-byte key for a key id, or null when this side has no such key.</param>
    /// <returns>The value that was sealed.</returns>
    /// <exception cref="EncryptedPayloadException">Why it cannot be opened (<see cref="EncryptedPayloadException.Error"/>):
    /// <see cref="EncryptedPayloadError.NotEncrypted"/> (not a JWE object), <see cref="EncryptedPayloadError.Malformed"/> (IV or tag of the
    /// wrong length, a header name in two headers, a non-empty <c>encrypted_key</c>), <see cref="EncryptedPayloadError.Unsupported"/> (another
    /// <c>alg</c> or <c>enc</c>, <c>zip</c>, <c>crit</c>), <see cref="EncryptedPayloadError.UnknownKey"/> (no <c>kid</c>, or the lookup has no
    /// key for it), <see cref="EncryptedPayloadError.InvalidKey"/> (the key found is not 32 bytes),
    /// <see cref="EncryptedPayloadError.AuthenticationFailed"/> (the tag does not verify: a wrong key, or a changed header, IV, ciphertext,
    /// <c>aad</c> or tag), <see cref="EncryptedPayloadError.InvalidPlaintext"/> (it decrypts to something that is not I-JSON).</exception>
    public static JsonElement Open(JsonElement value, Func<string, byte[]?> keyLookup)
    {
        ArgumentNullException.ThrowIfNull(keyLookup);
        if (Parse(value, out var jwe) is { } why)
        {
            throw new EncryptedPayloadException(EncryptedPayloadError.NotEncrypted, $"The value is not a JWE in the flattened JSON serialization (RFC 7516 §7.2.2): {why}.");
        }
        var alg = jwe.Header.GetValueOrDefault("alg").ToString();
        var enc = jwe.Header.GetValueOrDefault("enc").ToString();
        if (alg != Algorithm || enc != Encryption)
        {
            throw new EncryptedPayloadException(EncryptedPayloadError.Unsupported,
                $"The JWE uses alg '{alg}' and enc '{enc}'; only alg '{Algorithm}' with enc '{Encryption}' is supported (RFC 7518 §4.5, §5.3).");
        }
        foreach (var name in (ReadOnlySpan<string>)["zip", "crit"])
        {
            if (jwe.Header.ContainsKey(name))
            {
                throw new EncryptedPayloadException(EncryptedPayloadError.Unsupported, $"The JWE header has '{name}', which is not supported.");
            }
        }
        if (jwe.HeaderOverlap is { } overlap)
        {
            throw new EncryptedPayloadException(EncryptedPayloadError.Malformed, $"The header parameter '{overlap}' is in more than one JWE header (RFC 7516 §7.2.1: they must be disjoint).");
        }
        if (value.TryGetProperty("encrypted_key", out var encryptedKey) && encryptedKey.GetString() is { Length: > 0 })
        {
            throw new EncryptedPayloadException(EncryptedPayloadError.Malformed, "The JWE has an encrypted_key; with alg 'dir' there is none (RFC 7518 §4.5).");
        }
        if (!jwe.Header.TryGetValue("kid", out var kidValue) || kidValue.ValueKind != JsonValueKind.String || kidValue.GetString() is not { Length: > 0 } kid)
        {
            throw new EncryptedPayloadException(EncryptedPayloadError.UnknownKey, "The JWE names no key: its header has no 'kid'.");
        }
        var key = keyLookup(kid) ?? throw new EncryptedPayloadException(EncryptedPayloadError.UnknownKey, $"No key with id '{kid}' is known here.", kid);
        CheckKey(key, kid);
        var iv = Decode(value, "iv");
        var tag = Decode(value, "tag");
        if (iv.Length != IvBytes || tag.Length != TagBytes)
        {
            throw new EncryptedPayloadException(EncryptedPayloadError.Malformed,
                $"A256GCM takes a {IvBytes}-byte IV and a {TagBytes}-byte tag (RFC 7518 §5.3); this JWE has {iv.Length} and {tag.Length}.", kid);
        }
        var aad = value.TryGetProperty("aad", out var aadMember) ? aadMember.GetString() : null;
        byte[] plaintext;
        try
        {
            plaintext = DecryptContent(value.GetProperty("protected").GetString()!, aad, key, iv, Decode(value, "ciphertext"), tag);
        }
        catch (AuthenticationTagMismatchException)
        {
            throw new EncryptedPayloadException(EncryptedPayloadError.AuthenticationFailed,
                $"The JWE does not authenticate with key '{kid}': the key is not the one it was sealed with, or the header, IV, ciphertext, aad or tag was changed.", kid);
        }
        try
        {
            if (!IJson.IsValidUnicode(plaintext))
            {
                throw new JsonException("a string has an unpaired surrogate");
            }
            using var doc = JsonDocument.Parse(plaintext);
            return doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            // The parser's message quotes the text; this one must not.
            throw new EncryptedPayloadException(EncryptedPayloadError.InvalidPlaintext, $"The JWE opens with key '{kid}', but its plaintext is not I-JSON (RFC 7493).", kid);
        }
    }

    /// <summary>AES-256-GCM encryption of the content with the AAD of RFC 7516 §5.1 step 14.</summary>
    /// <param name="encodedProtected">BASE64URL(UTF8(protected header)), exactly as it goes on the wire.</param>
    /// <param name="encodedAad">The <c>aad</c> member (already base64url), or null.</param>
    /// <param name="key">The 32-byte content encryption key.</param>
    /// <param name="iv">The 12-byte IV.</param>
    /// <param name="plaintext">The plaintext bytes.</param>
    /// <returns>The ciphertext (as long as the plaintext) and the 16-byte tag.</returns>
    internal static (byte[] Ciphertext, byte[] Tag) EncryptContent(string encodedProtected, string? encodedAad, ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv, ReadOnlySpan<byte> plaintext)
    {
        var ciphertext = new byte[plaintext.Length];
        var tag = new byte[TagBytes];
        using var gcm = new AesGcm(key, TagBytes);
        gcm.Encrypt(iv, plaintext, ciphertext, tag, AdditionalData(encodedProtected, encodedAad));
        return (ciphertext, tag);
    }

    /// <summary>The inverse of <see cref="EncryptContent"/>.</summary>
    /// <exception cref="AuthenticationTagMismatchException">The tag does not verify.</exception>
    internal static byte[] DecryptContent(string encodedProtected, string? encodedAad, ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag)
    {
        var plaintext = new byte[ciphertext.Length];
        using var gcm = new AesGcm(key, TagBytes);
        gcm.Decrypt(iv, ciphertext, tag, plaintext, AdditionalData(encodedProtected, encodedAad));
        return plaintext;
    }

    /// <summary>RFC 7516 §5.1 step 14: ASCII(Encoded Protected Header), or ASCII(Encoded Protected Header || '.' || BASE64URL(JWE AAD)).</summary>
    private static byte[] AdditionalData(string encodedProtected, string? encodedAad) =>
        Encoding.ASCII.GetBytes(encodedAad is null ? encodedProtected : encodedProtected + "." + encodedAad);

    private static void CheckKey(ReadOnlySpan<byte> key, string keyId)
    {
        if (key.Length != KeyBytes)
        {
            throw new EncryptedPayloadException(EncryptedPayloadError.InvalidKey,
                $"Key '{keyId}' is {key.Length} bytes; A256GCM takes a {KeyBytes}-byte (256-bit) key (RFC 7518 §5.3).", keyId);
        }
    }

    private static byte[] Decode(JsonElement jwe, string member) => Base64Url.DecodeFromChars(jwe.GetProperty(member).GetString()!);

    /// <summary>The members and the joined headers of a flattened JWE; null when it is one, else why not.</summary>
    private static string? Parse(JsonElement value, out Jwe jwe)
    {
        jwe = default;
        if (value.ValueKind != JsonValueKind.Object)
        {
            return "it is not an object";
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var headers = new List<JsonElement>(3);
        foreach (var member in value.EnumerateObject())
        {
            if (!seen.Add(member.Name))
            {
                return $"'{member.Name}' appears twice";
            }
            switch (member.Name)
            {
                case "protected" or "iv" or "ciphertext" or "tag" or "aad" or "encrypted_key":
                    if (member.Value.ValueKind != JsonValueKind.String || !IsBase64Url(member.Value.GetString()!))
                    {
                        return $"'{member.Name}' is not a base64url string";
                    }
                    break;
                case "header" or "unprotected":
                    if (member.Value.ValueKind != JsonValueKind.Object)
                    {
                        return $"'{member.Name}' is not an object";
                    }
                    headers.Add(member.Value);
                    break;
                default:
                    return $"'{member.Name}' is not a JWE member";
            }
        }
        foreach (var required in (ReadOnlySpan<string>)["protected", "iv", "ciphertext", "tag"])
        {
            if (!seen.Contains(required))
            {
                return $"'{required}' is missing";
            }
        }
        try
        {
            using var doc = JsonDocument.Parse(Base64Url.DecodeFromChars(value.GetProperty("protected").GetString()!));
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                return "'protected' is not a JSON object";
            }
            headers.Insert(0, doc.RootElement.Clone());
        }
        catch (Exception e) when (e is JsonException or FormatException)
        {
            return "'protected' is not base64url of a JSON object";
        }
        var joined = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        string? overlap = null;
        foreach (var header in headers)
        {
            foreach (var parameter in header.EnumerateObject())
            {
                if (!joined.TryAdd(parameter.Name, parameter.Value))
                {
                    overlap ??= parameter.Name;
                }
            }
        }
        if (joined.GetValueOrDefault("alg").ValueKind != JsonValueKind.String || joined.GetValueOrDefault("enc").ValueKind != JsonValueKind.String)
        {
            return "its headers name no 'alg' and 'enc'";
        }
        jwe = new Jwe(joined, overlap);
        return null;
    }

    /// <summary>Base64url without padding (RFC 7515 §2): the URL-safe alphabet, and no length that leaves a single character over.</summary>
    private static bool IsBase64Url(string text) =>
        text.Length % 4 != 1 && !text.AsSpan().ContainsAnyExcept(Base64UrlAlphabet);

    private static readonly SearchValues<char> Base64UrlAlphabet = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    private readonly record struct Jwe(Dictionary<string, JsonElement> Header, string? HeaderOverlap);
}

/// <summary>Why a value could not be sealed or opened (<see cref="EncryptedPayloadException.Error"/>).</summary>
public enum EncryptedPayloadError
{
    /// <summary>The value is not a JWE object (<see cref="EncryptedPayload.IsEncrypted"/> is false).</summary>
    NotEncrypted,

    /// <summary>A JWE that breaks RFC 7516/7518 for <c>dir</c> / <c>A256GCM</c>: an IV that is not 12 bytes, a tag that is not 16, a
    /// header parameter in two headers, a non-empty <c>encrypted_key</c>.</summary>
    Malformed,

    /// <summary>Another <c>alg</c> than <c>dir</c> or <c>enc</c> than <c>A256GCM</c>, or a <c>zip</c> or <c>crit</c> header parameter.</summary>
    Unsupported,

    /// <summary>The JWE has no <c>kid</c>, or this side holds no key with that id.</summary>
    UnknownKey,

    /// <summary>The key is not <see cref="EncryptedPayload.KeyBytes"/> (32) bytes.</summary>
    InvalidKey,

    /// <summary>The authentication tag does not verify: the key is wrong, or the protected header, IV, ciphertext, <c>aad</c> or tag was changed.</summary>
    AuthenticationFailed,

    /// <summary>It decrypts, but not to I-JSON (RFC 7493).</summary>
    InvalidPlaintext,
}

/// <summary>A value could not be sealed or opened (<see cref="EncryptedPayload"/>); the message says why in one sentence.</summary>
/// <param name="error">The kind of failure.</param>
/// <param name="message">What went wrong; it never holds key material or plaintext.</param>
/// <param name="keyId">The key id involved, when known.</param>
public sealed class EncryptedPayloadException(EncryptedPayloadError error, string message, string? keyId = null) : Exception(message)
{
    /// <summary>The kind of failure.</summary>
    public EncryptedPayloadError Error { get; } = error;

    /// <summary>The key id involved (the JWE's <c>kid</c>, or the key being used), or null.</summary>
    public string? KeyId { get; } = keyId;
}
