using System.Net.Mail;
using Kai.Hub.Errors;
using Kai.Hub.Security;
using Kai.Hub.Storage;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Auth;

/// <summary>Accounts, sessions and token exchange. Passwords use ASP.NET Core Identity's <see cref="PasswordHasher{TUser}"/> (PBKDF2-HMAC-SHA512, 100,000 iterations in v3 format).</summary>
internal sealed partial class AuthService(
    IAuthStore store, IAgentStore agentStore, TokenService tokens, SessionRevocations revocations, IOptions<HubOptions> options,
    IOptions<SecurityOptions> security,
    LoginThrottle throttle, AuditLog audit, TimeProvider time, ILogger<AuthService> logger)
{
    private static readonly PasswordHasher<UserRecord> Hasher = new();
    private readonly AuthOptions _auth = options.Value.Auth;
    private readonly SecurityOptions _security = security.Value;

    public async Task<RegisterResponse> RegisterAsync(RegisterRequest request, CancellationToken ct)
    {
        var v = new Validation()
            .Length(request.Email, "email", 3, 254)
            .Check(request.Email is null || IsEmail(request.Email), "email", "must be a valid email address")
            .Length(request.DisplayName?.Trim(), "display_name", 1, 100)
            .Check(request.TermsAccepted, "terms_accepted", "must be true")
            .Check(request.Username is null || UsernamePattern().IsMatch(request.Username), "username",
                "must be 3 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit");
        PasswordPolicy.Check(v, request.Password, request.Email).ThrowIfInvalid();
        var user = await CreateUserAsync(request.Email!, request.Password!, request.DisplayName!.Trim(), Roles.User, ct, request.Username);
        if (user is null)
        {
            // The insert refused a duplicate: the email's or the name's (both unique).
            throw request.Username is not null && await store.GetUserByUsernameAsync(request.Username, ct) is not null
                ? new ApiException(ErrorCodes.Conflict, "An account with this username already exists.", new Dictionary<string, string> { ["field"] = "username" })
                : new ApiException(ErrorCodes.Conflict, "An account with this email already exists.");
        }
        return new RegisterResponse(user.UserId, VerificationRequired: false);
    }

    /// <summary>An account name: 3 to 64 of <c>[A-Za-z0-9._-]</c>, starting with a letter or digit (never an email: no <c>@</c>).</summary>
    [System.Text.RegularExpressions.GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$")]
    private static partial System.Text.RegularExpressions.Regex UsernamePattern();

    /// <summary>
    /// The email to log in with for a login name that is an email or an account name (seed 003's <c>username</c>). An unknown
    /// name comes back unchanged, so it fails (and is throttled) exactly as an unknown email does.
    /// </summary>
    public async Task<string> LoginEmailAsync(string username, CancellationToken ct) =>
        username.Contains('@', StringComparison.Ordinal) || !UsernamePattern().IsMatch(username.Trim())
            ? username
            : (await store.GetUserByUsernameAsync(username.Trim(), ct))?.Email ?? username;

    public async Task<UserRecord?> CreateUserAsync(string email, string password, string displayName, string role, CancellationToken ct, string? username = null)
    {
        var user = new UserRecord("usr_" + Guid.CreateVersion7().ToString("N"), email.Trim().ToLowerInvariant(), "", displayName, role, false, time.GetUtcNow(), username);
        user = user with { PasswordHash = Hasher.HashPassword(user, password) };
        return await store.TryCreateUserAsync(user, ct) ? user : null;
    }

    public async Task<TokenResponse> LoginAsync(LoginRequest request, string? ip, CancellationToken ct)
    {
        new Validation().Length(request.Email, "email", 1, 254).Length(request.Password, "password", 1, 1024).ThrowIfInvalid();
        var email = request.Email.Trim().ToLowerInvariant();
        if (throttle.LockedFor(email, ip) is { } wait)
        {
            // Same shape for every email, existing or not: the count is kept per typed address.
            await audit.WriteAsync(null, null, AuditActions.LoginLockedOut, email, AuditOutcomes.Denied, ip, new { retry_after = (int)Math.Ceiling(wait.TotalSeconds) });
            throw new LockedOutException(wait);
        }
        var user = await store.GetUserByEmailAsync(email, ct);
        // Hash even when the user does not exist, so timing does not reveal which emails have accounts.
        var check = Hasher.VerifyHashedPassword(user ?? DummyUser, user?.PasswordHash ?? DummyHash, request.Password);
        if (user is null || check == PasswordVerificationResult.Failed || user.Disabled)
        {
            throttle.Failed(email, ip);
            Log.LoginFailed(logger, user?.UserId ?? "(unknown)");
            await audit.WriteAsync(user?.UserId, user?.Role, AuditActions.LoginFailed, email, AuditOutcomes.Failure, ip,
                new { reason = user is null ? "unknown_account" : user.Disabled ? "disabled" : "bad_password" });
            throw new ApiException(ErrorCodes.AuthenticationFailed, "The email or password is wrong.");
        }
        throttle.Succeeded(email);
        if (check == PasswordVerificationResult.SuccessRehashNeeded)
        {
            // Not persisted yet: a future migration step can rehash on login.
        }
        await audit.WriteAsync(user.UserId, user.Role, AuditActions.LoginSucceeded, user.UserId, AuditOutcomes.Success, ip, null);
        return await StartSessionAsync(user, ct);
    }

    /// <summary>Opens a session (a refresh-token family) for an authenticated user.</summary>
    public async Task<TokenResponse> StartSessionAsync(UserRecord user, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var sessionId = "ses_" + TokenService.NewId(16);
        var refresh = TokenService.NewId(32);
        await store.CreateSessionAsync(
            new SessionRecord(sessionId, user.UserId, now, now + _auth.RefreshTokenLifetime, null),
            new RefreshTokenRecord(TokenService.HashSecret(refresh), sessionId, user.UserId, now, now + _auth.RefreshTokenLifetime, null), ct);
        return Tokens(user, sessionId, refresh);
    }

    public async Task<TokenResponse> RefreshAsync(RefreshRequest request, CancellationToken ct)
    {
        new Validation().Length(request.RefreshToken, "refresh_token", 1, 512).ThrowIfInvalid();
        var hash = TokenService.HashSecret(request.RefreshToken);
        var old = await store.GetRefreshTokenAsync(hash, ct);
        var now = time.GetUtcNow();
        if (old is null)
        {
            throw Invalid();
        }
        if (old.UsedAt is { } usedAt)
        {
            if (now - usedAt <= _security.RefreshReuseGrace)
            {
                // A second use right after the rotation is a client racing itself (two tabs, a retried request whose answer was
                // lost): refuse it, keep the family. The winner's new token goes on working.
                Log.RefreshRace(logger, old.SessionId);
                throw new ApiException(ErrorCodes.AuthenticationFailed, "The refresh token was just rotated by a concurrent request; use the newer one.",
                    new Dictionary<string, string> { ["reason"] = "refresh_token_rotated" });
            }
            // Reuse after the grace window means the token leaked: revoke the whole family (the session) so neither copy
            // keeps working (RFC 9700 §4.14.2).
            await RevokeAsync(old.SessionId, ct);
            Log.RefreshReuse(logger, old.SessionId);
            await audit.WriteAsync(old.UserId, null, AuditActions.RefreshReuse, old.SessionId, AuditOutcomes.Denied, null, new { session_id = old.SessionId });
            throw Invalid();
        }
        var user = await store.GetUserAsync(old.UserId, ct);
        if (user is null || user.Disabled)
        {
            throw Invalid();
        }
        var refresh = TokenService.NewId(32);
        var replacement = new RefreshTokenRecord(TokenService.HashSecret(refresh), old.SessionId, old.UserId, now, old.ExpiresAt, null);
        if (!await store.TryRotateRefreshTokenAsync(hash, replacement, now, ct))
        {
            // Lost the race to a concurrent rotation of the same token (both read it unused): the same answer as within the grace window.
            throw new ApiException(ErrorCodes.AuthenticationFailed, "The refresh token was just rotated by a concurrent request; use the newer one.",
                new Dictionary<string, string> { ["reason"] = "refresh_token_rotated" });
        }
        return Tokens(user, old.SessionId, refresh);

        static ApiException Invalid() => new(ErrorCodes.AuthenticationFailed, "The refresh token is invalid, expired or already used.");
    }

    public async Task RevokeAsync(string sessionId, CancellationToken ct)
    {
        revocations.Revoke(sessionId);
        await store.RevokeSessionAsync(sessionId, time.GetUtcNow(), ct);
    }

    public async Task<ClientTokenResponse> ClientCredentialsAsync(string? grantType, string? clientId, string? clientSecret, CancellationToken ct)
    {
        if (grantType != "client_credentials")
        {
            throw new ApiException(ErrorCodes.ValidationError, "grant_type must be client_credentials (RFC 6749 §4.4).",
                new Dictionary<string, string> { ["oauth_error"] = "unsupported_grant_type" });
        }
        var agent = string.IsNullOrEmpty(clientId) || clientId.Length > 64 ? null : await agentStore.GetAgentAsync(clientId, ct);
        if (agent is null || string.IsNullOrEmpty(clientSecret) || !TokenService.SecretMatches(clientSecret, agent.SecretHash))
        {
            Log.ClientAuthFailed(logger, clientId ?? "(none)");
            await audit.WriteAsync(null, null, AuditActions.ClientAuthFailed, clientId is { Length: <= 64 } ? clientId : null, AuditOutcomes.Failure, null, null);
            throw new ApiException(ErrorCodes.AuthenticationFailed, "The client id or secret is wrong.",
                new Dictionary<string, string> { ["oauth_error"] = "invalid_client" });
        }
        var owner = await store.GetUserAsync(agent.OwnerId, ct);
        if (owner is { Disabled: true })
        {
            Log.ClientAuthFailed(logger, agent.AgentId);
            throw new ApiException(ErrorCodes.AuthenticationFailed, "The client id or secret is wrong.",
                new Dictionary<string, string> { ["oauth_error"] = "invalid_client" });
        }
        var token = tokens.IssueAccessToken(agent.AgentId, Roles.Agent, AgentSessionId(agent.SecretHash), agent.OwnerId);
        return new ClientTokenResponse(token, "bearer", (int)tokens.AccessLifetime.TotalSeconds, agent.AgentId);
    }

    /// <summary>The session id of every access token issued for one client secret: rotating the secret revokes it, killing those tokens.</summary>
    public static string AgentSessionId(string secretHash) => "agt_" + secretHash[..24];

    public async Task EnsureBootstrapAdminAsync(CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(_auth.BootstrapAdminEmail) || string.IsNullOrEmpty(_auth.BootstrapAdminPassword))
        {
            return;
        }
        if (await store.GetUserByEmailAsync(_auth.BootstrapAdminEmail.Trim().ToLowerInvariant(), ct) is null)
        {
            await CreateUserAsync(_auth.BootstrapAdminEmail, _auth.BootstrapAdminPassword, "Administrator", Roles.Admin, ct);
        }
    }

    private TokenResponse Tokens(UserRecord user, string sessionId, string refresh) => new(
        tokens.IssueAccessToken(user.UserId, user.Role, sessionId, user.UserId), refresh, "bearer",
        (int)tokens.AccessLifetime.TotalSeconds, Profile(user));

    public static UserProfile Profile(UserRecord u) => new(u.UserId, u.Email, u.DisplayName, u.Role, u.CreatedAt);

    private static bool IsEmail(string email) =>
        MailAddress.TryCreate(email.Trim(), out var address) && address.Address == email.Trim() && email.Contains('.', StringComparison.Ordinal);

    private static readonly UserRecord DummyUser = new("", "", "", "", "", false, default);
    private static readonly string DummyHash = Hasher.HashPassword(DummyUser, "not-a-real-password");

    private static partial class Log
    {
        [LoggerMessage(100, LogLevel.Warning, "Login failed for {UserId}")]
        public static partial void LoginFailed(ILogger logger, string userId);

        [LoggerMessage(101, LogLevel.Warning, "Refresh token reuse detected; session {SessionId} revoked")]
        public static partial void RefreshReuse(ILogger logger, string sessionId);

        [LoggerMessage(102, LogLevel.Warning, "Client credentials rejected for {ClientId}")]
        public static partial void ClientAuthFailed(ILogger logger, string clientId);

        [LoggerMessage(103, LogLevel.Information, "Concurrent refresh of one token in session {SessionId}; the later request was refused, the family kept")]
        public static partial void RefreshRace(ILogger logger, string sessionId);
    }
}

/// <summary>A login refused by the back-off; answered 429 with <c>Retry-After</c>.</summary>
internal sealed class LockedOutException(TimeSpan wait) : Exception("Too many failed logins.")
{
    public TimeSpan Wait { get; } = wait;
}
