namespace Kai.Protocol.Rest;

/// <summary><c>POST /api/v1/auth/register</c> body (seed 000 "Authentication Routes").</summary>
/// <param name="Email">A valid email address, at most 254 characters; unique, compared case-insensitively.</param>
/// <param name="Password">8 to 128 characters.</param>
/// <param name="DisplayName">1 to 100 characters.</param>
/// <param name="TermsAccepted">Must be <see langword="true"/>.</param>
/// <param name="Username">
/// Optional account name, 3 to 64 characters of letters, digits, <c>.</c>, <c>_</c> and <c>-</c>, starting with a letter or digit
/// (so never an email); unique, compared case-insensitively (409 <c>CONFLICT</c> when taken). The AgentConnect login
/// (<c>POST /api/auth/login</c>, seed 003) takes it as <c>username</c> beside the email.
/// </param>
public sealed record RegisterRequest(string Email, string Password, string DisplayName, bool TermsAccepted, string? Username = null);

/// <summary><c>POST /api/v1/auth/register</c> 201 response. A duplicate email gets 409 <c>CONFLICT</c>.</summary>
/// <param name="UserId">The new user's id.</param>
/// <param name="VerificationRequired">Whether the email must be verified before login; <see langword="false"/> in this version.</param>
public sealed record RegisterResponse(string UserId, bool VerificationRequired);

/// <summary><c>POST /api/v1/auth/login</c> body.</summary>
/// <param name="Email">The account email.</param>
/// <param name="Password">The password.</param>
/// <param name="RememberMe">Accepted for seed compatibility; refresh lifetime is the configured one either way.</param>
public sealed record LoginRequest(string Email, string Password, bool? RememberMe = null);

/// <summary><c>POST /api/v1/auth/refresh</c> body. The refresh token is single-use: it is rotated on every call.</summary>
/// <param name="RefreshToken">The refresh token from the last login or refresh.</param>
public sealed record RefreshRequest(string RefreshToken);

/// <summary>The public profile of a user.</summary>
/// <param name="UserId">The user id.</param>
/// <param name="Email">The email.</param>
/// <param name="DisplayName">The display name.</param>
/// <param name="Role"><c>user</c>, <c>developer</c> or <c>admin</c>.</param>
/// <param name="CreatedAt">Creation time, ISO 8601 UTC.</param>
public sealed record UserProfile(string UserId, string Email, string DisplayName, string Role, DateTimeOffset CreatedAt);

/// <summary>Response of login and refresh.</summary>
/// <param name="AccessToken">An RS256 JWT (RFC 7519) with header <c>typ: at+jwt</c> and a <c>kid</c>; send it as <c>Authorization: Bearer</c>.</param>
/// <param name="RefreshToken">An opaque single-use refresh token.</param>
/// <param name="TokenType">Always <c>bearer</c>.</param>
/// <param name="ExpiresIn">Access token lifetime in seconds (900 by default).</param>
/// <param name="UserProfile">The user.</param>
public sealed record TokenResponse(string AccessToken, string RefreshToken, string TokenType, int ExpiresIn, UserProfile UserProfile);

/// <summary><c>POST /api/v1/auth/token</c> response for the OAuth 2.0 <c>client_credentials</c> grant (RFC 6749 §4.4.3).</summary>
/// <param name="AccessToken">An RS256 JWT with role <c>agent</c> and the agent id as subject.</param>
/// <param name="TokenType">Always <c>bearer</c>.</param>
/// <param name="ExpiresIn">Lifetime in seconds.</param>
/// <param name="AgentId">The agent the token speaks for.</param>
public sealed record ClientTokenResponse(string AccessToken, string TokenType, int ExpiresIn, string AgentId);

/// <summary><c>POST /api/v1/auth/logout</c> response.</summary>
/// <param name="Success">Whether the session was revoked.</param>
public sealed record LogoutResponse(bool Success);

/// <summary><c>GET /api/v1/auth/session</c> response (seed 000).</summary>
/// <param name="UserId">The user id (the agent id for an agent token).</param>
/// <param name="SessionId">The session the token belongs to.</param>
/// <param name="ExpiresAt">When the access token expires, ISO 8601 UTC.</param>
/// <param name="Permissions">The permissions of the principal's role (seed 000 "Role-Based Access Control").</param>
/// <param name="Role">The role.</param>
public sealed record SessionInfo(string UserId, string SessionId, DateTimeOffset ExpiresAt, IReadOnlyList<string> Permissions, string Role);
