using Quartz;

namespace Kai.Hub.Tasks;

/// <summary>
/// Standard cron for recurring schedules, evaluated by Quartz.NET's <see cref="CronExpression"/> in UTC.
/// </summary>
/// <remarks>
/// Accepted: 5 fields (<c>min hour dom month dow</c>, Unix crontab: dow 0-7 with 0 and 7 Sunday, names allowed) read with
/// <see cref="CronFormat.Unix"/>, which rewrites it to Quartz's own form (<c>"30 4 * * 1"</c> → <c>"0 30 4 ? * MON"</c>); or 6 fields with
/// a seconds field first (<c>sec min hour dom month dow</c>): the last five are read the same way, and the seconds field replaces
/// Quartz's leading 0. Quartz's native 6-7 field dialect (dow 1-7 from Sunday, <c>?</c>) is deliberately not accepted as is: the same
/// text means a different day there, which is the mistake this conversion exists to prevent.
/// </remarks>
internal static class CronSchedule
{
    /// <summary>Parses <paramref name="text"/>; returns the expression and its Quartz spelling, or an error message.</summary>
    public static bool TryParse(string? text, out CronExpression? expression, out string quartz, out string? error)
    {
        expression = null;
        quartz = "";
        error = null;
        var fields = (text ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (fields.Length is not (5 or 6))
        {
            error = "must have 5 fields (min hour dom month dow) or 6 with seconds first";
            return false;
        }
        var unix = string.Join(' ', fields.Length == 6 ? fields[1..] : fields);
        if (!CronExpression.TryParse(unix, CronFormat.Unix, out var parsed) || parsed is null)
        {
            error = $"'{text}' is not a valid cron expression";
            return false;
        }
        quartz = parsed.CronExpressionString;
        if (fields.Length == 6)
        {
            var seconds = fields[0];
            if (seconds.Contains('?', StringComparison.Ordinal) || seconds.Contains('L', StringComparison.Ordinal) || seconds.Contains('#', StringComparison.Ordinal))
            {
                error = "the seconds field takes numbers, ranges, lists, steps or *";
                return false;
            }
            var rest = quartz.Split(' ', 2)[1];
            quartz = seconds + " " + rest;
            if (!CronExpression.TryParse(quartz, out parsed) || parsed is null)
            {
                error = $"'{text}' is not a valid cron expression (seconds field)";
                return false;
            }
        }
        expression = parsed.WithTimeZone(TimeZoneInfo.Utc);
        return true;
    }

    /// <summary>Reads a stored Quartz spelling back (UTC).</summary>
    public static CronExpression FromQuartz(string quartz) => CronExpression.Parse(quartz).WithTimeZone(TimeZoneInfo.Utc);
}
