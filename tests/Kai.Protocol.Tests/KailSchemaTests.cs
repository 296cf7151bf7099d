using System.Text.Json;
using Kai.Protocol.Kail;

namespace Kai.Protocol.Tests;

public sealed class KailSchemaTests
{
    [Fact]
    public void A_property_named_empty_string_is_reported_with_the_root_problems_instead_of_throwing()
    {
        // {"":1}: the root misses its required members, and the property "" (JSON Pointer "/") is not allowed. Both are keyed "/";
        // this threw ArgumentException (a duplicate key) under bench/fuzz.sh, which the hub answered as an internal error.
        using var doc = JsonDocument.Parse("""{"":1}""");
        var problems = KailSchema.Validate(doc.RootElement);
        var root = Assert.Single(problems);
        Assert.Equal("/", root.Key);
        Assert.Contains(root.Value, m => m.StartsWith("required", StringComparison.Ordinal));
        Assert.True(root.Value.Length >= 2, string.Join("; ", root.Value));
    }
}
