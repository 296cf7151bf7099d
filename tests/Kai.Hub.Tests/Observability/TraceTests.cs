using System.Net.Http.Json;
using Kai.Hub.Observability;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Kai.Protocol.Rest;
using Kai.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kai.Hub.Tests.Observability;

public sealed class TraceTests
{
    private const string TraceId = "4bf92f3577b34da6a3ce929d0e0e4736";

    [Fact]
    public async Task A_trace_id_given_on_a_rest_command_reaches_the_agent_and_the_hubs_logs()
    {
        var logs = new CapturingLoggerProvider();
        await using var hub = await TestHub.StartAsync(
            settings: new Dictionary<string, string> { ["Logging:LogLevel:Kai"] = "Information" },
            configure: b => b.Logging.AddProvider(logs));
        var user = await hub.NewUserAsync();
        await using var agent = await hub.ConnectAgentAsync(await hub.NewAgentAsync(user.AccessToken, "traced"));

        using var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/agents/traced/command")
        {
            Content = JsonContent.Create(new SendCommandRequest("trace-me", Timeout: 0), options: KaiJson.Options),
        };
        request.Headers.Authorization = new("Bearer", user.AccessToken);
        request.Headers.Add("traceparent", $"00-{TraceId}-00f067aa0ba902b7-01");
        var sent = (await (await hub.Http.SendAsync(request)).Content.ReadFromJsonAsync<CommandResponse>(KaiJson.Options))!;

        var command = (await agent.ReceiveAsync("command")).PayloadAs<CommandPayload>()!;
        Assert.NotNull(command.TraceParent);
        Assert.StartsWith($"00-{TraceId}-", command.TraceParent, StringComparison.Ordinal);
        Assert.DoesNotContain("00f067aa0ba902b7", command.TraceParent, StringComparison.Ordinal); // the hub's own span is the parent

        var line = logs.Entries.FirstOrDefault(e => e.Message.Contains(sent.CommandId, StringComparison.Ordinal));
        Assert.NotNull(line);
        Assert.Equal(TraceId, line.Scope["trace_id"]);
        Assert.False(string.IsNullOrEmpty(line.Scope["correlation_id"] as string));
    }

    [Fact]
    public async Task With_an_otlp_endpoint_spans_are_exported_over_http()
    {
        var received = new List<byte[]>();
        var collector = WebApplication.CreateBuilder();
        collector.WebHost.UseUrls("http://127.0.0.1:0");
        collector.Logging.ClearProviders();
        await using var otlp = collector.Build();
        otlp.MapPost("/v1/traces", async (HttpContext http) =>
        {
            using var body = new MemoryStream();
            await http.Request.Body.CopyToAsync(body);
            lock (received)
            {
                received.Add(body.ToArray());
            }
            return Results.Ok();
        });
        otlp.MapPost("/v1/metrics", () => Results.Ok());
        await otlp.StartAsync();
        var endpoint = otlp.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

        await using var hub = await TestHub.StartAsync(settings: new Dictionary<string, string> { ["Kai:Telemetry:OtlpEndpoint"] = endpoint });
        var user = await hub.NewUserAsync();
        await hub.NewAgentAsync(user.AccessToken, "otlp-agent");
        await hub.Client(user.AccessToken).PostAsJsonAsync("api/v1/agents/otlp-agent/command", new SendCommandRequest("x", Timeout: 0), KaiJson.Options);
        hub.Service<Telemetry>().Flush();

        byte[] all;
        lock (received)
        {
            all = received.SelectMany(b => b).ToArray();
        }
        Assert.NotEmpty(all);
        // OTLP protobuf keeps strings as UTF-8: the service name and our span name are in the payload.
        Assert.True(all.AsSpan().IndexOf("kai-hub"u8) >= 0, "service.name missing");
        Assert.True(all.AsSpan().IndexOf("kai.command.create"u8) >= 0, "command span missing");
        await otlp.StopAsync();
    }
}
