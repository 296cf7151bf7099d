using System.Text.Json;
using System.Text.Json.Nodes;
using Kai.Testing;

namespace Kai.Hub.Tests.ApiDocs;

/// <summary>The live <c>/openapi.json</c>: complete enough for a typed client, and clean under a real linter.</summary>
public sealed class OpenApiDocumentTests
{
    private static readonly string[] Methods = ["get", "put", "post", "delete", "patch", "head", "options"];

    private static async Task<JsonObject> FetchAsync(TestHub hub) =>
        JsonNode.Parse(await hub.Http.GetStringAsync("openapi.json"))!.AsObject();

    private static IEnumerable<(string Path, string Method, JsonObject Op)> Operations(JsonObject doc) =>
        from path in doc["paths"]!.AsObject()
        from method in path.Value!.AsObject()
        where Methods.Contains(method.Key)
        select (path.Key, method.Key, method.Value!.AsObject());

    [Fact]
    public async Task Every_operation_has_an_operation_id_a_summary_tags_security_and_error_responses()
    {
        await using var hub = await TestHub.StartAsync();
        var doc = await FetchAsync(hub);
        var ops = Operations(doc).ToList();
        Assert.True(ops.Count >= 40, $"only {ops.Count} operations");
        var schemes = doc["components"]!["securitySchemes"]!.AsObject();
        var responses = doc["components"]!["responses"]!.AsObject();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (path, method, op) in ops)
        {
            var where = $"{method.ToUpperInvariant()} {path}";
            var id = op["operationId"]?.GetValue<string>();
            Assert.False(string.IsNullOrWhiteSpace(id), $"{where} has no operationId");
            Assert.True(ids.Add(id!), $"{where}: operationId {id} is used twice");
            Assert.False(string.IsNullOrWhiteSpace(op["summary"]?.GetValue<string>()), $"{where} has no summary");
            Assert.NotEmpty(op["tags"]?.AsArray() ?? []);
            var security = op["security"]?.AsArray();
            Assert.True(security is not null, $"{where} declares no security (anonymous routes say [])");
            foreach (var requirement in security!)
            {
                Assert.All(requirement!.AsObject(), r => Assert.True(schemes.ContainsKey(r.Key), $"{where}: unknown scheme {r.Key}"));
            }
            var statuses = op["responses"]!.AsObject();
            var errors = statuses.Where(s => s.Key[0] is '4' or '5').ToList();
            Assert.True(errors.Count > 0, $"{where} documents no error response");
            foreach (var (status, response) in errors)
            {
                var reference = response!["$ref"]?.GetValue<string>();
                Assert.True(reference is not null, $"{where} {status} is not the shared error response");
                Assert.True(responses.ContainsKey(reference!.Split('/')[^1]), $"{where} {status}: {reference} is not defined");
            }
            if (security!.Count > 0)
            {
                Assert.Contains("401", statuses.Select(s => s.Key));
                Assert.Contains("403", statuses.Select(s => s.Key));
            }
            if (path.Contains('{'))
            {
                Assert.Contains("404", statuses.Select(s => s.Key));
            }
            if (op["requestBody"] is not null)
            {
                Assert.Contains("400", statuses.Select(s => s.Key));
                Assert.Contains("413", statuses.Select(s => s.Key));
            }
        }
        // The envelope every error answer uses.
        var error = doc["components"]!["schemas"]!["ErrorEnvelope"]!["properties"]!["error"]!;
        Assert.Equal(["code", "message", "details", "correlation_id", "timestamp"],
            error["properties"]!.AsObject().Select(p => p.Key).ToArray());
    }

    [Fact]
    public async Task Security_schemes_are_a_bearer_jwt_and_client_credentials_at_the_token_endpoint()
    {
        await using var hub = await TestHub.StartAsync();
        var doc = await FetchAsync(hub);
        var schemes = doc["components"]!["securitySchemes"]!;
        Assert.Equal("bearer", schemes["bearer"]!["scheme"]!.GetValue<string>());
        Assert.Equal("JWT", schemes["bearer"]!["bearerFormat"]!.GetValue<string>());
        Assert.Equal("/api/v1/auth/token", schemes["agent_client_credentials"]!["flows"]!["clientCredentials"]!["tokenUrl"]!.GetValue<string>());

        var ops = Operations(doc).ToDictionary(o => $"{o.Method} {o.Path}", o => o.Op);
        // Anonymous routes need no token; the task update is agent work, so agents' credentials are offered.
        Assert.Empty(ops["post /api/v1/auth/login"]["security"]!.AsArray());
        var update = ops["patch /api/v1/tasks/{taskId}"]["security"]!.AsArray().SelectMany(r => r!.AsObject().Select(p => p.Key)).ToList();
        Assert.Equal(["bearer", "agent_client_credentials"], update);
        var admin = ops["get /api/v1/admin/users"]["security"]!.AsArray().SelectMany(r => r!.AsObject().Select(p => p.Key)).ToList();
        Assert.Equal(["bearer"], admin);
        // Declared extras: a taken email is 409, a command to an agent without a link 503.
        Assert.True(ops["post /api/v1/auth/register"]["responses"]!.AsObject().ContainsKey("409"));
        Assert.True(ops["post /api/v1/agents/{agentId}/command"]["responses"]!.AsObject().ContainsKey("503"));
    }

    [Fact]
    public async Task The_token_endpoint_documents_its_form_body()
    {
        await using var hub = await TestHub.StartAsync();
        var doc = await FetchAsync(hub);
        var body = doc["paths"]!["/api/v1/auth/token"]!["post"]!["requestBody"]!["content"]!["application/x-www-form-urlencoded"]!["schema"]!;
        var schema = doc["components"]!["schemas"]![body["$ref"]!.GetValue<string>().Split('/')[^1]]!;
        Assert.Equal(["grant_type", "client_id", "client_secret"], schema["properties"]!.AsObject().Select(p => p.Key).ToArray());
        // And the document's shape is what the form really takes: the hub accepts exactly those fields.
        using var form = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["client_id"] = "nobody", ["client_secret"] = "kas_wrong" });
        var answer = await hub.Http.PostAsync("api/v1/auth/token", form);
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, answer.StatusCode);
        using var envelope = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
        Assert.Equal("AUTHENTICATION_FAILED", envelope.RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    [SkippableFact]
    public async Task Redocly_lint_finds_no_errors_in_the_live_document()
    {
        var redocly = Path.Combine(NodeTools.NodeModules, ".bin", "redocly");
        ExternalServers.Require(NodeTools.Node is not null && File.Exists(redocly), "@redocly/cli (npm install --prefix $KAI_NPM_TOOLS @redocly/cli@2.77.0)");
        await using var hub = await TestHub.StartAsync();
        var dir = Directory.CreateTempSubdirectory("kai-openapi-");
        try
        {
            var file = Path.Combine(dir.FullName, "openapi.json");
            await File.WriteAllTextAsync(file, await hub.Http.GetStringAsync("openapi.json"));
            var (exit, output) = await NodeTools.RunAsync(redocly, ["lint", file, "--format=summary"], dir.FullName);
            Assert.True(exit == 0, $"redocly lint failed ({exit}):\n{output}");
            Assert.DoesNotContain("error ", output, StringComparison.Ordinal);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
