using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Kai.Protocol.Kail;

/// <summary>
/// The JSON Canonicalization Scheme (JCS, RFC 8785): the one byte form of a JSON value that KAIL signatures are computed over
/// (seed 002 §VIII "signed envelopes"; docs/protocol.md, "KAIL signatures").
/// </summary>
/// <remarks>
/// <para>The output is UTF-8 without whitespace. Object members are sorted by their names as arrays of UTF-16 code units
/// (RFC 8785 §3.2.3), recursively; array order is kept. Strings are written as ECMAScript's <c>JSON.stringify</c> writes them
/// (§3.2.2.2): <c>\"</c>, <c>\\</c>, <c>\b \f \n \r \t</c>, other controls below U+0020 as <c>\u00xx</c> (lower-case hex), everything
/// else as itself (no escaping of <c>/</c> or of non-ASCII). Numbers are IEEE 754 doubles written as ECMAScript's
/// <c>Number.prototype.toString</c> does (§3.2.2.3): the shortest digits that round-trip, plain notation for exponents -6 to 20,
/// <c>1e+21</c> style beyond, <c>0</c> for minus zero. <c>true</c>, <c>false</c> and <c>null</c> are written as themselves.</para>
/// <para>Input that I-JSON (RFC 7493, required by §3.1) forbids is refused with <see cref="JsonCanonicalizationException"/>: duplicate
/// member names, lone surrogates in strings or names, and numbers outside the double range. No .NET library for RFC 8785 restores on
/// this project's feed, hence this implementation (docs/decisions.md); it is tested against the RFC's own examples and Appendix B.</para>
/// </remarks>
public static class JsonCanonicalizer
{
    /// <summary>The canonical UTF-8 bytes of <paramref name="value"/>.</summary>
    /// <param name="value">Any JSON value (an <see cref="JsonValueKind.Undefined"/> element is refused).</param>
    /// <returns>The RFC 8785 form, UTF-8.</returns>
    /// <exception cref="JsonCanonicalizationException">The value is not I-JSON: a duplicate member name, a lone surrogate, a number that
    /// is not a finite double, or an undefined element.</exception>
    public static byte[] Canonicalize(JsonElement value) => Canonicalize(value, null);

