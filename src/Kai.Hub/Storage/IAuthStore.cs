namespace Kai.Hub.Storage;

/// <summary>A magic-link token, stored by its SHA-256 hash only.</summary>
public sealed record MagicLinkRecord(string TokenHash, string Email, string UserId, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, DateTimeOffset? UsedAt);

/// <summary>Users, login sessions, refresh tokens, revocations and magic links.</summary>
public interface IAuthStore
{
    /// <summary>Inserts a user. False if the id or the email (case-insensitive) exists.</summary>
    Task<bool> TryCreateUserAsync(UserRecord user, CancellationToken ct);

    /// <summary>The user with this email (case-insensitive), or null.</summary>
    Task<UserRecord?> GetUserByEmailAsync(string email, CancellationToken ct);

    /// <summary>The account whose name is <paramref name="username"/>, compared case-insensitively; null when none has it.</summary>
    Task<UserRecord?> GetUserByUsernameAsync(string username, CancellationToken ct);

    Task<UserRecord?> GetUserAsync(string userId, CancellationToken ct);

    /// <summary>Users, oldest first.</summary>
    Task<(IReadOnlyList<UserRecord> Items, int Total)> ListUsersAsync(int limit, int offset, CancellationToken ct);

    /// <summary>False if the user is unknown.</summary>
    Task<bool> SetUserRoleAsync(string userId, string role, CancellationToken ct);

    /// <summary>False if the user is unknown.</summary>
    Task<bool> SetUserDisabledAsync(string userId, bool disabled, CancellationToken ct);

    /// <summary>Inserts a session and its first refresh token, atomically.</summary>
    Task CreateSessionAsync(SessionRecord session, RefreshTokenRecord refresh, CancellationToken ct);

    Task<SessionRecord?> GetSessionAsync(string sessionId, CancellationToken ct);

    Task<RefreshTokenRecord?> GetRefreshTokenAsync(string tokenHash, CancellationToken ct);

    /// <summary>Marks <paramref name="oldHash"/> used and stores <paramref name="replacement"/>, atomically, only if the old token is unused, unexpired and its session live.</summary>
    Task<bool> TryRotateRefreshTokenAsync(string oldHash, RefreshTokenRecord replacement, DateTimeOffset now, CancellationToken ct);

    /// <summary>Revokes a live session. False if it is unknown or already revoked.</summary>
    Task<bool> RevokeSessionAsync(string sessionId, DateTimeOffset now, CancellationToken ct);

    /// <summary>Revokes every live session of the user and returns their ids.</summary>
    Task<IReadOnlyList<string>> RevokeUserSessionsAsync(string userId, DateTimeOffset now, CancellationToken ct);

    /// <summary>Records a revoked pseudo-session (an agent's credential generation), so the revocation survives a restart.</summary>
    Task RecordRevokedSessionAsync(string sessionId, string userId, DateTimeOffset now, DateTimeOffset expiresAt, CancellationToken ct);

    /// <summary>Ids of revoked sessions that expire after <paramref name="notExpiredBefore"/> (loaded into memory at start).</summary>
    Task<IReadOnlyList<string>> ListRevokedSessionsAsync(DateTimeOffset notExpiredBefore, CancellationToken ct);

    Task CreateMagicLinkAsync(MagicLinkRecord link, CancellationToken ct);

    /// <summary>Marks the link used if it is unused and unexpired, atomically; returns it, or null (unknown, used or expired).</summary>
    Task<MagicLinkRecord?> TryConsumeMagicLinkAsync(string tokenHash, DateTimeOffset now, CancellationToken ct);
}
