using System.Text.Json;
using Kai.Cli.Commands;
using Kai.Protocol;
using Kai.Protocol.Frames;

namespace Kai.Cli.Tests.Commands;

public sealed class TailCommandTests
{
    private static readonly DateTimeOffset At = new(2026, 1, 15, 12, 30, 45, 123, TimeSpan.Zero);

    [Fact]
    public void A_status_update_reads_as_a_transition()
    {
        var line = TailCommand.Describe(Frame.Create(FrameTypes.StatusUpdate, new StatusUpdatePayload("a1", "offline", "active", "disconnected", At), timestamp: At));
        Assert.Equal("12:30:45.123  status_update   a1: active -> offline (disconnected)", line);
    }

    [Fact]
    public void A_result_shows_its_command_status_and_value()
    {
        var result = JsonSerializer.SerializeToElement(new { lines = 3 }, KaiJson.Options);
        var line = TailCommand.Describe(Frame.Create(FrameTypes.CommandResult, new CommandResultPayload("cmd_1", "completed", result), timestamp: At));
        Assert.EndsWith("command_result  cmd_1 completed {\"lines\":3}", line, StringComparison.Ordinal);
    }

    [Fact]
    public void A_log_shows_level_component_and_message()
    {
        var line = TailCommand.Describe(Frame.Create(FrameTypes.Log, new LogPayload("warn", "disk low", "store"), timestamp: At));
        Assert.EndsWith("log             [warn] store: disk low", line, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_frame_type_shows_its_payload()
    {
        var line = TailCommand.Describe(Frame.Create("future_thing", new { x = 1 }, timestamp: At));
        Assert.Contains("future_thing", line, StringComparison.Ordinal);
        Assert.EndsWith("{\"x\":1}", line, StringComparison.Ordinal);
    }
}