    /// <summary>
    /// The canonical UTF-8 bytes of the object <paramref name="value"/> without its top-level member <paramref name="excludedMember"/>
    /// (if present): the signing input of a KAIL envelope or result, whose <c>signature</c> member is not signed.
    /// </summary>
    /// <param name="value">A JSON object (any other value is canonicalized whole).</param>
    /// <param name="excludedMember">The top-level member name to leave out, compared ordinally; null for none.</param>
    /// <returns>The RFC 8785 form, UTF-8.</returns>
    /// <exception cref="JsonCanonicalizationException">As <see cref="Canonicalize(JsonElement)"/>.</exception>
    public static byte[] Canonicalize(JsonElement value, string? excludedMember)
    {
        var sb = new StringBuilder(256);
        Write(sb, value, excludedMember);
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    /// <summary>The canonical text of a JSON document given as UTF-8 or string text.</summary>
    /// <param name="json">One JSON value.</param>
    /// <returns>The RFC 8785 form as a string (encode it as UTF-8 before hashing or signing).</returns>
    /// <exception cref="JsonException">The text is not JSON.</exception>
    /// <exception cref="JsonCanonicalizationException">As <see cref="Canonicalize(JsonElement)"/>.</exception>
    public static string CanonicalizeText(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var sb = new StringBuilder(json.Length);
        Write(sb, doc.RootElement, null);
        return sb.ToString();
    }

    /// <summary>
    /// A double as ECMAScript's <c>Number.prototype.toString</c> writes it (RFC 8785 §3.2.2.3, ECMA-262 §7.1.12.1): <c>0</c> for both zeros,
    /// the shortest round-tripping digits, plain notation when the decimal exponent is -6 to 20, otherwise <c>d.ddde±x</c>.
    /// </summary>
    /// <param name="value">A finite double.</param>
    /// <returns>The text, for example <c>1e+23</c>, <c>0.000001</c>, <c>333333333.33333325</c>.</returns>
    /// <exception cref="JsonCanonicalizationException">NaN or an infinity (JSON cannot carry them).</exception>
    public static string FormatNumber(double value)
    {
        if (!double.IsFinite(value))
        {
            throw new JsonCanonicalizationException($"{value.ToString(CultureInfo.InvariantCulture)} has no JSON form (RFC 8785 §3.2.2.3).");
        }
        if (value == 0)
        {
            return "0";
        }
        // .NET's "R" is the shortest round-tripping form; only its layout differs from ECMAScript's. Take its digits and exponent.
        var r = value.ToString("R", CultureInfo.InvariantCulture);
        var negative = r[0] == '-';
        var body = negative ? r.AsSpan(1) : r.AsSpan();
        var exponent = 0;
        var e = body.IndexOfAny('E', 'e');
        if (e >= 0)
        {
            exponent = int.Parse(body[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            body = body[..e];
        }
        var dot = body.IndexOf('.');
        var digits = dot < 0 ? body.ToString() : string.Concat(body[..dot], body[(dot + 1)..]);
        // n: the position of the decimal point relative to the digits, value = 0.digits × 10^n.
        var n = (dot < 0 ? body.Length : dot) + exponent;
        var lead = 0;
        while (lead < digits.Length - 1 && digits[lead] == '0')
        {
            lead++;
        }
        digits = digits[lead..].TrimEnd('0');
        n -= lead;
        var k = digits.Length;
        var sb = new StringBuilder(32);
        if (negative)
        {
            sb.Append('-');
        }
        if (k <= n && n <= 21)
        {
            sb.Append(digits).Append('0', n - k);
        }
        else if (0 < n && n <= 21)
        {
            sb.Append(digits, 0, n).Append('.').Append(digits, n, k - n);
        }
        else if (-6 < n && n <= 0)
        {
            sb.Append("0.").Append('0', -n).Append(digits);
        }
        else
        {
            sb.Append(digits[0]);
            if (k > 1)
            {
                sb.Append('.').Append(digits, 1, k - 1);
            }
            sb.Append('e').Append(n - 1 >= 0 ? '+' : '-').Append(Math.Abs(n - 1).ToString(CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    private static void Write(StringBuilder sb, JsonElement value, string? excludedMember)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                WriteObject(sb, value, excludedMember);
                break;
            case JsonValueKind.Array:
                sb.Append('[');
                var first = true;
                foreach (var item in value.EnumerateArray())
                {
                    if (!first)
                    {
                        sb.Append(',');
                    }
                    first = false;
                    Write(sb, item, null);
                }
                sb.Append(']');
                break;
            case JsonValueKind.String:
                WriteString(sb, ReadString(value));
                break;
            case JsonValueKind.Number:
                sb.Append(FormatNumber(ParseNumber(value)));
                break;
            case JsonValueKind.True:
                sb.Append("true");
                break;
            case JsonValueKind.False:
                sb.Append("false");
                break;
            case JsonValueKind.Null:
                sb.Append("null");
                break;
            default:
                throw new JsonCanonicalizationException("An undefined JSON element has no canonical form.");
        }
    }

    private static void WriteObject(StringBuilder sb, JsonElement value, string? excludedMember)
    {
        var members = new List<(string Name, JsonElement Value)>();
        foreach (var p in value.EnumerateObject())
        {
            string name;
            try
            {
                name = p.Name;
            }
            catch (InvalidOperationException ex)
            {
                throw new JsonCanonicalizationException("A member name is not valid UTF-16 (a lone surrogate); I-JSON forbids it (RFC 8785 §3.1).", ex);
            }
            if (excludedMember is not null && string.Equals(name, excludedMember, StringComparison.Ordinal))
            {
                continue;
            }
            CheckSurrogates(name);
            members.Add((name, p.Value));
        }
        // RFC 8785 §3.2.3: sort by UTF-16 code units; string.CompareOrdinal compares exactly those.
        members.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        sb.Append('{');
        for (var i = 0; i < members.Count; i++)
        {
            if (i > 0)
            {
                if (string.Equals(members[i].Name, members[i - 1].Name, StringComparison.Ordinal))
                {
                    throw new JsonCanonicalizationException($"Member name '{members[i].Name}' appears twice in one object; I-JSON forbids duplicates (RFC 8785 §3.1).");
                }
                sb.Append(',');
            }
            WriteString(sb, members[i].Name);
            sb.Append(':');
            Write(sb, members[i].Value, null);
        }
        sb.Append('}');
    }

    private static string ReadString(JsonElement value)
    {
        string s;
        try
        {
            s = value.GetString()!;
        }
        catch (InvalidOperationException ex)
        {
            throw new JsonCanonicalizationException("A string is not valid UTF-16 (a lone surrogate); I-JSON forbids it (RFC 8785 §3.1).", ex);
        }
        CheckSurrogates(s);
        return s;
    }

    private static void CheckSurrogates(string s)
    {
        for (var i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(s[i]))
            {
                throw new JsonCanonicalizationException($"A string holds a lone surrogate U+{(int)s[i]:X4}; I-JSON forbids it (RFC 8785 §3.1).");
            }
        }
    }

    private static double ParseNumber(JsonElement value)
    {
        var raw = value.GetRawText();
        if (!double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) || !double.IsFinite(d))
        {
            throw new JsonCanonicalizationException($"The number {raw} is outside the IEEE 754 double range (RFC 8785 §3.2.2.3).");
        }
        return d;
    }

    private static void WriteString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"':
                    sb.Append("\\\"");
                    break;
                case '\\':
                    sb.Append("\\\\");
                    break;
                case '\b':
                    sb.Append("\\b");
                    break;
                case '\f':
                    sb.Append("\\f");
                    break;
                case '\n':
                    sb.Append("\\n");
                    break;
                case '\r':
                    sb.Append("\\r");
                    break;
                case '\t':
                    sb.Append("\\t");
                    break;
                case < ' ':
                    sb.Append("\\u00").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    break;
                default:
                    sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}

/// <summary>A JSON value that has no RFC 8785 canonical form because it is not I-JSON (RFC 7493): see <see cref="JsonCanonicalizer"/>.</summary>
public sealed class JsonCanonicalizationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public JsonCanonicalizationException() : base("The JSON value has no RFC 8785 canonical form.") { }

    /// <summary>Creates the exception with a sentence saying what is wrong.</summary>
    /// <param name="message">The sentence.</param>
    public JsonCanonicalizationException(string message) : base(message) { }

    /// <summary>Creates the exception with a sentence and the parser's own exception.</summary>
    /// <param name="message">The sentence.</param>
    /// <param name="inner">The cause.</param>
    public JsonCanonicalizationException(string message, Exception inner) : base(message, inner) { }
}
