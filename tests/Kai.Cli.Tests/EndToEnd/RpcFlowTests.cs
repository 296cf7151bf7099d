using System.Text.Json;
using Kai.Protocol.Rpc;

namespace Kai.Cli.Tests.EndToEnd;

/// <summary><c>kai rpc</c> (seed 001 §11's test client) through the real CLI: a result, an unknown method, and a simulated timeout.</summary>
public sealed class RpcFlowTests : CliFlow
{
    [Fact]
    public async Task Kai_rpc_prints_the_response_envelope_with_latency_and_retries_and_can_simulate_a_timeout()
    {
        var user = await Hub.NewUserAsync("rpc@example.com");
        var login = await Cli.RunAsync(["login", "--email", "rpc@example.com"], stdin: "correct-horse-battery\n");
        Assert.True(login.ExitCode == 0, login.ToString());
        await using var agent = await Hub.ConnectAgentAsync(await Hub.NewAgentAsync(user.AccessToken, "cli-echo"));

        var call = Kai("rpc", "echo.say", "--params", """{"text": "hello"}""", "--destination", "cli-echo", "--timeout", "20000");
        var request = (await agent.ReceiveAsync("rpc_request")).PayloadAs<RpcRequest>()!;
        Assert.Equal("hello", request.Params!.Value.GetProperty("text").GetString());
        await agent.SendAsync("rpc_response", new { id = request.Id, result = new { said = "hello" } });
        var ok = await call;
        Assert.True(ok.ExitCode == 0, ok.ToString());
        var envelope = JsonDocument.Parse(ok.Stdout).RootElement;
        Assert.Equal("hello", envelope.GetProperty("result").GetProperty("said").GetString());
        Assert.Equal(JsonValueKind.Null, envelope.GetProperty("error").ValueKind);
        Assert.Equal("cli-echo", envelope.GetProperty("origin").GetString());
        Assert.Matches(@"latency \d+ ms, retries 0, backend REST", ok.Stderr);

        var unknown = await Kai("rpc", "nobody.home");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Equal("METHOD_NOT_FOUND", JsonDocument.Parse(unknown.Stdout).RootElement.GetProperty("error").GetProperty("type").GetString());
        Assert.Contains("error 404 METHOD_NOT_FOUND", unknown.Stderr, StringComparison.Ordinal);

        var slow = await Kai("rpc", "echo.say", "--destination", "cli-echo", "--simulate-timeout");
        Assert.Equal(1, slow.ExitCode);
        Assert.Equal("DEADLINE_EXCEEDED", JsonDocument.Parse(slow.Stdout).RootElement.GetProperty("error").GetProperty("type").GetString());
        Assert.Matches(@"latency \d+ ms, retries 0, backend REST; error 504 DEADLINE_EXCEEDED", slow.Stderr);
    }
}
