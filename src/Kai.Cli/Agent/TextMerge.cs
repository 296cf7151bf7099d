using System.Text.Json;
using Kai.Protocol;

namespace Kai.Cli.Agent;

/// <summary>One source in a <see cref="TextMergeResult"/>.</summary>
/// <param name="Stage">The upstream stage name.</param>
/// <param name="Source">The file (or <c>text</c>) that stage counted.</param>
/// <param name="Lines">Its lines.</param>
/// <param name="Words">Its words.</param>
/// <param name="Characters">Its characters.</param>
internal sealed record MergedSource(string Stage, string Source, int Lines, int Words, int Characters);

/// <summary>The result of <c>text.merge</c>.</summary>
/// <param name="Sources">Each upstream stage's counts, by stage name.</param>
/// <param name="TotalLines">Sum of lines.</param>
/// <param name="TotalWords">Sum of words.</param>
/// <param name="TotalCharacters">Sum of characters.</param>
/// <param name="TopTerms">The upstream top terms added up (so a term counts only where it made a source's top list), most frequent first.</param>
/// <param name="Summary">One sentence for people.</param>
internal sealed record TextMergeResult(
    IReadOnlyList<MergedSource> Sources, int TotalLines, int TotalWords, int TotalCharacters, IReadOnlyList<TermCount> TopTerms, string Summary);

/// <summary>
/// <c>text.merge</c>: the join stage of a workflow. Its input is the stage's <c>input_data</c>, whose <c>upstream</c> object maps
/// each upstream stage to its result (docs/tasks.md, "Workflows"); every result must be a <c>text.stats</c> result.
/// Optional <c>top</c> (default 10) bounds the merged term list.
/// </summary>
internal static class TextMerge
{
    /// <exception cref="ArgumentException">No <c>upstream</c> object, or an upstream result that is not a text.stats result.</exception>
    public static TextMergeResult Merge(JsonElement input)
    {
        if (input.ValueKind != JsonValueKind.Object || !input.TryGetProperty("upstream", out var upstream) || upstream.ValueKind != JsonValueKind.Object)
        {
            throw new ArgumentException("text.merge needs input_data.upstream {stage: text.stats result}; run it as a workflow stage that depends on text.stats stages.");
        }
        var top = input.TryGetProperty("top", out var t) && t.TryGetInt32(out var n) ? Math.Clamp(n, 0, 1000) : 10;
        var sources = new List<MergedSource>();
        var terms = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var stage in upstream.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            TextStatsResult? stats;
            try
            {
                stats = stage.Value.Deserialize<TextStatsResult>(KaiJson.Options);
            }
            catch (JsonException ex)
            {
                throw new ArgumentException($"upstream stage '{stage.Name}' did not return a text.stats result: {ex.Message}");
            }
            if (stats is null)
            {
                throw new ArgumentException($"upstream stage '{stage.Name}' returned nothing.");
            }
            sources.Add(new MergedSource(stage.Name, stats.Source, stats.Lines, stats.Words, stats.Characters));
            foreach (var term in stats.TopTerms ?? [])
            {
                terms[term.Term] = terms.GetValueOrDefault(term.Term) + term.Count;
            }
        }
        var merged = terms.OrderByDescending(x => x.Value).ThenBy(x => x.Key, StringComparer.Ordinal).Take(top).Select(x => new TermCount(x.Key, x.Value)).ToList();
        var totalWords = sources.Sum(s => s.Words);
        var summary = $"{sources.Count} sources, {sources.Sum(s => s.Lines)} lines, {totalWords} words"
            + (merged.Count > 0 ? $"; most frequent: {string.Join(", ", merged.Take(3).Select(m => $"{m.Term} ({m.Count})"))}" : "");
        return new TextMergeResult(sources, sources.Sum(s => s.Lines), totalWords, sources.Sum(s => s.Characters), merged, summary);
    }
}
