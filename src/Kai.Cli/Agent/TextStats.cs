using System.Globalization;
using System.Text;

namespace Kai.Cli.Agent;

/// <summary>A term and how often it occurs.</summary>
/// <param name="Term">The lowercased term.</param>
/// <param name="Count">Occurrences.</param>
internal sealed record TermCount(string Term, int Count);

/// <summary>The result of <c>text.stats</c>.</summary>
/// <param name="Source">The file path, or <c>text</c>.</param>
/// <param name="Lines">Lines: newline characters, plus one when the text does not end in a newline (so <c>"a\nb"</c> has 2).</param>
/// <param name="Words">Runs of non-whitespace characters, as <c>wc -w</c> counts them.</param>
/// <param name="Characters">Unicode scalar values (a surrogate pair counts once).</param>
/// <param name="Bytes">UTF-8 bytes.</param>
/// <param name="DistinctTerms">Distinct counted terms (after the filters).</param>
/// <param name="TopTerms">The most frequent terms, most frequent first, ties by term.</param>
internal sealed record TextStatsResult(string Source, int Lines, int Words, int Characters, long Bytes, int DistinctTerms, IReadOnlyList<TermCount> TopTerms);

/// <summary>
/// Counts lines, words and characters, and the top terms. Terms are maximal runs of letters and digits, lowercased
/// (invariant); terms shorter than <see cref="MinTermLength"/>, pure numbers and common English stop words are skipped.
/// </summary>
internal static class TextStats
{
    /// <summary>Shortest term counted. Default: 3.</summary>
    public const int MinTermLength = 3;

    /// <summary>Largest file read. Default: 16 MiB.</summary>
    public const long MaxFileBytes = 16 * 1024 * 1024;

    /// <summary>The stop words skipped (all at least <see cref="MinTermLength"/> long; shorter ones are skipped anyway).</summary>
    public static readonly IReadOnlySet<string> StopWords = new HashSet<string>(StringComparer.Ordinal)
    {
        "the", "and", "for", "are", "but", "not", "you", "all", "any", "can", "had", "her", "was", "one", "our", "out", "has",
        "his", "how", "its", "may", "who", "did", "get", "him", "she", "too", "use", "via", "per", "than", "that", "this",
        "with", "from", "they", "them", "then", "there", "these", "those", "have", "been", "were", "will", "would", "what",
        "when", "where", "which", "while", "into", "onto", "over", "under", "each", "also", "only", "such", "some", "more",
        "most", "other", "their", "your", "about", "after", "before", "just", "like", "does", "must", "should", "could",
        "here", "very", "both", "every", "once", "same", "because", "until", "upon", "isn", "don", "doesn", "won", "aren",
    };

    /// <summary>Reads a file (UTF-8, at most <see cref="MaxFileBytes"/>) and computes its stats.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is larger than the limit.</exception>
    public static async Task<TextStatsResult> OfFileAsync(string path, int top, CancellationToken ct)
    {
        var full = Path.GetFullPath(path);
        var info = new FileInfo(full);
        if (!info.Exists)
        {
            throw new FileNotFoundException($"no such file: {full}", full);
        }
        if (info.Length > MaxFileBytes)
        {
            throw new InvalidDataException($"{full} is {info.Length} bytes; text.stats reads at most {MaxFileBytes}.");
        }
        var text = await File.ReadAllTextAsync(full, Encoding.UTF8, ct);
        return Compute(text, top, full);
    }

    /// <summary>Computes the stats of <paramref name="text"/>.</summary>
    /// <param name="text">The text.</param>
    /// <param name="top">How many top terms to return, 0 to 1000.</param>
    /// <param name="source">What to call the source in the result.</param>
    public static TextStatsResult Compute(string text, int top = 10, string source = "text")
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfNegative(top);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(top, 1000);
        var lines = 0;
        var words = 0;
        var characters = 0;
        var inWord = false;
        foreach (var rune in text.EnumerateRunes())
        {
            characters++;
            if (rune.Value == '\n')
            {
                lines++;
            }
            var space = Rune.IsWhiteSpace(rune);
            if (!space && !inWord)
            {
                words++;
            }
            inWord = !space;
        }
        if (text.Length > 0 && text[^1] != '\n')
        {
            lines++;
        }
        var terms = CountTerms(text);
        var topTerms = terms
            .OrderByDescending(t => t.Value)
            .ThenBy(t => t.Key, StringComparer.Ordinal)
            .Take(top)
            .Select(t => new TermCount(t.Key, t.Value))
            .ToList();
        return new TextStatsResult(source, lines, words, characters, Encoding.UTF8.GetByteCount(text), terms.Count, topTerms);
    }

    /// <summary>Counts the terms of <paramref name="text"/> after the filters.</summary>
    public static Dictionary<string, int> CountTerms(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var term = new StringBuilder();
        foreach (var rune in text.EnumerateRunes())
        {
            if (Rune.IsLetterOrDigit(rune))
            {
                term.Append(Rune.ToLowerInvariant(rune).ToString());
                continue;
            }
            Flush();
        }
        Flush();
        return counts;

        void Flush()
        {
            if (term.Length == 0)
            {
                return;
            }
            var t = term.ToString();
            term.Clear();
            if (new StringInfo(t).LengthInTextElements < MinTermLength || StopWords.Contains(t) || t.All(char.IsAsciiDigit))
            {
                return;
            }
            counts[t] = counts.GetValueOrDefault(t) + 1;
        }
    }
}
