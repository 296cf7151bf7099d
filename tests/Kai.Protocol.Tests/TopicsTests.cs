using Kai.Protocol;
using Kai.Protocol.Events;

namespace Kai.Protocol.Tests;

public sealed class TopicsTests
{
    [Theory]
    // exact
    [InlineData("system.alert", "system.alert", true)]
    [InlineData("system.alert", "system.alerts", false)]
    [InlineData("system.alert", "system", false)]
    [InlineData("system", "system.alert", false)]
    // '*' is exactly one segment
    [InlineData("task.*.completed", "task.code_generation.completed", true)]
    [InlineData("task.*.completed", "task.completed", false)]
    [InlineData("task.*.completed", "task.a.b.completed", false)]
    [InlineData("task.*.completed", "task.x.failed", false)]
    [InlineData("*", "alert", true)]
    [InlineData("*", "system.alert", false)]
    [InlineData("*.*", "system.alert", true)]
    [InlineData("agent.*", "agent", false)]
    [InlineData("*.alert", "system.alert", true)]
    // '>' is one or more trailing segments
    [InlineData("task.>", "task.a", true)]
    [InlineData("task.>", "task.a.b.c", true)]
    [InlineData("task.>", "task", false)]
    [InlineData("task.>", "tasks.a", false)]
    [InlineData(">", "a", true)]
    [InlineData(">", "a.b.c.d", true)]
    [InlineData("*.>", "a", false)]
    [InlineData("*.>", "a.b", true)]
    [InlineData("agent.*.>", "agent.bot-1.status_changed", true)]
    // case-sensitive, no prefix matching
    [InlineData("Task.>", "task.a", false)]
    [InlineData("task.comp", "task.completed", false)]
    public void Wildcards_match_as_documented(string pattern, string topic, bool expected)
    {
        Assert.True(Topics.IsValidPattern(pattern, out var perr), perr);
        Assert.True(Topics.IsValidTopic(topic, out var terr), terr);
        Assert.Equal(expected, Topics.Matches(pattern, topic));
    }

    [Theory]
    [InlineData("", "must not be empty")]
    [InlineData("a..b", "empty segments")]
    [InlineData(".a", "empty segments")]
    [InlineData("a.", "empty segments")]
    [InlineData("a.>.b", "last segment")]
    [InlineData("a.b*", "whole segment")]
    [InlineData("a.>x", "whole segment")]
    [InlineData("a b", "may only contain")]
    [InlineData("a/b", "may only contain")]
    [InlineData("ä.b", "may only contain")]
    public void Bad_patterns_are_refused_with_a_reason(string pattern, string reason)
    {
        Assert.False(Topics.IsValidPattern(pattern, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Limits_on_length_segments_and_wildcards_in_topics()
    {
        Assert.True(Topics.IsValidTopic(string.Join('.', Enumerable.Repeat("a", Topics.MaxSegments)), out _));
        Assert.False(Topics.IsValidTopic(string.Join('.', Enumerable.Repeat("a", Topics.MaxSegments + 1)), out var e1));
        Assert.Contains("segments", e1, StringComparison.Ordinal);
        Assert.False(Topics.IsValidTopic(new string('a', 65), out var e2));
        Assert.Contains("64", e2, StringComparison.Ordinal);
        Assert.False(Topics.IsValidTopic(string.Join('.', Enumerable.Repeat(new string('a', 60), 5)), out var e3));
        Assert.Contains("256", e3, StringComparison.Ordinal);
        Assert.False(Topics.IsValidTopic("task.*.completed", out var e4));
        Assert.Contains("wildcards", e4, StringComparison.Ordinal);
        Assert.False(Topics.IsValidTopic(null, out _));
    }

    [Theory]
    [InlineData("task.completed", "code_generation", "task.code_generation.completed")]
    [InlineData("agent.status_changed", "bot-1", "agent.bot-1.status_changed")]
    [InlineData("agent.status_changed", "bot.v2", "agent.bot~v2.status_changed")]
    [InlineData("workflow.stage_completed", "wf 1", "workflow.wf_1.stage_completed")]
    [InlineData("system.alert", null, "system.alert")]
    [InlineData("heartbeat", "x", "heartbeat.x")]
    public void System_event_topics_insert_the_subject_after_the_first_segment(string eventType, string? subject, string topic)
    {
        Assert.Equal(topic, Topics.ForEvent(eventType, subject));
        Assert.True(Topics.IsValidTopic(topic, out _));
    }

    [Theory]
    [InlineData("3f9a1c20b7d4-42", "3f9a1c20b7d4", 42L)]
    [InlineData("abc-0", "abc", 0L)]
    public void Event_ids_round_trip(string id, string epoch, long offset)
    {
        Assert.True(EventPosition.TryParse(id, out var p));
        Assert.Equal(new EventPosition(epoch, offset), p);
        Assert.Equal(id, p!.ToString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("42")]
    [InlineData("-42")]
    [InlineData("abc-")]
    [InlineData("abc--1")]
    [InlineData("ab c-1")]
    [InlineData("abc-1.5")]
    public void Malformed_event_ids_are_refused(string? id) => Assert.False(EventPosition.TryParse(id, out _));
}
