using System.Diagnostics;
using System.Text.Json;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Routing;
using Kai.Hub.Observability;
using Kai.Hub.Storage;
using Kai.Protocol;
using Kai.Protocol.Frames;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Commands;

/// <summary>
/// Commands to agents (seed 000): stored before anything else happens, delivered at least once, tracked to a
/// terminal state.
/// </summary>
/// <remarks>
/// A command is written to the store as <c>queued</c>, then routed to the agent's live link and marked
/// <c>executing</c>. An agent that connects gets every open command whose deadline has not passed, highest
/// priority first; a command still <c>executing</c> when its link dropped is delivered again (same id, so the
/// agent can tell). The first <c>command_result</c> wins; later ones are acknowledged as duplicates and change
/// nothing. At the deadline an open command fails with <c>TASK_TIMEOUT</c>.
/// </remarks>
internal sealed partial class CommandService(
    ICommandStore store, Router router, HubMetrics metrics, TimeProvider time, IOptionsMonitor<CommandOptions> options, ILogger<CommandService> logger,
    IFileReferences files, Schemas.SchemaCatalog schemas)
    : Housekeeping.IClusterHousekeeping
{
    /// <summary>Housekeeping: commands past their deadline fail.</summary>
    public Task SweepAsync(CancellationToken ct) => ExpireAsync(ct);

    // Read on each use: the defaults may change at run time (/api/v1/config "commands").
    private CommandOptions _options => options.CurrentValue;

    public int DefaultWaitSeconds => _options.DefaultWaitSeconds;

    /// <summary>
    /// Seed 000's command call, shared by REST (<c>POST /api/v1/agents/{id}/command</c>) and the MCP tool: stored, routed, and waited
    /// for up to <c>timeout</c> seconds (default <see cref="DefaultWaitSeconds"/>), which is also its deadline unless <c>ttl</c> says
    /// otherwise. A command still open at its deadline is failed now and answers <c>TASK_TIMEOUT</c>.
    /// </summary>
    /// <exception cref="ApiException">VALIDATION_ERROR for bad input, CONFLICT for a reused idempotency key, TASK_TIMEOUT at the deadline.</exception>
    public async Task<CommandRecord> SendAndWaitAsync(
        KaiPrincipal requester, AgentRecord agent, Kai.Protocol.Rest.SendCommandRequest request, string? idempotencyKey, CancellationToken ct)
    {
        new Validation().Check(request.Timeout is null or (>= 0 and <= 300), "timeout", "must be 0 to 300 seconds").ThrowIfInvalid();
        var wait = request.Timeout ?? DefaultWaitSeconds;
        var deadlineSeconds = request.Ttl ?? (request.Timeout is > 0 ? request.Timeout : null);
        var command = await CreateAsync(requester, agent, request.Command, request.Parameters, request.Priority, deadlineSeconds,
            request.CorrelationId, willWait: wait > 0, ct, idempotencyKey);
        if (wait > 0 && command.Status is CommandStatuses.Queued or CommandStatuses.Executing)
        {
            var waitEnd = time.GetUtcNow() + TimeSpan.FromSeconds(wait);
            command = await WaitAsync(command, (command.Deadline < waitEnd ? command.Deadline : waitEnd) - time.GetUtcNow(), ct);
            if (command.Status is CommandStatuses.Queued or CommandStatuses.Executing && command.Deadline <= time.GetUtcNow())
            {
                // The deadline passed while the caller waited: fail it now rather than at the next sweep, and say so.
                command = await ExpireOneAsync(command, ct);
            }
        }
        if (command.Status == CommandStatuses.Failed && command.Error == ErrorCodes.TaskTimeout)
        {
            throw new ApiException(ErrorCodes.TaskTimeout, $"Command '{command.CommandId}' got no result before its deadline ({command.Deadline:O}).",
                new Dictionary<string, object?> { ["command_id"] = command.CommandId, ["status"] = command.Status, ["deadline"] = command.Deadline });
        }
        return command;
    }

    public async Task<CommandRecord> CreateAsync(
        KaiPrincipal requester, AgentRecord agent, string? command, JsonElement? parameters, string? priority, int? ttlSeconds,
        string? correlationId, bool willWait, CancellationToken ct, string? idempotencyKey = null)
    {
        new Validation()
            .Check(idempotencyKey is null || idempotencyKey.Length is >= 1 and <= 128, "Idempotency-Key", "must be 1 to 128 characters")
            .Length(command, "command", 1, 128)
            .Object(parameters, "parameters")
            .Check(priority is null || CommandStatuses.Priorities.Contains(priority), "priority", "must be low, normal, high or urgent")
            .Check(ttlSeconds is null or (>= 1 and <= 86400), "ttl", "must be 1 to 86400 seconds")
            .Length(correlationId, "correlation_id", 1, 128, required: false)
            .ThrowIfInvalid();
        // Seed 000 "JSON schema validation for all commands": the schema this agent declared for the command, checked before anything is stored.
        if (await schemas.FindForAgentAsync(agent.AgentId, Schemas.SchemaKind.Command, command!, ct) is { Params: { } paramsSchema }
            && Schemas.SchemaCatalog.Check(paramsSchema, parameters is { ValueKind: JsonValueKind.Object } given ? given : EmptyObject, "parameters") is { Count: > 0 } invalid)
        {
            throw new ApiException(ErrorCodes.ValidationError,
                $"The parameters of command '{command}' do not match the schema agent '{agent.AgentId}' declared: {Schemas.SchemaCatalog.Describe(invalid)}.", invalid);
        }
        var now = time.GetUtcNow();
        var commandId = "cmd_" + Guid.CreateVersion7().ToString("N");
        // A span of its own, child of the caller's (REST traceparent), whose id travels in the frame to the agent.
        using var activity = HubMetrics.Activities.StartActivity("kai.command.create", ActivityKind.Producer);
        activity?.SetTag("kai.command_id", commandId);
        activity?.SetTag("kai.agent_id", agent.AgentId);
        var traceParent = Telemetry.CurrentTraceParent();
        var record = new CommandRecord(
            commandId, agent.AgentId, agent.OwnerId, requester.Id, command!,
            parameters is { ValueKind: JsonValueKind.Object } p ? p.GetRawText() : "{}", priority ?? "normal", CommandStatuses.Queued,
            null, null, correlationId, traceParent, 0, now.AddSeconds(ttlSeconds ?? _options.DefaultTtlSeconds), now, now);
        // Files the parameters reference (file_id): checked and recorded first, so the agent can read them while the command is open.
        await files.ReferenceAsync(requester, WorkKinds.Command, commandId, agent.OwnerId, "parameters", record.ParametersJson, ct);
        if (idempotencyKey is not null)
        {
            // A retried request (its answer was lost) gets the command stored the first time: nothing is stored or delivered twice.
            var (stored, created, conflict) = await store.CreateCommandOnceAsync(record, idempotencyKey, RequestHash(record, ttlSeconds), ct);
            if (conflict)
            {
                throw new ApiException(ErrorCodes.Conflict,
                    $"Idempotency-Key '{idempotencyKey}' was used for another request (command '{stored.CommandId}'); use a new key for a new command.",
                    new Dictionary<string, string> { ["command_id"] = stored.CommandId, ["idempotency_key"] = idempotencyKey });
            }
            if (!created)
            {
                if (willWait && stored.Status is CommandStatuses.Queued or CommandStatuses.Executing)
                {
                    router.Pending.Register(stored.CommandId);
                }
                return stored;
            }
        }
        if (willWait)
        {
            // Registered before delivery, so a result that comes back at once is not missed.
            router.Pending.Register(record.CommandId);
        }
        if (idempotencyKey is null)
        {
            await store.CreateCommandAsync(record, ct);
        }
        metrics.Commands.Add(1, new KeyValuePair<string, object?>("status", CommandStatuses.Queued));
        var frame = CommandFrame(record);
        await router.RouteAsync(new Envelope(FrameTypes.Command, Address.ObserversOf(agent.AgentId), frame, KaiPrincipal.System), ct);
        // Stored first, so durable; routed as the requester, so the router's reach check applies to it like to any frame.
        var delivery = new Envelope(FrameTypes.Command, Address.Agent(agent.AgentId), frame, requester)
        {
            Delivery = Delivery.Durable, Deadline = record.Deadline, CorrelationId = record.CommandId, TraceParent = traceParent,
        };
        if ((await router.RouteAsync(delivery, ct)).IsDelivered)
        {
            await store.MarkCommandDeliveredAsync(record.CommandId, time.GetUtcNow(), ct);
            record = record with { Status = CommandStatuses.Executing, Deliveries = 1 };
        }
        Log.CommandCreated(logger, record.CommandId, record.Command, agent.AgentId, record.Status);
        return record;
    }

    /// <summary>Waits up to <paramref name="wait"/> for the result of a command created with <c>willWait</c>, then returns its state.</summary>
    public async Task<CommandRecord> WaitAsync(CommandRecord command, TimeSpan wait, CancellationToken ct)
    {
        if (!router.Pending.IsWaiting(command.CommandId))
        {
            return command;
        }
        var waiter = router.Pending.Register(command.CommandId);
        try
        {
            return (CommandRecord)await router.Pending.WaitAsync(command.CommandId, waiter, time.GetUtcNow() + wait, ct);
        }
        catch (TimeoutException)
        {
            return await store.GetCommandAsync(command.CommandId, ct) ?? command;
        }
        finally
        {
            router.Pending.Remove(command.CommandId, waiter);
        }
    }

    /// <summary>Sends an agent that just connected every open command it has not finished.</summary>
    public async Task DeliverPendingAsync(string agentId, CancellationToken ct)
    {
        foreach (var command in await store.ListDeliverableCommandsAsync(agentId, time.GetUtcNow(), ct))
        {
            var redelivery = new Envelope(FrameTypes.Command, Address.Agent(agentId), CommandFrame(command), KaiPrincipal.System)
            {
                Delivery = Delivery.Durable, Deadline = command.Deadline, CorrelationId = command.CommandId, TraceParent = command.TraceParent,
            };
            if (!(await router.RouteAsync(redelivery, ct)).IsDelivered)
            {
                return;
            }
            await store.MarkCommandDeliveredAsync(command.CommandId, time.GetUtcNow(), ct);
        }
    }

    /// <summary>Records an agent's result. Returns false for a duplicate of a result already recorded.</summary>
    /// <exception cref="ApiException">Unknown command, one addressed to another agent, or a malformed result.</exception>
    public async Task<bool> CompleteAsync(string agentId, CommandResultPayload result, CancellationToken ct)
    {
        new Validation()
            .Length(result.CommandId, "command_id", 1, 64)
            .Check(result.Status is CommandStatuses.Completed or CommandStatuses.Failed, "status", "must be completed or failed")
            .Length(result.Error, "error", 0, 4096, required: false)
            .ThrowIfInvalid();
        var now = time.GetUtcNow();
        var resultJson = result.Result is { ValueKind: not JsonValueKind.Undefined } r ? r.GetRawText() : null;
        if (result.Status == CommandStatuses.Completed && await ResultMismatchAsync(agentId, result, ct) is { } mismatch)
        {
            // A result that breaks the agent's own declared result_schema fails the command; the result is kept so the caller can see it.
            result = result with { Status = CommandStatuses.Failed, Error = mismatch };
        }
        if (!await store.TryCompleteCommandAsync(result.CommandId, agentId, result.Status, resultJson, result.Error, now, ct))
        {
            var existing = await store.GetCommandAsync(result.CommandId, ct);
            if (existing is null || existing.AgentId != agentId)
            {
                throw ApiException.NotFound($"Command '{result.CommandId}'");
            }
            return false;
        }
        var done = await store.GetCommandAsync(result.CommandId, ct);
        if (done is not null)
        {
            await FinishedAsync(done, ct);
        }
        return true;
    }

    /// <summary>
    /// Null when the agent declared no result schema for the command (or the result matches it), else the error to record:
    /// <c>RESULT_SCHEMA_MISMATCH: result/…: …</c>. Reads the command only when the agent declared result schemas for commands.
    /// </summary>
    private async Task<string?> ResultMismatchAsync(string agentId, CommandResultPayload result, CancellationToken ct)
    {
        if (!await schemas.DeclaresResultsAsync(agentId, Schemas.SchemaKind.Command, ct)
            || await store.GetCommandAsync(result.CommandId, ct) is not { } command || command.AgentId != agentId
            || await schemas.FindForAgentAsync(agentId, Schemas.SchemaKind.Command, command.Command, ct) is not { Result: { } resultSchema })
        {
            return null;
        }
        var failures = Schemas.SchemaCatalog.Check(resultSchema, result.Result ?? NullJson, "result");
        return failures.Count == 0 ? null
            : $"{ErrorCodes.ResultSchemaMismatch}: the result does not match the schema agent '{agentId}' declared for '{command.Command}': {Schemas.SchemaCatalog.Describe(failures)}";
    }

    private static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement.Clone();
    private static readonly JsonElement NullJson = JsonDocument.Parse("null").RootElement.Clone();

    /// <summary>Fails every open command past its deadline with <c>TASK_TIMEOUT</c>.</summary>
    public async Task ExpireAsync(CancellationToken ct)
    {
        foreach (var command in await store.ExpireCommandsAsync(time.GetUtcNow(), ErrorCodes.TaskTimeout, ct))
        {
            Log.CommandExpired(logger, command.CommandId, command.AgentId);
            await FinishedAsync(command, ct);
        }
    }

    /// <summary>Fails the open commands past their deadline now (this one among them), and returns this one's state after it.</summary>
    public async Task<CommandRecord> ExpireOneAsync(CommandRecord command, CancellationToken ct)
    {
        await ExpireAsync(ct);
        return await store.GetCommandAsync(command.CommandId, ct) ?? command;
    }

    private async Task FinishedAsync(CommandRecord command, CancellationToken ct)
    {
        metrics.Commands.Add(1, new KeyValuePair<string, object?>("status", command.Status));
        router.Complete(command.CommandId, command);
        var payload = new CommandResultPayload(command.CommandId, command.Status, ResultElement(command), command.Error);
        var frame = Frame.Encode(FrameTypes.CommandResult, payload, timestamp: command.UpdatedAt);
        await router.RouteAsync(new Envelope(FrameTypes.CommandResult, Address.ObserversOf(command.AgentId), frame, KaiPrincipal.System), ct);
    }

    public static JsonElement? ResultElement(CommandRecord c) =>
        c.ResultJson is null ? null : JsonDocument.Parse(c.ResultJson).RootElement.Clone();

    /// <summary>What makes two requests "the same" for an idempotency key: target, command, parameters, priority, deadline setting.</summary>
    private static string RequestHash(CommandRecord c, int? ttlSeconds) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
        System.Text.Encoding.UTF8.GetBytes(string.Join('\n', c.AgentId, c.Command, c.ParametersJson, c.Priority, ttlSeconds?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? ""))));

    private static byte[] CommandFrame(CommandRecord c)
    {
        using var parameters = JsonDocument.Parse(c.ParametersJson);
        return Frame.Encode(FrameTypes.Command,
            new CommandPayload(c.CommandId, c.Command, parameters.RootElement, c.Priority, c.Deadline, c.CorrelationId, c.TraceParent), c.CommandId);
    }

    private static partial class Log
    {
        [LoggerMessage(301, LogLevel.Information, "Command {CommandId} ({Command}) for agent {AgentId} is {Status}")]
        public static partial void CommandCreated(ILogger logger, string commandId, string command, string agentId, string status);

        [LoggerMessage(300, LogLevel.Information, "Command {CommandId} for agent {AgentId} passed its deadline")]
        public static partial void CommandExpired(ILogger logger, string commandId, string agentId);
    }
}
