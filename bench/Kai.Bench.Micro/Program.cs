using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Kai.Protocol.Frames;

// The per-message JSON work of agent_message routing (src/Kai.Hub/Messaging/AgentLinkEndpoint.cs, LinkSession
// .AgentMessageAsync): parse the client frame, read its payload, write the delivery frame. "Current" is the record path the
// hub used before (Frame.Parse, PayloadAs<AgentMessageSend>, Frame.Create, ToUtf8); "OnePass" calls what the hub calls now
// (InboundFrame.Parse, AgentMessageCodec.Read and WriteDelivery), so this benchmark guards the hub's own code.
BenchmarkSwitcher.FromAssembly(typeof(AgentMessagePath).Assembly).Run(args);

[MemoryDiagnoser]
public class AgentMessagePath
{
    private static readonly byte[] Inbound = Encoding.UTF8.GetBytes(
        """{"type":"agent_message","timestamp":"2026-01-01T00:00:00.000Z","payload":{"message_type":"bench","to_agent":"bench-000001","content":{"text":"hello from a","n":42}}}""");

    [Benchmark(Baseline = true)]
    public int Current()
    {
        var frame = Frame.Parse(Inbound);
        var msg = frame.PayloadAs<AgentMessageSend>()!;
        var delivery = Frame.Create(FrameTypes.AgentMessage,
            new AgentMessageDelivery("bench-000000", msg.MessageType, msg.Content, msg.RequiresResponse, msg.CorrelationId), timestamp: DateTimeOffset.UtcNow);
        return delivery.ToUtf8().Length;
    }

    [Benchmark]
    public int OnePass()
    {
        // What the hub does since the one-pass change: the envelope read once, the payload read once, the delivery written once.
        var frame = InboundFrame.Parse(Inbound);
        var fields = AgentMessageCodec.Read(frame.PayloadUtf8.Span);
        var delivery = AgentMessageCodec.WriteDelivery("bench-000000", fields, frame.PayloadUtf8.Span, DateTimeOffset.UtcNow);
        return delivery.Length + (fields.ToAgent?.Length ?? 0);
    }
}
