using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kai.Protocol.Tests;

/// <summary>
/// <see cref="EncryptedPayload"/>: JWE flattened JSON (RFC 7516 §7.2.2) with <c>dir</c> + <c>A256GCM</c> (RFC 7518 §4.5, §5.3). Known answers from
/// RFC 7516 Appendix A.1 (the A256GCM content encryption with the AAD of §5.1 step 14) and from Node's WebCrypto (a whole <c>dir</c> JWE),
/// round trips, tampering, and what counts as sealed.
/// </summary>
public sealed class EncryptedPayloadTests
{
    private static readonly byte[] Key = [.. Enumerable.Range(0, 32).Select(i => (byte)i)];
    private static readonly byte[] OtherKey = [.. Enumerable.Range(100, 32).Select(i => (byte)i)];

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();

    private static byte[]? Lookup(string kid) => kid == "k1" ? Key : null;

    private static EncryptedPayloadException OpenFails(JsonElement value, Func<string, byte[]?>? lookup = null) =>
        Assert.Throws<EncryptedPayloadException>(() => EncryptedPayload.Open(value, lookup ?? Lookup));

    /// <summary>A sealed value with one member replaced (or removed when <paramref name="value"/> is null).</summary>
    private static JsonElement With(JsonElement jwe, string member, JsonNode? value)
    {
        var node = JsonNode.Parse(jwe.GetRawText())!.AsObject();
        if (value is null)
        {
            node.Remove(member);
        }
        else
        {
            node[member] = value;
        }
        return Json(node.ToJsonString());
    }

    private static string Flip(string base64Url, int index = 0)
    {
        var bytes = Base64Url.DecodeFromChars(base64Url);
        bytes[index] ^= 0x01;
        return Base64Url.EncodeToString(bytes);
    }

    private static string Encode(string json) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void Content_encryption_matches_RFC_7516_appendix_A1()
    {
        // RFC 7516 A.1: the A256GCM step of "RSA-OAEP + A256GCM" with the CEK, IV and AAD the appendix gives (A.1.2, A.1.4, A.1.5).
        const string encodedProtected = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ";
        byte[] cek = [177, 161, 244, 128, 84, 143, 225, 115, 63, 180, 3, 255, 107, 154, 212, 246, 138, 7, 110, 91, 112, 46, 34, 105, 47, 130, 203, 46, 122, 234, 64, 252];
        var iv = Base64Url.DecodeFromChars("48V1_ALb6US04U3b");
        var plaintext = Encoding.UTF8.GetBytes("The true sign of intelligence is not knowledge but imagination.");

        var (ciphertext, tag) = EncryptedPayload.EncryptContent(encodedProtected, null, cek, iv, plaintext);

        Assert.Equal("5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6jiSdiwkIr3ajwQzaBtQD_A", Base64Url.EncodeToString(ciphertext));
        Assert.Equal("XFBoMYUZodetZdvTiFvSkQ", Base64Url.EncodeToString(tag));
        Assert.Equal(plaintext, EncryptedPayload.DecryptContent(encodedProtected, null, cek, iv, ciphertext, tag));
    }

    [Fact]
    public void A_dir_A256GCM_JWE_matches_WebCrypto_byte_for_byte()
    {
        // Made with Node 20's crypto.subtle (AES-GCM, additionalData = ASCII(protected), tagLength 128) from this key, IV and plaintext;
        // clients/typescript/test/encrypted.test.ts checks the TypeScript client against the same object.
        const string expected = """{"protected":"eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwia2lkIjoia2FpLXRlc3QtMSJ9","iv":"oKGio6Slpqeoqaqr","ciphertext":"nToPSCa5Z8tAX6WnYhvgvwSMbDLv","tag":"_VUrZh__CUYY18dUqA2zVQ"}""";
        byte[] iv = [.. Enumerable.Range(0xa0, 12).Select(i => (byte)i)];

        var sealedValue = EncryptedPayload.Seal(Json("""{"secret":"tea at 5"}"""), Key, "kai-test-1", iv);

        Assert.Equal(expected, sealedValue.GetRawText());
        Assert.Equal("""{"alg":"dir","enc":"A256GCM","kid":"kai-test-1"}""", Encoding.UTF8.GetString(Base64Url.DecodeFromChars(sealedValue.GetProperty("protected").GetString()!)));
        Assert.Equal("tea at 5", EncryptedPayload.Open(Json(expected), kid => kid == "kai-test-1" ? Key : null).GetProperty("secret").GetString());
    }

