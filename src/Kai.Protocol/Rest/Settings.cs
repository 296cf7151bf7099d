using System.Text.Json;

namespace Kai.Protocol.Rest;

/// <summary>
/// One setting changed at run time (seed 000's <c>/api/v1/config</c> router), as <c>GET /api/v1/config</c> lists it.
/// </summary>
/// <param name="Key">The configuration key, as in <c>appsettings.json</c> and docs/operations.md, for example <c>Kai:Logs:MaxAge</c>.</param>
/// <param name="Value">The value as configuration text (numbers invariant, durations <c>d.hh:mm:ss</c>).</param>
/// <param name="UpdatedAt">When it was set (UTC).</param>
/// <param name="UpdatedBy">The user id of the admin who set it.</param>
public sealed record ConfigOverride(string Key, string Value, DateTimeOffset UpdatedAt, string UpdatedBy);

/// <summary>One group of settings that may change at run time, with its effective values.</summary>
/// <param name="Section">The group's name in <c>/api/v1/config/{section}</c>: <c>rate_limits</c>, <c>routing</c>, <c>tasks</c>, <c>commands</c>, <c>events</c>, <c>logs</c>.</param>
/// <param name="Path">Its configuration section, for example <c>Kai:Security:RateLimits</c>.</param>
/// <param name="Values">The effective values: snake_case names; durations are strings such as <c>"00:01:00"</c>.</param>
/// <param name="Overrides">The runtime overrides inside this group (the other values come from files, environment or defaults).</param>
public sealed record ConfigSection(string Section, string Path, JsonElement Values, IReadOnlyList<ConfigOverride> Overrides);

/// <summary>Answer of <c>GET /api/v1/config</c>: every group that may change at run time.</summary>
/// <param name="Sections">The groups, by name.</param>
/// <param name="Revision">Grows with every change (0 before the first); every node applies the newest within one housekeeping sweep.</param>
public sealed record ConfigResponse(IReadOnlyList<ConfigSection> Sections, long Revision);
