using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Kai.Testing;

namespace Kai.Hub.Tests.Auth;

public sealed class AuthApiTests
{
    [Fact]
    public async Task Register_login_session_refresh_logout_round_trip()
    {
        await using var hub = await TestHub.StartAsync();
        var reg = await hub.Http.PostAsJsonAsync("api/v1/auth/register", new RegisterRequest("Ada@Example.com", "s3cret-password", "Ada", true), KaiJson.Options);
        Assert.Equal(HttpStatusCode.Created, reg.StatusCode);
        var created = await reg.Content.ReadFromJsonAsync<RegisterResponse>(KaiJson.Options);
        Assert.StartsWith("usr_", created!.UserId, StringComparison.Ordinal);
        Assert.False(created.VerificationRequired);

        var login = await hub.Http.PostAsJsonAsync("api/v1/auth/login", new LoginRequest("ada@example.com", "s3cret-password", true), KaiJson.Options);
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        var tokens = (await login.Content.ReadFromJsonAsync<TokenResponse>(KaiJson.Options))!;
        Assert.Equal("bearer", tokens.TokenType);
        Assert.Equal(900, tokens.ExpiresIn);
        Assert.Equal(created.UserId, tokens.UserProfile.UserId);
        Assert.Equal("ada@example.com", tokens.UserProfile.Email);

        using var authed = hub.Client(tokens.AccessToken);
        var session = (await authed.GetFromJsonAsync<SessionInfo>("api/v1/auth/session", KaiJson.Options))!;
        Assert.Equal(created.UserId, session.UserId);
        Assert.Contains("agent.create", session.Permissions);
        Assert.DoesNotContain("user.manage", session.Permissions);

        var refreshed = await hub.Http.PostAsJsonAsync("api/v1/auth/refresh", new RefreshRequest(tokens.RefreshToken), KaiJson.Options);
        Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);
        var second = (await refreshed.Content.ReadFromJsonAsync<TokenResponse>(KaiJson.Options))!;
        Assert.NotEqual(tokens.RefreshToken, second.RefreshToken);

