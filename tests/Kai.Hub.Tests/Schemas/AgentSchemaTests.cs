using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kai.Hub.Tests.Invocations;
using Kai.Hub.Tests.Rpc;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Kail;
using Kai.Protocol.Rpc;
using Kai.Testing;

namespace Kai.Hub.Tests.Schemas;

/// <summary>
/// Schemas agents declare for the commands, methods and intents they serve (seed 000 "JSON schema validation for all commands", issue 11
/// item 17): declared over REST or in <c>agent.register</c>, stored with the agent (a restart keeps them), checked before anything is
/// stored or routed, and checked on the agent's answer. Sealed (JWE) values are routed unread. Real hub, real links.
/// </summary>
public sealed class AgentSchemaTests
{
    private static readonly object ResizeSchemas = new
    {
        commands = new Dictionary<string, object>
        {
            ["resize"] = new
            {
                params_schema = new { type = "object", required = new[] { "width" }, properties = new { width = new { type = "integer", minimum = 1 } } },
                result_schema = new { type = "object", required = new[] { "url" } },
            },
        },
    };

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();

    [Fact]
    public async Task Command_schemas_set_over_rest_survive_a_restart_refuse_bad_parameters_before_storing_and_fail_bad_results()
    {
        var hub = await TestHub.StartAsync(keepData: true);
        var dir = hub.DataDirectory;
        string userToken;
        try
        {
            userToken = (await hub.NewUserAsync()).AccessToken;
            var http = hub.Client(userToken);
            await hub.NewAgentAsync(userToken, "imager-1");

            var put = await http.PutAsJsonAsync("api/v1/agents/imager-1/schemas", ResizeSchemas, KaiJson.Options);
            Assert.True(put.StatusCode == HttpStatusCode.OK, await put.Content.ReadAsStringAsync());
            Assert.Equal("integer", (await JsonAsync(put)).GetProperty("commands").GetProperty("resize").GetProperty("params_schema")
                .GetProperty("properties").GetProperty("width").GetProperty("type").GetString());

            // A declaration that is not a schema is refused, naming the field, and what was declared stays.
            var bad = await http.PutAsJsonAsync("api/v1/agents/imager-1/schemas",
                new { commands = new Dictionary<string, object> { ["resize"] = new { params_schema = "integers", cache_ttl_ms = 5 } } }, KaiJson.Options);
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            var badError = (await JsonAsync(bad)).GetProperty("error");
            Assert.Equal(ErrorCodes.ValidationError, badError.GetProperty("code").GetString());
            Assert.Contains("commands.resize.params_schema", badError.GetProperty("message").GetString());
            Assert.Contains("commands.resize.cache_ttl_ms: only methods are cached", badError.GetProperty("message").GetString());

            // Another tenant neither sees nor changes them.
            var stranger = hub.Client((await hub.NewUserAsync()).AccessToken);
            Assert.Equal(HttpStatusCode.NotFound, (await stranger.GetAsync("api/v1/agents/imager-1/schemas")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await stranger.PutAsJsonAsync("api/v1/agents/imager-1/schemas", new { }, KaiJson.Options)).StatusCode);
        }
        finally
        {
            await hub.DisposeAsyncKeepingData();
        }

        // A restart keeps them.
        await using var again = await TestHub.StartAsync(dataDirectory: dir);
        var client = again.Client(userToken);
        var shown = await JsonAsync(await client.GetAsync("api/v1/agents/imager-1/schemas"));
        Assert.Equal("url", shown.GetProperty("commands").GetProperty("resize").GetProperty("result_schema").GetProperty("required")[0].GetString());
        var agent = new Kai.Protocol.Rest.AgentCreatedResponse("imager-1", "imager-1", "", "created", "/ws/agents/imager-1");
        var secret = await client.PostAsync("api/v1/agents/imager-1/rotate-secret", null);
        agent = agent with { ClientSecret = (await JsonAsync(secret)).GetProperty("client_secret").GetString()! };
        await using var link = await again.ConnectAgentAsync(agent);

        // Bad parameters: 400 naming the failing path; nothing is stored or delivered.
        var refused = await client.PostAsJsonAsync("api/v1/agents/imager-1/command", new { command = "resize", parameters = new { width = "big" }, timeout = 0 }, KaiJson.Options);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var error = (await JsonAsync(refused)).GetProperty("error");
        Assert.Equal(ErrorCodes.ValidationError, error.GetProperty("code").GetString());
        Assert.True(error.GetProperty("details").TryGetProperty("parameters/width", out _), error.ToString());
        Assert.Contains("imager-1", error.GetProperty("message").GetString());
        // Other commands have no schema and pass as before.
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("api/v1/agents/imager-1/command", new { command = "ping", timeout = 0 }, KaiJson.Options)).StatusCode);
        Assert.Equal("ping", (await link.ReceiveAsync(FrameTypes.Command)).PayloadAs<CommandPayload>()!.Command); // the refused one never arrived

        // A result that breaks the declared result schema fails the command with RESULT_SCHEMA_MISMATCH; a matching one completes.
        var wrong = client.PostAsJsonAsync("api/v1/agents/imager-1/command", new { command = "resize", parameters = new { width = 10 }, timeout = 30 }, KaiJson.Options);
        var delivered = (await link.ReceiveAsync(FrameTypes.Command)).PayloadAs<CommandPayload>()!;
        await link.SendAsync(FrameTypes.CommandResult, new CommandResultPayload(delivered.CommandId, "completed", JsonSerializer.SerializeToElement(new { size = 10 })));
        var failed = await JsonAsync(await wrong);
        Assert.Equal("failed", failed.GetProperty("status").GetString());
        Assert.StartsWith(ErrorCodes.ResultSchemaMismatch, failed.GetProperty("error").GetString());
        Assert.Contains("result/: required", failed.GetProperty("error").GetString());

        var right = client.PostAsJsonAsync("api/v1/agents/imager-1/command", new { command = "resize", parameters = new { width = 10 }, timeout = 30 }, KaiJson.Options);
        delivered = (await link.ReceiveAsync(FrameTypes.Command)).PayloadAs<CommandPayload>()!;
        await link.SendAsync(FrameTypes.CommandResult, new CommandResultPayload(delivered.CommandId, "completed", JsonSerializer.SerializeToElement(new { url = "/img/1" })));
        var completed = await JsonAsync(await right);
        Assert.Equal("completed", completed.GetProperty("status").GetString());
        Assert.Equal("/img/1", completed.GetProperty("result").GetProperty("url").GetString());

        // Deleting the agent deletes its declarations.
        Assert.Equal(HttpStatusCode.OK, (await client.DeleteAsync("api/v1/agents/imager-1")).StatusCode);
        await again.NewAgentAsync(userToken, "imager-1");
        var fresh = await JsonAsync(await client.GetAsync("api/v1/agents/imager-1/schemas"));
        Assert.True(!fresh.TryGetProperty("commands", out var none) || none.ValueKind == JsonValueKind.Null, fresh.ToString());
    }

    [Fact]
    public async Task Intent_and_method_schemas_from_agent_register_check_input_and_output_and_let_sealed_values_through_unread()
    {
        await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string> { ["Kai:Kail:retries"] = "0" });
        var userToken = (await hub.NewUserAsync()).AccessToken;
        var user = hub.Client(userToken);
        var agent = await hub.NewAgentAsync(userToken, "writer-1", capabilities: ["text"]);
        var agentHttp = hub.Client(await hub.AgentTokenAsync(agent));
        var schemas = new
        {
            intents = new Dictionary<string, object>
            {
                ["summarize"] = new { params_schema = new { type = "string", maxLength = 40 }, result_schema = new { type = "object", required = new[] { "summary" } } },
            },
            methods = new Dictionary<string, object>
            {
                ["text.count"] = new { params_schema = new { type = "object", required = new[] { "text" } } },
            },
        };
        var (status, body) = await agentHttp.CallAsync(RpcKit.Envelope("reg-1", RpcMethods.AgentRegister, new { capabilities = new[] { "text" }, schemas }));
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        // A registration without schemas (a reconnect) keeps what was declared.
        (status, body) = await agentHttp.CallAsync(RpcKit.Envelope("reg-2", RpcMethods.AgentRegister, new { capabilities = new[] { "text" } }));
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        // methods and schemas.methods together are ambiguous.
        (status, body) = await agentHttp.CallAsync(RpcKit.Envelope("reg-3", RpcMethods.AgentRegister,
            new { capabilities = new[] { "text" }, schemas, methods = new Dictionary<string, object> { ["text.count"] = new { } } }));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("not both", body.GetProperty("error").GetProperty("message").GetString());
        await using var link = await hub.ConnectAgentAsync(agent);

        // Input that breaks the intent's schema: 400 naming /payload/input, and nothing is kept (the id may be used again).
        var id = Guid.NewGuid().ToString();
        var refused = await Kail.InvokeAsync(user, Kail.Envelope(Kail.Handle("writer-1"), "summarize", 42, id: id));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var error = (await Kail.JsonAsync(refused)).GetProperty("error");
        Assert.Equal(ErrorCodes.ValidationError, error.GetProperty("code").GetString());
        Assert.True(error.GetProperty("details").TryGetProperty("/payload/input/", out _), error.ToString());

        // The same id with good input is accepted; an output without `summary` fails the try with RESULT_SCHEMA_MISMATCH.
        var call = Kail.InvokeAsync(user, Kail.Envelope(Kail.Handle("writer-1"), "summarize", "a short text", id: id));
        var invocation = await Kail.NextInvocationAsync(link);
        Assert.Equal(id, invocation.Id);
        await Kail.AnswerAsync(link, invocation, new { text = "no summary field" });
        var failed = (await Kail.JsonAsync(await call)).GetProperty("error");
        Assert.Equal(ErrorCodes.ResultSchemaMismatch, failed.GetProperty("code").GetString());
        Assert.Contains("output/: required", failed.GetProperty("message").GetString());
        var hop = failed.GetProperty("details").GetProperty("invocation").GetProperty("stack")[0];
        Assert.Equal(ErrorCodes.ResultSchemaMismatch, hop.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("failed", (await Kail.JsonAsync(await user.GetAsync($"api/v1/invocations/{id}"))).GetProperty("status").GetString());

        // A sealed input (JWE) is not read, so not checked: it reaches the agent as sent.
        var key = new byte[32];
        Random.Shared.NextBytes(key);
        var sealedInput = EncryptedPayload.Seal(JsonSerializer.SerializeToElement(12345), key, "pair-1");
        call = Kail.InvokeAsync(user, Kail.Envelope(Kail.Handle("writer-1"), "summarize", sealedInput));
        invocation = await Kail.NextInvocationAsync(link);
        Assert.Equal(sealedInput.GetProperty("ciphertext").GetString(), invocation.Payload.Input.GetProperty("ciphertext").GetString());
        await Kail.AnswerAsync(link, invocation, EncryptedPayload.Seal(JsonSerializer.SerializeToElement(new { nope = 1 }), key, "pair-1"));
        Assert.Equal("completed", (await Kail.JsonAsync(await call)).GetProperty("status").GetString());

        // The method schema from the same registration: plain params are checked, sealed ones pass unread.
        (status, body) = await user.CallAsync(RpcKit.Envelope("m-1", "text.count", new { words = 3 }, destination: "writer-1"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("params/: required", body.GetProperty("error").GetProperty("message").GetString());
        var rpc = user.CallAsync(RpcKit.Envelope("m-2", "text.count", EncryptedPayload.Seal(JsonSerializer.SerializeToElement(new { words = 3 }), key, "pair-1"), destination: "writer-1"));
        var request = await link.NextRequestAsync();
        Assert.Equal("m-2", request.Id);
        Assert.True(EncryptedPayload.IsEncrypted(request.Params!.Value));
        await link.AnswerAsync(request, new { count = 3 });
        (status, _) = await rpc;
        Assert.Equal(HttpStatusCode.OK, status);
    }
}
