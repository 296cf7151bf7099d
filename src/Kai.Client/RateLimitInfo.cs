using System.Globalization;

namespace Kai.Client;

/// <summary>
/// The hub's <c>X-RateLimit-*</c> headers of one answer (docs/protocol.md "Rate limits"): the narrowest limit the request passed.
/// </summary>
/// <param name="Limit">Requests allowed per window (<c>X-RateLimit-Limit</c>).</param>
/// <param name="Remaining">Requests left in the current window (<c>X-RateLimit-Remaining</c>).</param>
/// <param name="Reset">When the window resets (<c>X-RateLimit-Reset</c>, sent as Unix seconds).</param>
public sealed record RateLimitInfo(int Limit, int Remaining, DateTimeOffset Reset)
{
    /// <summary>Reads the three headers; null when any is missing or not a number (an answer from a proxy, say).</summary>
    /// <param name="response">The HTTP answer.</param>
    /// <returns>The values, or null.</returns>
    public static RateLimitInfo? From(HttpResponseMessage response)
    {
        ArgumentNullException.ThrowIfNull(response);
        return Read(response, "X-RateLimit-Limit") is { } limit
            && Read(response, "X-RateLimit-Remaining") is { } remaining
            && Read(response, "X-RateLimit-Reset") is { } reset
            ? new RateLimitInfo((int)limit, (int)remaining, DateTimeOffset.FromUnixTimeSeconds(reset))
            : null;
    }

    private static long? Read(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values)
        && long.TryParse(values.FirstOrDefault(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : null;
}
