using Kai.Hub.Storage;

namespace Kai.Hub.Tests.Storage;

public abstract partial class StoreContractTests
{
    private async Task<(SessionRecord Session, RefreshTokenRecord Refresh)> NewSessionAsync(string userId = "u1", string sessionId = "s1", string hash = "r1")
    {
        var session = new SessionRecord(sessionId, userId, T0, T0.AddDays(30), null);
        var refresh = new RefreshTokenRecord(hash, sessionId, userId, T0, T0.AddDays(30), null);
        await Store.CreateSessionAsync(session, refresh, Ct);
        return (session, refresh);
    }

    private static RefreshTokenRecord Replacement(string hash, string sessionId = "s1") => new(hash, sessionId, "u1", T0.AddMinutes(1), T0.AddDays(30), null);

    [SkippableFact]
    public async Task Auth_a_user_is_created_once_and_the_email_is_unique_regardless_of_case()
    {
        Assert.True(await Store.TryCreateUserAsync(NewUser("u1", "Ann@Example.com"), Ct));
        Assert.False(await Store.TryCreateUserAsync(NewUser("u1", "other@example.com"), Ct));
        Assert.False(await Store.TryCreateUserAsync(NewUser("u2", "ann@example.COM"), Ct));
        Assert.Equal("u1", (await Store.GetUserByEmailAsync("ANN@example.com", Ct))!.UserId);
        Assert.Null(await Store.GetUserAsync("u2", Ct));
        Assert.Equal(1, (await Store.ListUsersAsync(10, 0, Ct)).Total);
    }

    [SkippableFact]
    public async Task Auth_a_username_is_optional_unique_regardless_of_case_and_finds_its_account()
    {
        Assert.True(await Store.TryCreateUserAsync(NewUser("u1", "ann@example.com") with { Username = "Ann.Lovelace" }, Ct));
        Assert.True(await Store.TryCreateUserAsync(NewUser("u2", "bob@example.com"), Ct)); // no name: any number of these
        Assert.True(await Store.TryCreateUserAsync(NewUser("u3", "cy@example.com"), Ct));
        Assert.False(await Store.TryCreateUserAsync(NewUser("u4", "dee@example.com") with { Username = "ann.LOVELACE" }, Ct));
        Assert.Null(await Store.GetUserAsync("u4", Ct));
        var found = await Store.GetUserByUsernameAsync("ANN.lovelace", Ct);
        Assert.Equal("u1", found!.UserId);
        Assert.Equal("Ann.Lovelace", found.Username);
        Assert.Null((await Store.GetUserAsync("u2", Ct))!.Username);
        Assert.Null(await Store.GetUserByUsernameAsync("nobody", Ct));
    }

    [SkippableFact]
    public async Task Auth_role_and_disabled_changes_report_an_unknown_user()
    {
        Assert.True(await Store.TryCreateUserAsync(NewUser("u1"), Ct));
        Assert.True(await Store.SetUserRoleAsync("u1", "admin", Ct));
        Assert.True(await Store.SetUserDisabledAsync("u1", true, Ct));
        var user = await Store.GetUserAsync("u1", Ct);
        Assert.Equal(("admin", true), (user!.Role, user.Disabled));
        Assert.False(await Store.SetUserRoleAsync("nobody", "admin", Ct));
        Assert.False(await Store.SetUserDisabledAsync("nobody", true, Ct));
    }

    [SkippableFact]
    public async Task Auth_a_refresh_token_rotates_once_only()
    {
        await NewSessionAsync();
        Assert.True(await Store.TryRotateRefreshTokenAsync("r1", Replacement("r2"), T0.AddMinutes(1), Ct));
        Assert.False(await Store.TryRotateRefreshTokenAsync("r1", Replacement("r3"), T0.AddMinutes(2), Ct));
        Assert.Null(await Store.GetRefreshTokenAsync("r3", Ct));
        Assert.Equal(T0.AddMinutes(1), (await Store.GetRefreshTokenAsync("r1", Ct))!.UsedAt);
        Assert.True(await Store.TryRotateRefreshTokenAsync("r2", Replacement("r3"), T0.AddMinutes(2), Ct));
    }

