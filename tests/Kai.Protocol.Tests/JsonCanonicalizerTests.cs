using System.Text;
using System.Text.Json;
using Kai.Protocol.Kail;

namespace Kai.Protocol.Tests;

/// <summary>RFC 8785 (JCS) against the RFC's own examples: §3.2.2 (serialization), §3.2.3 (sorting) and Appendix B (numbers).</summary>
public sealed class JsonCanonicalizerTests
{
    /// <summary>RFC 8785 Appendix B: IEEE 754 bit patterns and the text ECMAScript writes for each.</summary>
    public static TheoryData<ulong, string> AppendixB => new()
    {
        { 0x0000000000000000, "0" },
        { 0x8000000000000000, "0" },
        { 0x0000000000000001, "5e-324" },
        { 0x8000000000000001, "-5e-324" },
        { 0x7fefffffffffffff, "1.7976931348623157e+308" },
        { 0xffefffffffffffff, "-1.7976931348623157e+308" },
        { 0x4340000000000000, "9007199254740992" },
        { 0xc340000000000000, "-9007199254740992" },
        { 0x4430000000000000, "295147905179352830000" },
        { 0x44b52d02c7e14af5, "9.999999999999997e+22" },
        { 0x44b52d02c7e14af6, "1e+23" },
        { 0x44b52d02c7e14af7, "1.0000000000000001e+23" },
        { 0x444b1ae4d6e2ef4e, "999999999999999700000" },
        { 0x444b1ae4d6e2ef4f, "999999999999999900000" },
        { 0x444b1ae4d6e2ef50, "1e+21" },
        { 0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7" },
        { 0x3eb0c6f7a0b5ed8d, "0.000001" },
        { 0x41b3de4355555553, "333333333.3333332" },
        { 0x41b3de4355555554, "333333333.33333325" },
        { 0x41b3de4355555555, "333333333.3333333" },
        { 0x41b3de4355555556, "333333333.3333334" },
        { 0x41b3de4355555557, "333333333.33333343" },
        { 0xbecbf647612f3696, "-0.0000033333333333333333" },
        { 0x43143ff3c1cb0959, "1424953923781206.2" },
    };

    [Theory]
    [MemberData(nameof(AppendixB))]
    public void Appendix_B_numbers_are_written_as_ECMAScript_writes_them(ulong bits, string expected)
    {
        var value = BitConverter.UInt64BitsToDouble(bits);
        Assert.Equal(expected, JsonCanonicalizer.FormatNumber(value));
        // The same through the parser: the shortest round-trip text of the double, as a JSON document.
        Assert.Equal(expected, JsonCanonicalizer.CanonicalizeText(value.ToString("R", System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Theory]
    [InlineData(0x7fffffffffffffffUL)]
    [InlineData(0x7ff0000000000000UL)]
    [InlineData(0xfff0000000000000UL)]
    public void Appendix_B_NaN_and_infinities_have_no_form(ulong bits) =>
        Assert.Throws<JsonCanonicalizationException>(() => JsonCanonicalizer.FormatNumber(BitConverter.UInt64BitsToDouble(bits)));

    [Fact]
    public void Section_3_2_2_example_is_serialized_byte_for_byte()
    {
        const string input = """
            {
              "numbers": [333333333.33333329, 1E30, 4.50,
                          2e-3, 0.000000000000000000000000001],
              "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
              "literals": [null, true, false]
            }
            """;
        const string expected = """{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}""";
        using var doc = JsonDocument.Parse(input);
        var bytes = JsonCanonicalizer.Canonicalize(doc.RootElement);
        Assert.Equal(expected, Encoding.UTF8.GetString(bytes));
        // §3.2.4: the UTF-8 of the result (the euro sign is e2 82 ac).
        Assert.Equal("7b226c6974657261", Convert.ToHexStringLower(bytes.AsSpan(0, 8)));
        Assert.Contains("e282ac", Convert.ToHexStringLower(bytes), StringComparison.Ordinal);
    }

    [Fact]
    public void Section_3_2_3_members_are_sorted_by_UTF16_code_units()
    {
        const string input = """
            {
              "\u20ac": "Euro Sign",
              "\r": "Carriage Return",
              "\ufb33": "Hebrew Letter Dalet With Dagesh",
              "1": "One",
              "\ud83d\ude00": "Emoji: Grinning Face",
              "\u0080": "Control",
              "\u00f6": "Latin Small Letter O With Diaeresis"
            }
            """;
        var canonical = JsonCanonicalizer.CanonicalizeText(input);
        using var doc = JsonDocument.Parse(canonical);
        var values = doc.RootElement.EnumerateObject().Select(p => p.Value.GetString()).ToArray();
        // The RFC's expected order: the emoji (a surrogate pair, D83D) sorts before U+FB33 although its code point is higher.
        Assert.Equal(new[]
        {
            "Carriage Return", "One", "Control", "Latin Small Letter O With Diaeresis", "Euro Sign", "Emoji: Grinning Face",
            "Hebrew Letter Dalet With Dagesh",
        }, values);
        Assert.StartsWith("{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":", canonical, StringComparison.Ordinal);
    }

    [Fact]
    public void Nested_objects_are_sorted_arrays_keep_their_order_and_whitespace_goes()
    {
        Assert.Equal("""[56,{"1":[],"10":null,"d":true}]""", JsonCanonicalizer.CanonicalizeText("""[ 56, { "d": true, "10": null, "1": [ ] } ]"""));
        Assert.Equal("""{"a":{"b":1,"c":[{"x":2,"y":"z"}]}}""", JsonCanonicalizer.CanonicalizeText("""{"a":{"c":[{"y":"z","x":2.0}],"b":1e0}}"""));
    }

    [Fact]
    public void Controls_are_escaped_lowercase_and_slashes_and_non_ascii_are_left_alone()
    {
        Assert.Equal("\"\\u0000\\u001f\\b\\t\\n\\f\\r/\u2028é\"", JsonCanonicalizer.CanonicalizeText("\"\\u0000\\u001F\\b\\t\\n\\f\\r\\/\\u2028\\u00e9\""));
    }

    [Theory]
    [InlineData("""{"a":1,"a":2}""")]
    [InlineData("""{"x":{"a":1,"a":1}}""")]
    [InlineData("\"\\ud800\"")]
    [InlineData("{\"\\udc00\":1}")]
    [InlineData("[1e400]")]
    public void Non_I_JSON_input_is_refused(string json) =>
        Assert.Throws<JsonCanonicalizationException>(() => JsonCanonicalizer.CanonicalizeText(json));

    [Fact]
    public void The_signing_input_leaves_out_only_the_top_level_signature()
    {
        using var doc = JsonDocument.Parse("""{"signature":"abc","key_id":"k1","payload":{"signature":"kept"},"id":"x"}""");
        Assert.Equal("""{"id":"x","key_id":"k1","payload":{"signature":"kept"}}""", Encoding.UTF8.GetString(KailSignatures.SigningInput(doc.RootElement)));
    }

    [Theory]
    [InlineData("AAEC", new byte[] { 0, 1, 2 })]
    [InlineData("-_8", new byte[] { 0xfb, 0xff })]
    [InlineData("+/8=", new byte[] { 0xfb, 0xff })]
    public void Signatures_decode_from_base64_and_base64url(string text, byte[] expected) => Assert.Equal(expected, KailSignatures.DecodeSignature(text));

    [Theory]
    [InlineData("")]
    [InlineData("not base64!")]
    [InlineData("A")]
    public void Malformed_signatures_decode_to_null(string text) => Assert.Null(KailSignatures.DecodeSignature(text));
}
