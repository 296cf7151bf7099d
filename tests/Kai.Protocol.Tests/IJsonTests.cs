using System.Text;
using System.Text.Json;

namespace Kai.Protocol.Tests;

/// <summary>RFC 7493 §2.1 (I-JSON): strings and names must be valid Unicode; <see cref="IJson"/> says whether a text is.</summary>
public sealed class IJsonTests
{
    [Theory]
    [InlineData("""{"a":"plain"}""")]
    [InlineData("""{"a":"\ud83d\ude00 paired"}""")] // an escaped surrogate pair is one valid character
    [InlineData("""{"\ud83d\ude00":1}""")]
    [InlineData("""["\\ud800 is an escaped backslash, not a surrogate"]""")] // the scan's false hit: the reader pass says valid
    [InlineData("""{"a":"é, 😀 written raw"}""")]
    [InlineData("""123""")]
    [InlineData("")]
    public void Valid_text_passes(string json)
    {
        Assert.True(IJson.IsValidUnicode(Encoding.UTF8.GetBytes(json)));
        if (json.Length > 0)
        {
            using var doc = JsonDocument.Parse(json);
            Assert.True(IJson.IsValidUnicode(doc.RootElement));
        }
    }

    [Theory]
    [InlineData("""{"a":"\ud800"}""")]
    [InlineData("""{"a":"x\udc00y"}""")] // a low surrogate alone
    [InlineData("""{"a":"\ude00\ud83d"}""")] // the pair's halves in the wrong order
    [InlineData("""{"\uD800name":1}""")] // in a property name, upper-case hex
    [InlineData("""[1,{"b":["ok","\uDBFF"]}]""")] // deep in an array
    public void A_lone_surrogate_escape_is_refused(string json)
    {
        Assert.False(IJson.IsValidUnicode(Encoding.UTF8.GetBytes(json)));
        using var doc = JsonDocument.Parse(json);
        Assert.False(IJson.IsValidUnicode(doc.RootElement));
        // What the check prevents: the element parsed, and reading its text throws later.
        Assert.ThrowsAny<InvalidOperationException>(() => Touch(doc.RootElement));
    }

    [Fact]
    public void An_absent_element_has_no_text_and_is_valid() => Assert.True(IJson.IsValidUnicode(default(JsonElement)));

    [Fact]
    public void Malformed_text_with_an_escaped_surrogate_is_a_JsonException() =>
        Assert.ThrowsAny<JsonException>(() => IJson.IsValidUnicode("""{"a" "\ud800"}"""u8)); // no colon

    private static void Touch(JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.String:
                _ = e.GetString();
                break;
            case JsonValueKind.Array:
                foreach (var item in e.EnumerateArray())
                {
                    Touch(item);
                }
                break;
            case JsonValueKind.Object:
                foreach (var p in e.EnumerateObject())
                {
                    _ = p.Name;
                    Touch(p.Value);
                }
                break;
        }
    }
}