    [SkippableFact]
    public async Task Auth_concurrent_rotations_of_one_refresh_token_have_one_winner()
    {
        await NewSessionAsync();
        var second = await OpenSecondAsync();
        var attempts = Enumerable.Range(0, 8).Select(i => Task.Run(() =>
            (i % 2 == 0 ? Store : second).TryRotateRefreshTokenAsync("r1", Replacement("next-" + i), T0.AddMinutes(1), Ct)));
        var results = await Task.WhenAll(attempts);
        Assert.Single(results, r => r);
        var stored = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Store.GetRefreshTokenAsync("next-" + i, Ct)));
        Assert.Single(stored, r => r is not null);
    }

    [SkippableFact]
    public async Task Auth_rotation_is_refused_for_an_expired_token_or_a_revoked_session()
    {
        await NewSessionAsync();
        Assert.False(await Store.TryRotateRefreshTokenAsync("r1", Replacement("r2"), T0.AddDays(31), Ct));
        Assert.True(await Store.RevokeSessionAsync("s1", T0.AddMinutes(1), Ct));
        Assert.False(await Store.TryRotateRefreshTokenAsync("r1", Replacement("r2"), T0.AddMinutes(2), Ct));
        Assert.Null(await Store.GetRefreshTokenAsync("r2", Ct));
        Assert.False(await Store.TryRotateRefreshTokenAsync("unknown", Replacement("r2"), T0.AddMinutes(2), Ct));
    }

    [SkippableFact]
    public async Task Auth_a_session_is_revoked_once_and_revocations_are_listed_until_they_expire()
    {
        await NewSessionAsync();
        Assert.True(await Store.RevokeSessionAsync("s1", T0.AddMinutes(1), Ct));
        Assert.False(await Store.RevokeSessionAsync("s1", T0.AddMinutes(2), Ct));
        Assert.False(await Store.RevokeSessionAsync("unknown", T0, Ct));
        Assert.Equal(T0.AddMinutes(1), (await Store.GetSessionAsync("s1", Ct))!.RevokedAt);
        Assert.Equal(["s1"], await Store.ListRevokedSessionsAsync(T0, Ct));
        Assert.Empty(await Store.ListRevokedSessionsAsync(T0.AddDays(31), Ct));
    }

    [SkippableFact]
    public async Task Auth_revoking_a_users_sessions_returns_only_the_live_ones()
    {
        await NewSessionAsync("u1", "s1", "r1");
        await NewSessionAsync("u1", "s2", "r2");
        await NewSessionAsync("u2", "s3", "r3");
        Assert.True(await Store.RevokeSessionAsync("s2", T0, Ct));
        Assert.Equal(["s1"], await Store.RevokeUserSessionsAsync("u1", T0.AddMinutes(1), Ct));
        Assert.Empty(await Store.RevokeUserSessionsAsync("u1", T0.AddMinutes(2), Ct));
        Assert.Null((await Store.GetSessionAsync("s3", Ct))!.RevokedAt);
    }

    [SkippableFact]
    public async Task Auth_a_recorded_revocation_is_idempotent_and_keeps_the_first_time()
    {
        await Store.RecordRevokedSessionAsync("agent-gen-1", "a1", T0, T0.AddDays(1), Ct);
        await Store.RecordRevokedSessionAsync("agent-gen-1", "a1", T0.AddMinutes(5), T0.AddDays(1), Ct);
        Assert.Equal(T0, (await Store.GetSessionAsync("agent-gen-1", Ct))!.RevokedAt);
        Assert.Contains("agent-gen-1", await Store.ListRevokedSessionsAsync(T0, Ct));
    }

    [SkippableFact]
    public async Task Auth_a_magic_link_is_consumed_once_and_never_after_it_expired()
    {
        await Store.CreateMagicLinkAsync(new MagicLinkRecord("m1", "ann@example.com", "u1", T0, T0.AddMinutes(15), null), Ct);
        await Store.CreateMagicLinkAsync(new MagicLinkRecord("m2", "ann@example.com", "u1", T0, T0.AddMinutes(15), null), Ct);
        var consumed = await Store.TryConsumeMagicLinkAsync("m1", T0.AddMinutes(1), Ct);
        Assert.Equal(("u1", T0.AddMinutes(1)), (consumed!.UserId, consumed.UsedAt));
        Assert.Null(await Store.TryConsumeMagicLinkAsync("m1", T0.AddMinutes(2), Ct));
        Assert.Null(await Store.TryConsumeMagicLinkAsync("m2", T0.AddMinutes(15), Ct));
        Assert.Null(await Store.TryConsumeMagicLinkAsync("unknown", T0, Ct));
    }
}
