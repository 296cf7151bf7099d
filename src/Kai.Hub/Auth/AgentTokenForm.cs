using System.ComponentModel;

namespace Kai.Hub.Auth;

/// <summary>
/// The form body of <c>POST /api/v1/auth/token</c> (RFC 6749 §4.4.2), as the API description shows it. The handler reads
/// the form itself; the client id and secret may come in an <c>Authorization: Basic</c> header instead (§2.3.1).
/// </summary>
/// <param name="GrantType">Must be <c>client_credentials</c>.</param>
/// <param name="ClientId">The agent's client id (its agent id).</param>
/// <param name="ClientSecret">The agent's client secret (<c>kas_…</c>), shown once at creation or rotation.</param>
internal sealed record AgentTokenForm(
    [property: Description("Must be client_credentials.")] string GrantType,
    [property: Description("The agent's client id (its agent id); or use HTTP Basic.")] string? ClientId,
    [property: Description("The agent's client secret (kas_...); or use HTTP Basic.")] string? ClientSecret);
