using System.Net.Http;
using System.Net.Sockets;
using Kai.Cli.Cli;
using Kai.Client;

namespace Kai.Cli.Tests.Cli;

public sealed class CliContextTests
{
    [Fact]
    public void A_hub_error_prints_code_message_and_correlation_id()
    {
        var (message, code) = CliContext.Describe(new HubApiException("AGENT_NOT_FOUND", "Agent 'x' was not found.", 404, null, "abc123"), "http://h");
        Assert.Equal("error AGENT_NOT_FOUND: Agent 'x' was not found. (correlation id abc123)", message);
        Assert.Equal(ExitCodes.Error, code);
    }

    [Fact]
    public void A_401_on_a_saved_session_hints_at_kai_login()
    {
        var (message, _) = CliContext.Describe(new HubApiException("AUTHENTICATION_FAILED", "expired", 401), "http://h", savedSession: true);
        Assert.Contains("run `kai login`", message, StringComparison.Ordinal);
        var (fresh, _) = CliContext.Describe(new HubApiException("AUTHENTICATION_FAILED", "wrong password", 401), "http://h", savedSession: false);
        Assert.DoesNotContain("kai login", fresh, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unreachable_hub_names_the_url_and_how_to_start_one()
    {
        var ex = new HttpRequestException("Connection refused", new SocketException((int)SocketError.ConnectionRefused));
        var (message, code) = CliContext.Describe(ex, "http://127.0.0.1:8000");
        Assert.Contains("cannot reach the hub at http://127.0.0.1:8000", message, StringComparison.Ordinal);
        Assert.Contains("dotnet run --project src/Kai.Hub", message, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Error, code);
    }

    [Fact]
    public void Usage_errors_exit_with_2()
    {
        Assert.Equal(ExitCodes.Usage, CliContext.Describe(new CliException("bad", ExitCodes.Usage), "http://h").ExitCode);
    }
}
