using System.CommandLine;
using Kai.Cli.Cli;

namespace Kai.Cli.Commands;

/// <summary>
/// <c>kai rpc &lt;method&gt; --params '{…}' [--destination] [--timeout]</c>: seed 001 §11's test client. Prints the AMRI response envelope
/// and, on stderr, its latency and retries; <c>--simulate-timeout</c> sends a 1 ms ttl so the hub answers <c>DEADLINE_EXCEEDED</c>.
/// </summary>
internal static class RpcCommand
{
    public static Command Create()
    {
        var method = new Argument<string>("method") { Description = "The AMRI method, for example memory.query." };
        var parameters = new Option<string?>("--params") { Description = "The params as a JSON object, like '{\"q\": \"cat\"}'." };
        var destination = new Option<string?>("--destination", "-d") { Description = "The agent id or kah: handle; default: the hub's routing table decides." };
        var timeout = new Option<int?>("--timeout") { Description = "The ttl in milliseconds, end to end (1 to 600000); default: the method's deadline." };
        var simulate = new Option<bool>("--simulate-timeout") { Description = "Send a 1 ms ttl: see how a deadline that passes is answered." };
        var command = new Command("rpc", """
            Call an AMRI method (seed 001) and print the response envelope; latency and retries go to stderr.
            Exit code: 0 answered with a result, 1 answered with an error (or refused).
            """)
        {
            method, parameters, destination, timeout, simulate,
        };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            var p = SendCommand.BuildParameters(parse.GetValue(parameters), []);
            var ttl = parse.GetValue(simulate) ? 1 : parse.GetValue(timeout);
            if (ttl is < 1 or > 600_000)
            {
                throw new CliException("--timeout must be from 1 to 600000 milliseconds.", ExitCodes.Usage);
            }
            using var client = await ctx.UserClientAsync(ct);
            // A simulated timeout counts its 1 ms from the hub's receipt (timestamp 0), so it is a deadline, never an expired ttl.
            var request = new Kai.Protocol.Rpc.RpcRequest(Guid.NewGuid().ToString(), null, parse.GetValue(destination),
                parse.GetValue(simulate) ? 0 : DateTimeOffset.UtcNow.ToUnixTimeSeconds(), parse.GetRequiredValue(method),
                System.Text.Json.JsonSerializer.SerializeToElement(p, Kai.Protocol.KaiJson.Options), new Kai.Protocol.Rpc.RpcHeaders(Guid.NewGuid().ToString(), Ttl: ttl));
            var response = await client.CallAsync(request, ct);
            Console.WriteLine(Output.Json(response));
            var m = response.Metrics;
            Console.Error.WriteLine($"latency {m?.LatencyMs ?? 0} ms, retries {m?.Retries ?? 0}, backend {m?.Backend ?? "?"}"
                + (response.Error is { } e ? $"; error {e.Code} {e.Type}: {e.Message}" : ""));
            return response.Error is null ? ExitCodes.Ok : ExitCodes.Error;
        }));
        return command;
    }
}
