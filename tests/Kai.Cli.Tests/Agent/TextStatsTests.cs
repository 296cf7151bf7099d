using Kai.Cli.Agent;

namespace Kai.Cli.Tests.Agent;

public sealed class TextStatsTests
{
    [Fact]
    public void Counts_lines_words_and_characters_like_wc()
    {
        var stats = TextStats.Compute("one two\nthree  four five\n\nsix\n");
        Assert.Equal(4, stats.Lines);
        Assert.Equal(6, stats.Words);
        Assert.Equal(30, stats.Characters);
        Assert.Equal(30, stats.Bytes);
    }

    [Fact]
    public void A_last_line_without_newline_counts_and_empty_text_has_no_lines()
    {
        Assert.Equal(2, TextStats.Compute("a\nb").Lines);
        Assert.Equal(0, TextStats.Compute("").Lines);
        Assert.Equal(0, TextStats.Compute("").Words);
    }

    [Fact]
    public void Characters_are_unicode_scalars_and_bytes_are_utf8()
    {
        var stats = TextStats.Compute("héllo 🙂");
        Assert.Equal(7, stats.Characters);
        Assert.Equal(11, stats.Bytes);
        Assert.Equal(2, stats.Words);
    }

    [Fact]
    public void Terms_are_lowercased_letter_digit_runs_without_short_words_stop_words_or_numbers()
    {
        var terms = TextStats.CountTerms("The Router routes; the router's ROUTER! An id, 42 and 2048 x86 kai_hub");
        Assert.Equal(3, terms["router"]);
        Assert.Equal(1, terms["routes"]);
        Assert.Equal(1, terms["x86"]);
        Assert.Equal(1, terms["kai"]);
        Assert.Equal(1, terms["hub"]);
        Assert.False(terms.ContainsKey("the"));
        Assert.False(terms.ContainsKey("and"));
        Assert.False(terms.ContainsKey("an"));
        Assert.False(terms.ContainsKey("id"));
        Assert.False(terms.ContainsKey("2048"));
        Assert.False(terms.ContainsKey("s"));
    }

    [Fact]
    public void Top_terms_are_most_frequent_first_with_ties_by_term_and_limited()
    {
        var stats = TextStats.Compute("beta alpha gamma beta alpha beta delta", top: 3);
        Assert.Equal(
            [new TermCount("beta", 3), new TermCount("alpha", 2), new TermCount("delta", 1)],
            stats.TopTerms);
        Assert.Equal(4, stats.DistinctTerms);
    }

    [Fact]
    public async Task Reads_a_file_and_names_it_as_the_source()
    {
        var path = Path.Combine(Path.GetTempPath(), $"kai-stats-{Guid.NewGuid():N}.txt");
        await File.WriteAllTextAsync(path, "kernel kernel\nqueue\n");
        try
        {
            var stats = await TextStats.OfFileAsync(path, 5, CancellationToken.None);
            Assert.Equal(path, stats.Source);
            Assert.Equal(2, stats.Lines);
            Assert.Equal(new TermCount("kernel", 2), stats.TopTerms[0]);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task A_missing_file_fails_with_its_path()
    {
        var ex = await Assert.ThrowsAsync<FileNotFoundException>(() => TextStats.OfFileAsync("/no/such/file.md", 10, CancellationToken.None));
        Assert.Contains("/no/such/file.md", ex.Message, StringComparison.Ordinal);
    }
}
