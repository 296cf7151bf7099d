using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Kai.Protocol;

namespace Kai.Hub.Tests.Security;

/// <summary>OWASP API3 (broken object property level authorization) and API4 input limits: mass assignment, page caps, sizes.</summary>
public sealed class InputLimitTests
{
    [Fact]
    public async Task Clients_cannot_set_role_owner_or_status()
    {
        await using var kit = await SecurityKit.StartAsync();
        var reg = await kit.Hub.Http.PostAsync("api/v1/auth/register", new StringContent(
            """{"email":"mass@example.com","password":"mass-assign-pw","display_name":"M","terms_accepted":true,"role":"admin","disabled":false,"user_id":"usr_root"}""",
            Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, reg.StatusCode);
        var user = await kit.LoginAsync("mass@example.com", "mass-assign-pw");
        Assert.Equal("user", user.UserProfile.Role);
        Assert.NotEqual("usr_root", user.UserProfile.UserId);

        var victim = await kit.Hub.NewUserAsync();
        using var client = kit.Hub.Client(user.AccessToken);
        foreach (var (url, body) in new[]
        {
            ("api/v1/agents/register", $$"""{"id":"mass-1","type":"t","owner_id":"{{victim.UserProfile.UserId}}","status":"active","client_secret":"kas_mine"}"""),
            ("api/v1/agents", $$"""{"name":"mass-2","type":"t","owner_id":"{{victim.UserProfile.UserId}}","status":"active"}"""),
        })
        {
            var res = await client.PostAsync(url, new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Created, res.StatusCode);
            var created = await res.Content.ReadFromJsonAsync<JsonElement>(KaiJson.Options);
            Assert.NotEqual("kas_mine", created.GetProperty("client_secret").GetString());
            var view = await client.GetFromJsonAsync<JsonElement>($"api/v1/agents/{created.GetProperty("agent_id").GetString()}", KaiJson.Options);
            Assert.Equal(user.UserProfile.UserId, view.GetProperty("owner_id").GetString());
            Assert.Equal("offline", view.GetProperty("status").GetString());
        }
        // Nothing landed in the victim's tenant.
        Assert.Equal(0, (await kit.Hub.Client(victim.AccessToken).GetFromJsonAsync<JsonElement>("api/v1/agents", KaiJson.Options)).GetProperty("total").GetInt32());
    }

    [Theory]
    [InlineData("api/v1/agents")]
    [InlineData("api/v1/tasks")]
    [InlineData("api/v1/workflows")]
    public async Task Page_sizes_are_capped(string list)
    {
        await using var kit = await SecurityKit.StartAsync();
        var user = await kit.Hub.NewUserAsync();
        using var client = kit.Hub.Client(user.AccessToken);
        await SecurityKit.ErrorAsync(await client.GetAsync(list + "?limit=101"), HttpStatusCode.BadRequest, ErrorCodes.ValidationError);
        await SecurityKit.ErrorAsync(await client.GetAsync(list + "?offset=-1"), HttpStatusCode.BadRequest, ErrorCodes.ValidationError);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(list + "?limit=100")).StatusCode);
    }

    [Theory]
    [InlineData("grant_type=client_credentials&client_id=a%00b&client_secret=x")]
    [InlineData("grant_type=client_credentials&client_secret=x&")]
    public async Task A_malformed_form_body_is_400_not_500(string form)
    {
        await using var kit = await SecurityKit.StartAsync();
        // A NUL in a value, or a key past the framework's 2,048-byte form key limit (found by bench/fuzz.sh).
        var body = form.EndsWith('&') ? form + new string('k', 3000) + "=v" : form;
        var res = await kit.Hub.Http.PostAsync("api/v1/auth/token", new StringContent(body, Encoding.UTF8, "application/x-www-form-urlencoded"));
        var error = await SecurityKit.ErrorAsync(res, HttpStatusCode.BadRequest, ErrorCodes.ValidationError);
        Assert.Contains("form body is malformed", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_multipart_form_that_ends_before_its_boundary_is_400_not_500()
    {
        await using var kit = await SecurityKit.StartAsync();
        // The framework's multipart parser throws IOException("Unexpected end of Stream") for this (found by bench/fuzz.sh).
        var content = new ByteArrayContent(Encoding.ASCII.GetBytes("--x\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_cre"));
        content.Headers.TryAddWithoutValidation("Content-Type", "multipart/form-data; boundary=x");
        // The chat login takes any form encoding, multipart too; it answers in the chat API's own error shape, with 422 for a
        // validation error (docs/protocol.md, the chat API).
        var res = await kit.Hub.Http.PostAsync("api/auth/login", content);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, res.StatusCode);
        var body = await res.Content.ReadAsStringAsync();
        Assert.Contains(ErrorCodes.ValidationError, body, StringComparison.Ordinal);
        Assert.Contains("form body is malformed", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_with_invalid_UTF8_in_a_property_name_is_400_not_500()
    {
        await using var kit = await SecurityKit.StartAsync();
        var user = await kit.Hub.NewUserAsync();
        using var client = kit.Hub.Client(user.AccessToken);
        // {"\xC3(":1}: parses as JSON, but the name is not UTF-8; the invocation route reads its body as a raw JsonElement (bench/fuzz.sh).
        var content = new ByteArrayContent([0x7B, 0x22, 0xC3, 0x28, 0x22, 0x3A, 0x31, 0x7D]);
        content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        var res = await client.PostAsync("api/v1/invocations", content);
        var error = await SecurityKit.ErrorAsync(res, HttpStatusCode.BadRequest, ErrorCodes.ValidationError);
        Assert.Contains("not valid UTF-8", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_with_an_escaped_lone_surrogate_is_400_not_500()
    {
        await using var kit = await SecurityKit.StartAsync();
        var user = await kit.Hub.NewUserAsync();
        using var client = kit.Hub.Client(user.AccessToken);
        // "\ud800" (no low surrogate) and "\udc00" (a low one alone) parse as JSON; reading the string throws (bench/fuzz.sh: POST /api/v1/rpc, 500).
        foreach (var (path, body) in new[]
        {
            ("api/v1/rpc", """{"id":"\ud800","origin":"a","destination":"b","timestamp":1,"method":"m","params":{}}"""),
            ("api/v1/rpc", """{"id":"r1","origin":"a","destination":"b","timestamp":1,"method":"x\udc00","params":{}}"""),
            ("api/v1/invocations", """{"type":"AgentInvocation","version":"1.0","id":"\ud800x","sender":"s","target":"t","intent":"i","payload":{"input":1}}"""),
        })
        {
            var res = await client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.True(res.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.UnprocessableEntity, $"{path} {body}: {(int)res.StatusCode}");
            var text = await res.Content.ReadAsStringAsync();
            Assert.Contains(ErrorCodes.ValidationError, text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Oversized_bodies_and_strings_are_refused()
    {
        await using var kit = await SecurityKit.StartAsync();
        var user = await kit.Hub.NewUserAsync();
        using var client = kit.Hub.Client(user.AccessToken);
        var huge = new string('x', 1024 * 1024 + 1);
        var res = await client.PostAsync("api/v1/agents", new StringContent($$"""{"name":"{{huge}}","type":"t"}""", Encoding.UTF8, "application/json"));
        await SecurityKit.ErrorAsync(res, HttpStatusCode.RequestEntityTooLarge, ErrorCodes.PayloadTooLarge);
        var longName = await client.PostAsJsonAsync("api/v1/agents", new { name = new string('n', 101), type = "t" }, KaiJson.Options);
        await SecurityKit.ErrorAsync(longName, HttpStatusCode.BadRequest, ErrorCodes.ValidationError);
        var manyCaps = await client.PostAsJsonAsync("api/v1/agents/register", new { type = "t", capabilities = Enumerable.Range(0, 65).Select(i => $"c{i}") }, KaiJson.Options);
        await SecurityKit.ErrorAsync(manyCaps, HttpStatusCode.BadRequest, ErrorCodes.ValidationError);
        // The auth routes take small bodies only (16 KiB).
        var bigLogin = await kit.Hub.Http.PostAsync("api/v1/auth/login", new StringContent($$"""{"email":"a@b.co","password":"{{new string('p', 20_000)}}"}""", Encoding.UTF8, "application/json"));
        await SecurityKit.ErrorAsync(bigLogin, HttpStatusCode.RequestEntityTooLarge, ErrorCodes.PayloadTooLarge);
        var longToken = await kit.Hub.Client(new string('a', 9000)).GetAsync("api/v1/auth/session");
        Assert.Equal(HttpStatusCode.Unauthorized, longToken.StatusCode);
    }

    [Fact]
    public async Task Ssrf_only_http_health_check_urls_are_stored_and_never_other_schemes()
    {
        await using var kit = await SecurityKit.StartAsync();
        var user = await kit.Hub.NewUserAsync();
        using var client = kit.Hub.Client(user.AccessToken);
        foreach (var url in new[] { "file:///etc/passwd", "gopher://127.0.0.1:25/", "ftp://example.com/x", "//no-scheme", "http//broken" })
        {
            var res = await client.PostAsJsonAsync("api/v1/agents/register", new { type = "t", health_check_url = url }, KaiJson.Options);
            var error = await SecurityKit.ErrorAsync(res, HttpStatusCode.BadRequest, ErrorCodes.ValidationError);
            Assert.True(error.GetProperty("details").TryGetProperty("health_check_url", out _));
        }
    }
}