        // The used refresh token is dead from now on. Reused within the grace window (a client racing itself) it is refused
        // without revoking the family; after the window it revokes it (RefreshFamilyTests).
        var reuse = await hub.Http.PostAsJsonAsync("api/v1/auth/refresh", new RefreshRequest(tokens.RefreshToken), KaiJson.Options);
        Assert.Equal(HttpStatusCode.Unauthorized, reuse.StatusCode);
        await AssertError(reuse, "AUTHENTICATION_FAILED");
        var afterReuse = await hub.Http.PostAsJsonAsync("api/v1/auth/refresh", new RefreshRequest(second.RefreshToken), KaiJson.Options);
        Assert.Equal(HttpStatusCode.OK, afterReuse.StatusCode);
    }

    [Fact]
    public async Task Logout_revokes_the_access_token_and_the_refresh_token()
    {
        await using var hub = await TestHub.StartAsync();
        var tokens = await hub.NewUserAsync();
        using var authed = hub.Client(tokens.AccessToken);
        var logout = await authed.PostAsync("api/v1/auth/logout", null);
        Assert.Equal(HttpStatusCode.OK, logout.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await authed.GetAsync("api/v1/auth/session")).StatusCode);
        var refresh = await hub.Http.PostAsJsonAsync("api/v1/auth/refresh", new RefreshRequest(tokens.RefreshToken), KaiJson.Options);
        Assert.Equal(HttpStatusCode.Unauthorized, refresh.StatusCode);
    }

    [Fact]
    public async Task Duplicate_email_gets_409_case_insensitively()
    {
        await using var hub = await TestHub.StartAsync();
        await hub.NewUserAsync("dup@example.com");
        var again = await hub.Http.PostAsJsonAsync("api/v1/auth/register", new RegisterRequest("DUP@example.com", "another-password", "Dup", true), KaiJson.Options);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        await AssertError(again, "CONFLICT");
    }

    [Theory]
    [InlineData("not-an-email", "long-enough-pw", "Name", true, "email")]
    [InlineData("a@example.com", "short", "Name", true, "password")]
    [InlineData("a@example.com", "long-enough-pw", "", true, "display_name")]
    [InlineData("a@example.com", "long-enough-pw", "Name", false, "terms_accepted")]
    public async Task Invalid_registration_names_the_field(string email, string password, string name, bool terms, string field)
    {
        await using var hub = await TestHub.StartAsync();
        var res = await hub.Http.PostAsJsonAsync("api/v1/auth/register", new RegisterRequest(email, password, name, terms), KaiJson.Options);
        Assert.Equal(HttpStatusCode.BadRequest, res.StatusCode);
        var error = await AssertError(res, "VALIDATION_ERROR");
        Assert.True(error.Details.TryGetProperty(field, out _), $"details should name {field}: {error.Details}");
    }

    [Fact]
    public async Task Wrong_password_and_unknown_email_get_the_same_401()
    {
        await using var hub = await TestHub.StartAsync();
        await hub.NewUserAsync("known@example.com");
        var wrong = await hub.Http.PostAsJsonAsync("api/v1/auth/login", new LoginRequest("known@example.com", "wrong-password"), KaiJson.Options);
        var unknown = await hub.Http.PostAsJsonAsync("api/v1/auth/login", new LoginRequest("nobody@example.com", "wrong-password"), KaiJson.Options);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);
        Assert.Equal((await AssertError(wrong, "AUTHENTICATION_FAILED")).Message, (await AssertError(unknown, "AUTHENTICATION_FAILED")).Message);
    }

    [Fact]
    public async Task Malformed_json_body_gets_a_validation_error_envelope()
    {
        await using var hub = await TestHub.StartAsync();
        var res = await hub.Http.PostAsync("api/v1/auth/login", new StringContent("{bad", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, res.StatusCode);
        await AssertError(res, "VALIDATION_ERROR");
    }

    [Fact]
    public async Task Client_credentials_grant_issues_an_agent_token_and_rejects_a_wrong_secret()
    {
        await using var hub = await TestHub.StartAsync();
        var user = await hub.NewUserAsync();
        var agent = await hub.NewAgentAsync(user.AccessToken, "cc-agent");

        var token = await hub.AgentTokenAsync(agent);
        var session = (await hub.Client(token).GetFromJsonAsync<SessionInfo>("api/v1/auth/session", KaiJson.Options))!;
        Assert.Equal("cc-agent", session.UserId);
        Assert.Equal("agent", session.Role);
        Assert.Contains("agent.communicate", session.Permissions);

        var wrong = await hub.Http.PostAsync("api/v1/auth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = "cc-agent", ["client_secret"] = "kas_wrong",
        }));
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        await AssertError(wrong, "AUTHENTICATION_FAILED");

        var basic = new HttpRequestMessage(HttpMethod.Post, "api/v1/auth/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials" }),
        };
        basic.Headers.Authorization = new("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{agent.ClientId}:{agent.ClientSecret}")));
        Assert.Equal(HttpStatusCode.OK, (await hub.Http.SendAsync(basic)).StatusCode);

        var badGrant = await hub.Http.PostAsync("api/v1/auth/token", new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "password" }));
        Assert.Equal(HttpStatusCode.BadRequest, badGrant.StatusCode);
    }

    internal static async Task<ErrorBody> AssertError(HttpResponseMessage response, string code)
    {
        var envelope = await response.Content.ReadFromJsonAsync<ErrorEnvelope>(KaiJson.Options);
        Assert.NotNull(envelope);
        Assert.Equal(code, envelope.Error.Code);
        Assert.False(string.IsNullOrEmpty(envelope.Error.CorrelationId));
        Assert.False(string.IsNullOrEmpty(envelope.Error.Message));
        Assert.Equal(JsonValueKind.Object, envelope.Error.Details.ValueKind);
        Assert.Equal(envelope.Error.CorrelationId, response.Headers.GetValues("X-Correlation-Id").Single());
        return envelope.Error;
    }
}
