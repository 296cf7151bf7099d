namespace Kai.Protocol;

/// <summary>
/// Event topics and subscription patterns (seed 004 "Publish-Subscribe Pattern"; the wildcard syntax is NATS').
/// </summary>
/// <remarks>
/// <para>A topic is 1 to <see cref="MaxSegments"/> dot-separated segments, at most <see cref="MaxLength"/>
/// characters in all. A segment is 1 to 64 of <c>A-Z a-z 0-9 _ - : ~ @</c>. Example:
/// <c>task.code_generation.completed</c>.</para>
/// <para>A pattern is a topic whose segments may also be <c>*</c> (exactly one segment) and whose last segment may
/// be <c>&gt;</c> (one or more segments). <c>task.*.completed</c> matches <c>task.code_generation.completed</c> but
/// not <c>task.completed</c> or <c>task.a.b.completed</c>; <c>task.&gt;</c> matches <c>task.a</c> and
/// <c>task.a.b.c</c> but not <c>task</c>; <c>&gt;</c> matches every topic. Matching is case-sensitive.</para>
/// <para>Ids that contain dots (agent ids may) are put into a topic with <see cref="Segment"/>, which maps
/// <c>.</c> to <c>~</c>: agent <c>bot.v2</c> has the topic <c>agent.bot~v2.status_changed</c>.</para>
/// </remarks>
public static class Topics
{
    /// <summary>The longest topic or pattern, in characters: 256.</summary>
    public const int MaxLength = 256;

    /// <summary>The most segments in a topic or pattern: 16.</summary>
    public const int MaxSegments = 16;

    /// <summary>The longest segment, in characters: 64.</summary>
    public const int MaxSegmentLength = 64;

    /// <summary>The single-segment wildcard.</summary>
    public const string Star = "*";

    /// <summary>The trailing "one or more segments" wildcard.</summary>
    public const string Tail = ">";

    /// <summary>Checks a concrete topic (no wildcards).</summary>
    /// <param name="topic">The topic.</param>
    /// <param name="error">Why it is invalid; <see langword="null"/> when valid.</param>
    /// <returns>Whether <paramref name="topic"/> is a valid topic.</returns>
    public static bool IsValidTopic(string? topic, out string? error) => Validate(topic, allowWildcards: false, out error);

    /// <summary>Checks a subscription pattern.</summary>
    /// <param name="pattern">The pattern.</param>
    /// <param name="error">Why it is invalid; <see langword="null"/> when valid.</param>
    /// <returns>Whether <paramref name="pattern"/> is a valid pattern.</returns>
    public static bool IsValidPattern(string? pattern, out string? error) => Validate(pattern, allowWildcards: true, out error);

    /// <summary>Whether <paramref name="pattern"/> matches <paramref name="topic"/>. Both are assumed valid; an invalid pair simply does not match.</summary>
    /// <param name="pattern">A pattern, for example <c>task.*.completed</c>.</param>
    /// <param name="topic">A concrete topic, for example <c>task.code_generation.completed</c>.</param>
    /// <returns><see langword="true"/> when it matches.</returns>
    public static bool Matches(string pattern, string topic)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(topic);
        var p = pattern.AsSpan();
        var t = topic.AsSpan();
        while (true)
        {
            var pEnd = p.IndexOf('.');
            var pSeg = pEnd < 0 ? p : p[..pEnd];
            if (pSeg.SequenceEqual(Tail) && pEnd < 0)
            {
                return !t.IsEmpty;
            }
            if (t.IsEmpty)
            {
                return false;
            }
            var tEnd = t.IndexOf('.');
            var tSeg = tEnd < 0 ? t : t[..tEnd];
            if (!(pSeg.SequenceEqual(Star) || pSeg.SequenceEqual(tSeg)))
            {
                return false;
            }
            if (pEnd < 0 || tEnd < 0)
            {
                return pEnd < 0 && tEnd < 0;
            }
            p = p[(pEnd + 1)..];
            t = t[(tEnd + 1)..];
        }
    }

    /// <summary>
    /// Builds the topic of a system event: its event type with <paramref name="subject"/> inserted after the first
    /// segment (<c>task.completed</c> + <c>code_generation</c> = <c>task.code_generation.completed</c>), or the
    /// event type unchanged when there is no subject (<c>system.alert</c>).
    /// </summary>
    /// <param name="eventType">A dot-separated event type such as <c>agent.status_changed</c>.</param>
    /// <param name="subject">The subject id, or <see langword="null"/>; made safe with <see cref="Segment"/>.</param>
    /// <returns>The topic.</returns>
    public static string ForEvent(string eventType, string? subject)
    {
        ArgumentNullException.ThrowIfNull(eventType);
        if (string.IsNullOrEmpty(subject))
        {
            return eventType;
        }
        var dot = eventType.IndexOf('.', StringComparison.Ordinal);
        return dot < 0 ? $"{eventType}.{Segment(subject)}" : $"{eventType[..dot]}.{Segment(subject)}{eventType[dot..]}";
    }

    /// <summary>Turns an id into one topic segment: <c>.</c> becomes <c>~</c>, other characters outside the segment alphabet become <c>_</c>, and it is cut to 64 characters.</summary>
    /// <param name="value">An id, for example an agent id.</param>
    /// <returns>A valid segment (<c>_</c> for an empty value).</returns>
    public static string Segment(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Length == 0)
        {
            return "_";
        }
        var chars = value.Length > MaxSegmentLength ? value.AsSpan(0, MaxSegmentLength).ToArray() : value.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            chars[i] = chars[i] == '.' ? '~' : IsSegmentChar(chars[i]) ? chars[i] : '_';
        }
        return new string(chars);
    }

    private static bool IsSegmentChar(char c) => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_' or '-' or ':' or '~' or '@';

    private static bool Validate(string? value, bool allowWildcards, out string? error)
    {
        error = null;
        if (string.IsNullOrEmpty(value))
        {
            error = "must not be empty";
            return false;
        }
        if (value.Length > MaxLength)
        {
            error = $"must be at most {MaxLength} characters";
            return false;
        }
        var segments = value.Split('.');
        if (segments.Length > MaxSegments)
        {
            error = $"must have at most {MaxSegments} segments";
            return false;
        }
        for (var i = 0; i < segments.Length; i++)
        {
            var s = segments[i];
            if (s.Length == 0)
            {
                error = "must not have empty segments (leading, trailing or doubled dots)";
                return false;
            }
            if (s is Star or Tail)
            {
                if (!allowWildcards)
                {
                    error = "a topic must not contain wildcards ('*', '>'); only patterns may";
                    return false;
                }
                if (s == Tail && i != segments.Length - 1)
                {
                    error = "'>' is only allowed as the last segment";
                    return false;
                }
                continue;
            }
            if (s.Length > MaxSegmentLength)
            {
                error = $"segments must be at most {MaxSegmentLength} characters";
                return false;
            }
            foreach (var c in s)
            {
                if (!IsSegmentChar(c))
                {
                    error = c is '*' or '>'
                        ? "wildcards must be a whole segment ('a.*.b', not 'a.b*')"
                        : $"segments may only contain letters, digits and _ - : ~ @ (found '{c}')";
                    return false;
                }
            }
        }
        return true;
    }
}
