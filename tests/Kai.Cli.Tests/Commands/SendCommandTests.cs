using System.Text.Json;
using Kai.Cli.Cli;
using Kai.Cli.Commands;

namespace Kai.Cli.Tests.Commands;

public sealed class SendCommandTests
{
    [Fact]
    public void Params_are_typed_when_they_look_like_json_and_strings_otherwise()
    {
        var p = SendCommand.BuildParameters(null, ["path=/tmp/a b.md", "top=5", "flag=true", "list=[1,2]", "date=2024-01-01", "neg=-3", "empty="])!.Value;
        Assert.Equal("/tmp/a b.md", p.GetProperty("path").GetString());
        Assert.Equal(5, p.GetProperty("top").GetInt32());
        Assert.True(p.GetProperty("flag").GetBoolean());
        Assert.Equal(2, p.GetProperty("list").GetArrayLength());
        Assert.Equal("2024-01-01", p.GetProperty("date").GetString());
        Assert.Equal(-3, p.GetProperty("neg").GetInt32());
        Assert.Equal("", p.GetProperty("empty").GetString());
    }

    [Fact]
    public void Params_override_the_json_object()
    {
        var p = SendCommand.BuildParameters("""{"to":"b","top":1}""", ["top=7"])!.Value;
        Assert.Equal("b", p.GetProperty("to").GetString());
        Assert.Equal(7, p.GetProperty("top").GetInt32());
    }

    [Fact]
    public void No_params_send_no_object()
    {
        Assert.Null(SendCommand.BuildParameters(null, []));
        Assert.Equal(JsonValueKind.Object, SendCommand.BuildParameters("{}", [])!.Value.ValueKind);
    }

    [Theory]
    [InlineData("[1]", "must be a JSON object")]
    [InlineData("{nope", "not valid JSON")]
    public void Bad_json_is_a_usage_error(string json, string message)
    {
        var ex = Assert.Throws<CliException>(() => SendCommand.BuildParameters(json, []));
        Assert.Equal(ExitCodes.Usage, ex.ExitCode);
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_param_without_equals_is_a_usage_error()
    {
        var ex = Assert.Throws<CliException>(() => SendCommand.BuildParameters(null, ["path"]));
        Assert.Contains("key=value", ex.Message, StringComparison.Ordinal);
    }
}
