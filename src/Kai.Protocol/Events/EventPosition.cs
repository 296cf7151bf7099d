using System.Globalization;

namespace Kai.Protocol.Events;

/// <summary>
/// A position in the hub's event stream: an offset within an epoch (Centrifugo's model). Offsets grow by one
/// with every event the hub publishes (across all topics) and restart in a new epoch when the hub restarts,
/// because history is kept in memory. On the wire a position is the event id <c>"{epoch}-{offset}"</c>, for
/// example <c>"3f9a1c20b7d4-42"</c>, or the object <c>{"epoch": "3f9a1c20b7d4", "offset": 42}</c>.
/// </summary>
/// <param name="Epoch">The epoch: 12 lowercase hex characters, random per hub start.</param>
/// <param name="Offset">The offset, 1 for the first event of an epoch; 0 means "before any event".</param>
public sealed record EventPosition(string Epoch, long Offset)
{
    /// <summary>The event id form, <c>"{epoch}-{offset}"</c>.</summary>
    /// <returns>The id.</returns>
    public override string ToString() => $"{Epoch}-{Offset.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Parses an event id <c>"{epoch}-{offset}"</c>.</summary>
    /// <param name="id">The id, as received in an <c>event</c> frame, an SSE <c>id:</c> line or a polling cursor.</param>
    /// <param name="position">The position, when the id is well formed.</param>
    /// <returns>Whether <paramref name="id"/> is well formed (an epoch of 1 to 64 letters or digits, a dash, and an offset of 0 or more).</returns>
    public static bool TryParse(string? id, out EventPosition? position)
    {
        position = null;
        if (string.IsNullOrEmpty(id) || id.Length > 96)
        {
            return false;
        }
        var dash = id.LastIndexOf('-');
        if (dash <= 0 || dash > 64 || !id.AsSpan(0, dash).ContainsOnlyLettersOrDigits()
            || !long.TryParse(id.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
        {
            return false;
        }
        position = new EventPosition(id[..dash], offset);
        return true;
    }
}

internal static class SpanExtensions
{
    public static bool ContainsOnlyLettersOrDigits(this ReadOnlySpan<char> s)
    {
        foreach (var c in s)
        {
            if (!char.IsAsciiLetterOrDigit(c))
            {
                return false;
            }
        }
        return true;
    }
}
