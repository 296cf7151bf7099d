using System.Net.Mail;
using Kai.Hub.Errors;
using Kai.Hub.Storage;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Auth;

/// <summary>Accounts, sessions and token exchange. Passwords use ASP.NET Core Identity's <see cref="PasswordHasher{TUser}"/> (PBKDF2-HMAC-SHA512, 100,000 iterations in v3 format).</summary>
internal sealed partial class AuthService(
    IHubStore store, TokenService tokens, SessionRevocations revocations, IOptions<HubOptions> options, TimeProvider time, ILogger<AuthService> logger)
{
    private static readonly PasswordHasher<UserRecord> Hasher = new();
    private readonly AuthOptions _auth = options.Value.Auth;

    public async Task<RegisterResponse> RegisterAsync(RegisterRequest request, CancellationToken ct)
    {
        new Validation()
            .Length(request.Email, "email", 3, 254)
            .Check(request.Email is null || IsEmail(request.Email), "email", "must be a valid email address")
            .Length(request.Password, "password", 8, 128)
            .Length(request.DisplayName?.Trim(), "display_name", 1, 100)
            .Check(request.TermsAccepted, "terms_accepted", "must be true")
            .ThrowIfInvalid();
        var user = await CreateUserAsync(request.Email!, request.Password!, request.DisplayName!.Trim(), Roles.User, ct)
            ?? throw new ApiException(ErrorCodes.Conflict, "An account with this email already exists.");
        return new RegisterResponse(user.UserId, VerificationRequired: false);
    }

    public async Task<UserRecord?> CreateUserAsync(string email, string password, string displayName, string role, CancellationToken ct)
    {
        var user = new UserRecord("usr_" + Guid.CreateVersion7().ToString("N"), email.Trim().ToLowerInvariant(), "", displayName, role, false, time.GetUtcNow());
        user = user with { PasswordHash = Hasher.HashPassword(user, password) };
        return await store.TryCreateUserAsync(user, ct) ? user : null;
    }

    public async Task<TokenResponse> LoginAsync(LoginRequest request, CancellationToken ct)
    {
        new Validation().Length(request.Email, "email", 1, 254).Length(request.Password, "password", 1, 1024).ThrowIfInvalid();
        var user = await store.GetUserByEmailAsync(request.Email.Trim().ToLowerInvariant(), ct);
        // Hash even when the user does not exist, so timing does not reveal which emails have accounts.
        var check = Hasher.VerifyHashedPassword(user ?? DummyUser, user?.PasswordHash ?? DummyHash, request.Password);
        if (user is null || check == PasswordVerificationResult.Failed || user.Disabled)
        {
            Log.LoginFailed(logger, user?.UserId ?? "(unknown)");
            throw new ApiException(ErrorCodes.AuthenticationFailed, "The email or password is wrong.");
        }
        if (check == PasswordVerificationResult.SuccessRehashNeeded)
        {
            // Not persisted yet: a future migration step can rehash on login.
        }
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
        if (old.UsedAt is not null)
        {
            // Reuse of a rotated token means it leaked (or a client raced itself): revoke the whole session
            // so neither copy keeps working (RFC 9700 §4.14.2).
            await RevokeAsync(old.SessionId, ct);
            Log.RefreshReuse(logger, old.SessionId);
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
            throw Invalid();
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
        var agent = string.IsNullOrEmpty(clientId) || clientId.Length > 64 ? null : await store.GetAgentAsync(clientId, ct);
        if (agent is null || string.IsNullOrEmpty(clientSecret) || !TokenService.SecretMatches(clientSecret, agent.SecretHash))
        {
            Log.ClientAuthFailed(logger, clientId ?? "(none)");
            throw new ApiException(ErrorCodes.AuthenticationFailed, "The client id or secret is wrong.",
                new Dictionary<string, string> { ["oauth_error"] = "invalid_client" });
        }
        var token = tokens.IssueAccessToken(agent.AgentId, Roles.Agent, "agt_" + TokenService.NewId(12), agent.OwnerId);
        return new ClientTokenResponse(token, "bearer", (int)tokens.AccessLifetime.TotalSeconds, agent.AgentId);
    }

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
    }
}