    [Theory]
    [InlineData("""{"q":"cat","n":[1,2.5,null,true],"nested":{"é":"😀"}}""")]
    [InlineData("\"just a string\"")]
    [InlineData("42")]
    [InlineData("[]")]
    [InlineData("null")]
    public void Seal_then_open_gives_the_value_back_under_a_fresh_IV(string json)
    {
        var value = Json(json);

        var once = EncryptedPayload.Seal(value, Key, "k1");
        var twice = EncryptedPayload.Seal(value, Key, "k1");

        Assert.True(EncryptedPayload.IsEncrypted(once));
        Assert.Equal(["protected", "iv", "ciphertext", "tag"], once.EnumerateObject().Select(m => m.Name));
        Assert.Equal(12, Base64Url.DecodeFromChars(once.GetProperty("iv").GetString()!).Length);
        Assert.Equal(16, Base64Url.DecodeFromChars(once.GetProperty("tag").GetString()!).Length);
        Assert.NotEqual(once.GetProperty("iv").GetString(), twice.GetProperty("iv").GetString());
        Assert.NotEqual(once.GetProperty("ciphertext").GetString(), twice.GetProperty("ciphertext").GetString());
        Assert.True(JsonElement.DeepEquals(value, EncryptedPayload.Open(once, Lookup)));
        Assert.True(JsonElement.DeepEquals(value, EncryptedPayload.Open(twice, Lookup)));
        Assert.DoesNotContain("cat", once.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_key_id_is_read_without_the_key_and_non_ascii_ids_survive()
    {
        var sealedValue = EncryptedPayload.Seal(Json("1"), Key, "pair:alice/bob-é");

        Assert.Equal("pair:alice/bob-é", EncryptedPayload.KeyIdOf(sealedValue));
        Assert.Equal("1", EncryptedPayload.Open(sealedValue, kid => kid == "pair:alice/bob-é" ? Key : null).GetRawText());
        Assert.Null(EncryptedPayload.KeyIdOf(Json("""{"kid":"k1"}""")));
        var noKid = Json($$"""{"protected":"{{Encode("""{"alg":"dir","enc":"A256GCM"}""")}}","iv":"AAAAAAAAAAAAAAAA","ciphertext":"AA","tag":"AAAAAAAAAAAAAAAAAAAAAA"}""");
        Assert.True(EncryptedPayload.IsEncrypted(noKid));
        Assert.Null(EncryptedPayload.KeyIdOf(noKid));
        Assert.Equal(EncryptedPayloadError.UnknownKey, OpenFails(noKid).Error);
    }

    [Fact]
    public void Changed_ciphertext_tag_iv_or_header_and_a_wrong_key_fail_authentication()
    {
        var sealedValue = EncryptedPayload.Seal(Json("""{"secret":"s3"}"""), Key, "k1");
        var ciphertext = sealedValue.GetProperty("ciphertext").GetString()!;
        var tag = sealedValue.GetProperty("tag").GetString()!;
        var iv = sealedValue.GetProperty("iv").GetString()!;
        // The same header with another member order: the same parameters, other bytes, so another AAD.
        var reordered = Encode("""{"enc":"A256GCM","alg":"dir","kid":"k1"}""");
        // Another kid that the lookup maps to the same key: the kid is authenticated, so this fails too.
        var otherKid = Encode("""{"alg":"dir","enc":"A256GCM","kid":"k2"}""");

        var cases = new[]
        {
            With(sealedValue, "ciphertext", Flip(ciphertext)),
            With(sealedValue, "ciphertext", Flip(ciphertext, Base64Url.DecodeFromChars(ciphertext).Length - 1)),
            With(sealedValue, "tag", Flip(tag, 15)),
            With(sealedValue, "iv", Flip(iv, 11)),
            With(sealedValue, "protected", reordered),
            With(sealedValue, "protected", otherKid),
            With(sealedValue, "aad", Encode("added later")),
        };
        foreach (var tampered in cases)
        {
            var error = OpenFails(tampered, kid => kid is "k1" or "k2" ? Key : null);
            Assert.Equal(EncryptedPayloadError.AuthenticationFailed, error.Error);
            Assert.Contains("does not authenticate", error.Message, StringComparison.Ordinal);
        }

        var wrongKey = OpenFails(sealedValue, _ => OtherKey);
        Assert.Equal((EncryptedPayloadError.AuthenticationFailed, "k1"), (wrongKey.Error, wrongKey.KeyId));
        Assert.DoesNotContain("s3", wrongKey.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_kid_bad_key_lengths_other_algorithms_and_bad_lengths_are_named()
    {
        var sealedValue = EncryptedPayload.Seal(Json("true"), Key, "k1");

        var unknown = OpenFails(sealedValue, _ => null);
        Assert.Equal((EncryptedPayloadError.UnknownKey, "k1"), (unknown.Error, unknown.KeyId));
        Assert.Contains("'k1'", unknown.Message, StringComparison.Ordinal);

        Assert.Equal(EncryptedPayloadError.InvalidKey, OpenFails(sealedValue, _ => new byte[16]).Error);
        var shortKey = Assert.Throws<EncryptedPayloadException>(() => EncryptedPayload.Seal(Json("1"), new byte[31], "k1"));
        Assert.Equal(EncryptedPayloadError.InvalidKey, shortKey.Error);
        Assert.Contains("31 bytes", shortKey.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => EncryptedPayload.Seal(Json("1"), Key, ""));
        Assert.Throws<ArgumentException>(() => EncryptedPayload.Seal(default, Key, "k1"));

        var a128 = With(sealedValue, "protected", Encode("""{"alg":"dir","enc":"A128GCM","kid":"k1"}"""));
        Assert.Equal(EncryptedPayloadError.Unsupported, OpenFails(a128).Error);
        var keyWrap = With(sealedValue, "protected", Encode("""{"alg":"A256KW","enc":"A256GCM","kid":"k1"}"""));
        Assert.Equal(EncryptedPayloadError.Unsupported, OpenFails(keyWrap).Error);
        var zip = With(sealedValue, "protected", Encode("""{"alg":"dir","enc":"A256GCM","kid":"k1","zip":"DEF"}"""));
        Assert.Equal(EncryptedPayloadError.Unsupported, OpenFails(zip).Error);

        Assert.Equal(EncryptedPayloadError.Malformed, OpenFails(With(sealedValue, "iv", "AAAAAAAAAAAAAAAAAAAA")).Error);
        Assert.Equal(EncryptedPayloadError.Malformed, OpenFails(With(sealedValue, "tag", "AAAAAAAAAAAAAAAA")).Error);
        Assert.Equal(EncryptedPayloadError.Malformed, OpenFails(With(sealedValue, "encrypted_key", "AAAA")).Error);
        var twice = With(sealedValue, "header", new JsonObject { ["kid"] = "k1" });
        Assert.Equal(EncryptedPayloadError.Malformed, OpenFails(twice).Error);

        var notJwe = OpenFails(Json("""{"enc":"A256GCM","iv":"AAAA","ct":"AAAA","tag":"AAAA"}"""));
        Assert.Equal(EncryptedPayloadError.NotEncrypted, notJwe.Error);
        Assert.Contains("'enc' is not a JWE member", notJwe.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_aad_member_is_authenticated_and_a_non_json_plaintext_is_refused()
    {
        var encodedProtected = Encode("""{"alg":"dir","enc":"A256GCM","kid":"k1"}""");
        var aad = Encode("routing note");
        var iv = new byte[12];
        var (ciphertext, tag) = EncryptedPayload.EncryptContent(encodedProtected, aad, Key, iv, "[\"with aad\"]"u8);
        var withAad = Json($$"""{"protected":"{{encodedProtected}}","aad":"{{aad}}","iv":"{{Base64Url.EncodeToString(iv)}}","ciphertext":"{{Base64Url.EncodeToString(ciphertext)}}","tag":"{{Base64Url.EncodeToString(tag)}}"}""");

        Assert.True(EncryptedPayload.IsEncrypted(withAad));
        Assert.Equal("with aad", EncryptedPayload.Open(withAad, Lookup)[0].GetString());
        Assert.Equal(EncryptedPayloadError.AuthenticationFailed, OpenFails(With(withAad, "aad", Encode("routing notE"))).Error);
        Assert.Equal(EncryptedPayloadError.AuthenticationFailed, OpenFails(With(withAad, "aad", null)).Error);

        var (text, textTag) = EncryptedPayload.EncryptContent(encodedProtected, null, Key, iv, "not json, secret"u8);
        var notJson = Json($$"""{"protected":"{{encodedProtected}}","iv":"{{Base64Url.EncodeToString(iv)}}","ciphertext":"{{Base64Url.EncodeToString(text)}}","tag":"{{Base64Url.EncodeToString(textTag)}}"}""");
        var error = OpenFails(notJson);
        Assert.Equal(EncryptedPayloadError.InvalidPlaintext, error.Error);
        Assert.DoesNotContain("secret", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Any_flattened_JWE_counts_as_sealed()
    {
        // RFC 7516 A.1's JWE in the flattened form (RSA-OAEP: with an encrypted_key), with an unprotected and a per-recipient header.
        var rsa = Json("""
            {"protected":"eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ","unprotected":{"jku":"https://example.com/keys"},"header":{"kid":"r1"},
             "encrypted_key":"OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGe","iv":"48V1_ALb6US04U3b",
             "ciphertext":"5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6jiSdiwkIr3ajwQzaBtQD_A","tag":"XFBoMYUZodetZdvTiFvSkQ"}
            """);
        Assert.True(EncryptedPayload.IsEncrypted(rsa));
        Assert.Equal("r1", EncryptedPayload.KeyIdOf(rsa));
        Assert.Equal(EncryptedPayloadError.Unsupported, OpenFails(rsa).Error);
        // alg may sit in an unprotected header (RFC 7516 §7.2.1 only asks that the headers together hold it).
        Assert.True(EncryptedPayload.IsEncrypted(Json($$"""{"protected":"{{Encode("""{"enc":"A256GCM"}""")}}","header":{"alg":"dir"},"iv":"AAAA","ciphertext":"","tag":"AAAA"}""")));
    }

    [Theory]
    [InlineData("\"eyJhbGciOiJkaXIifQ..AAAA.AAAA.AAAA\"")] // the compact serialization is a string, not an object
    [InlineData("[]")]
    [InlineData("{}")]
    [InlineData("""{"enc":"A256GCM","iv":"AAAA","ct":"AAAA","tag":"AAAA"}""")] // the home-made shape this replaces
    [InlineData("""{"protected":"eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0","iv":"AAAA","ciphertext":"AAAA"}""")] // no tag
    [InlineData("""{"protected":"eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0","iv":"AAAA","ciphertext":"AAAA","tag":"AAAA","note":"x"}""")] // an extra member
    [InlineData("""{"protected":"eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0","iv":"AAAA","ciphertext":"AAAA","tag":"AAAA","tag":"AAAA"}""")] // a member twice
    [InlineData("""{"protected":"eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0","iv":"AAAA","ciphertext":"AAAA","tag":"AA=="}""")] // padding
    [InlineData("""{"protected":"eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0","iv":"AA+A","ciphertext":"AAAA","tag":"AAAA"}""")] // base64, not base64url
    [InlineData("""{"protected":"eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0","iv":"AAAAA","ciphertext":"AAAA","tag":"AAAA"}""")] // impossible length
    [InlineData("""{"protected":"eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0","iv":"AAAA","ciphertext":"AAAA","tag":4}""")] // not a string
    [InlineData("""{"protected":"eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0","iv":"AAAA","ciphertext":"AAAA","tag":"AAAA","header":"x"}""")] // header not an object
    [InlineData("""{"protected":"bm90IGpzb24","iv":"AAAA","ciphertext":"AAAA","tag":"AAAA"}""")] // "not json"
    [InlineData("""{"protected":"WzFd","iv":"AAAA","ciphertext":"AAAA","tag":"AAAA"}""")] // [1]
    [InlineData("""{"protected":"eyJhbGciOiJkaXIifQ","iv":"AAAA","ciphertext":"AAAA","tag":"AAAA"}""")] // {"alg":"dir"}: no enc
    public void Other_values_are_not_sealed(string json)
    {
        var value = Json(json);
        Assert.False(EncryptedPayload.IsEncrypted(value));
        Assert.Null(EncryptedPayload.KeyIdOf(value));
        Assert.Equal(EncryptedPayloadError.NotEncrypted, OpenFails(value).Error);
    }

    [Fact]
    public void A_default_element_is_not_sealed()
    {
        Assert.False(EncryptedPayload.IsEncrypted(default));
        Assert.Null(EncryptedPayload.KeyIdOf(default));
    }
}
