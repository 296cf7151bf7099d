using System.CommandLine;
using System.Text.Json;
using Kai.Cli.Cli;
using Kai.Client;
using Kai.Protocol.Chat;

namespace Kai.Cli.Commands;

/// <summary>
/// <c>kai chat [provider] [--model m]</c>: an interactive chat with a hosted LLM agent, answers streamed as they arrive; and
/// <c>kai chat --agents a,b [--turns 6] "topic"</c>: watch two agents talk (seed 003 sessions, issue 12).
/// </summary>
internal static class ChatCommand
{
    public static Command Create()
    {
        var target = new Argument<string?>("provider-or-topic")
        {
            Description = "Interactive: the LLM provider (`kai chat` alone picks the only one). With --agents: the topic the agents talk about.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var model = new Option<string?>("--model") { Description = "Interactive: the provider's model (its default model when left out)." };
        var personality = new Option<string?>("--personality") { Description = "Interactive: the agent's personality, sent to the model as its system prompt." };
        var agents = new Option<string?>("--agents")
        {
            Description = "Two participants, comma-separated, each a provider, provider:model, or the id of one of your registry agents.",
        };
        var turns = new Option<int>("--turns") { Description = "With --agents: the most turns the agents take (1 to 100; the hub may allow fewer).", DefaultValueFactory = _ => 6 };
        var command = new Command("chat", """
            Chat with a hosted LLM agent: type a line, the answer streams back. An empty line is skipped; /quit or the end of input ends the session.
            With --agents a,b "topic": two agents talk about the topic, turn by turn, until the turn limit or their goal; you watch.
            Ctrl-C ends the session (and stops the agents) and exits with 130. Exit code 1 when a turn failed or the hub ended the session.
            """)
        {
            target, model, personality, agents, turns,
        };
        command.SetAction(CliContext.Action(async (ctx, parse, ct) =>
        {
            using var client = await ctx.UserClientAsync(ct);
            if (parse.GetValue(agents) is { } pair)
            {
                if (parse.GetValue(model) is not null || parse.GetValue(personality) is not null)
                {
                    throw new CliException("--model and --personality are for an interactive chat; with --agents give each as provider:model.", ExitCodes.Usage);
                }
                var topic = parse.GetValue(target);
                if (string.IsNullOrWhiteSpace(topic))
                {
                    throw new CliException("with --agents, give the topic: kai chat --agents a,b \"what to talk about\".", ExitCodes.Usage);
                }
                var n = parse.GetValue(turns);
                if (n is < 1 or > 100)
                {
                    throw new CliException("--turns must be 1 to 100.", ExitCodes.Usage);
                }
                return await WatchAsync(client, pair, topic, n, ct);
            }
            return await TalkAsync(client, parse.GetValue(target), parse.GetValue(model), parse.GetValue(personality), ct);
        }));
        return command;
    }

    private static async Task<int> TalkAsync(HubClient client, string? provider, string? model, string? personality, CancellationToken ct)
    {
        var providers = await client.ListChatProvidersAsync(ct);
        provider ??= providers.Count switch
        {
            0 => throw new CliException("the hub has no LLM provider configured (Kai:Providers in its settings)."),
            1 => providers.Keys.Single(),
            _ => throw new CliException($"name a provider: kai chat <provider> (configured: {string.Join(", ", providers.Keys.Order(StringComparer.Ordinal))}).", ExitCodes.Usage),
        };
        var session = await client.CreateChatSessionAsync(new CreateChatSessionRequest(ChatSessionTypes.HumanAgent,
            new() { ["ai_agent"] = new ChatParticipantRequest(provider, model, ["conversation"], personality) }), ct);
        var ai = session.Agents["ai_agent"];
        var terminal = !Console.IsInputRedirected;
        Console.Error.WriteLine($"session {session.SessionId} with {ai.Provider}/{ai.Model}" + (terminal ? "; type a message, /quit to end" : ""));
        try
        {
            await using var link = await client.ConnectChatAsync(session.SessionId, ct: ct);
            await using var frames = link.ReadAllAsync(ct).GetAsyncEnumerator(ct);
            await ConnectedAsync(frames, link);
            while (true)
            {
                if (terminal)
                {
                    Console.Error.Write("you> ");
                }
                var line = await Console.In.ReadLineAsync(ct);
                if (line is null || line.Trim() == "/quit")
                {
                    return ExitCodes.Ok;
                }
                if (line.Trim().Length == 0)
                {
                    continue;
                }
                await link.SendTextAsync(line, ct: ct);
                if (await AnswerAsync(frames, link, ai.AgentId, terminal) is { } failed)
                {
                    return failed;
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return ExitCodes.Interrupted;
        }
        finally
        {
            await EndAsync(client, session.SessionId);
        }
    }

    /// <summary>Prints one answer: its chunks as they stream, then a new line. An exit code when the session ended, null to go on.</summary>
    private static async Task<int?> AnswerAsync(IAsyncEnumerator<ChatSocketMessage> frames, ChatLink link, string aiId, bool terminal)
    {
        var streamed = false;
        while (await frames.MoveNextAsync())
        {
            var m = frames.Current;
            switch (m.Type)
            {
                case ChatFrameTypes.Info when IsChunk(m) && m.Sender == aiId:
                    if (!streamed && terminal)
                    {
                        Console.Error.Write("ai> ");
                    }
                    Console.Write(m.Content);
                    streamed = true;
                    break;
                case ChatFrameTypes.Text or ChatFrameTypes.Response when m.Sender == aiId:
                    Console.WriteLine(streamed ? "" : m.Content);
                    return null;
                case ChatFrameTypes.Error or ChatFrameTypes.Cooldown:
                    Problem(m, streamed);
                    return null;
                case ChatFrameTypes.System when Meta(m, "reason") is { } reason:
                    EndLine(streamed);
                    Console.Error.WriteLine($"the hub ended the session ({reason}): {m.Content}");
                    return ExitCodes.Error;
            }
        }
        throw Closed(link);
    }

    private static async Task<int> WatchAsync(HubClient client, string pair, string topic, int turns, CancellationToken ct)
    {
        var specs = pair.Split(',', StringSplitOptions.TrimEntries);
        if (specs.Length != 2 || specs.Any(s => s.Length == 0))
        {
            throw new CliException("--agents takes exactly two participants, e.g. --agents local,local:m2.", ExitCodes.Usage);
        }
        var providers = await client.ListChatProvidersAsync(ct);
        ChatParticipantRequest Participant(string spec)
        {
            var colon = spec.IndexOf(':', StringComparison.Ordinal);
            var name = colon < 0 ? spec : spec[..colon];
            if (providers.ContainsKey(name))
            {
                return new ChatParticipantRequest(name, colon < 0 ? null : spec[(colon + 1)..], ["conversation"]);
            }
            if (colon < 0)
            {
                return new ChatParticipantRequest(ChatProviderNames.Registry, AgentId: spec);
            }
            throw new CliException($"unknown provider '{name}' (configured: {(providers.Count == 0 ? "none" : string.Join(", ", providers.Keys.Order(StringComparer.Ordinal)))}).", ExitCodes.Usage);
        }
        var session = await client.CreateChatSessionAsync(new CreateChatSessionRequest(ChatSessionTypes.AgentAgent,
            new() { ["agent1"] = Participant(specs[0]), ["agent2"] = Participant(specs[1]) },
            Metadata: JsonSerializer.SerializeToElement(new { max_turns = turns })), ct);
        var labels = session.Agents.ToDictionary(kv => kv.Value.AgentId, kv => $"{kv.Key} ({kv.Value.Provider}/{kv.Value.Model})", StringComparer.Ordinal);
        Console.Error.WriteLine($"session {session.SessionId}: {string.Join(" and ", labels.Values)} talk about \"{topic}\"");
        ChatLink? open = null;
        try
        {
            await using var link = open = await client.ConnectChatAsync(session.SessionId, ct: ct);
            await using var frames = link.ReadAllAsync(ct).GetAsyncEnumerator(ct);
            await ConnectedAsync(frames, link);
            await link.SendTextAsync(topic, ChatSessionTypes.AgentAgent, ct);
            string? speaking = null;
            var said = 0;
            while (await frames.MoveNextAsync())
            {
                var m = frames.Current;
                var label = m.Sender is { } s && labels.TryGetValue(s, out var l) ? l : m.Sender;
                switch (m.Type)
                {
                    case ChatFrameTypes.Info when IsChunk(m):
                        if (speaking != m.Sender)
                        {
                            EndLine(speaking is not null);
                            Console.Write($"{label}: ");
                            speaking = m.Sender;
                        }
                        Console.Write(m.Content);
                        break;
                    case ChatFrameTypes.Info when Meta(m, "max_turns") is { } max && max != turns.ToString(System.Globalization.CultureInfo.InvariantCulture):
                        Console.Error.WriteLine($"(the hub allows at most {max} turns)");
                        break;
                    case ChatFrameTypes.Text or ChatFrameTypes.Response when m.Sender is not null && labels.ContainsKey(m.Sender):
                        Console.WriteLine(speaking == m.Sender ? "" : $"{label}: {m.Content}");
                        speaking = null;
                        said++;
                        break;
                    case ChatFrameTypes.Error or ChatFrameTypes.Cooldown:
                        Problem(m, speaking is not null);
                        speaking = null;
                        break;
                    case ChatFrameTypes.System or ChatFrameTypes.Stop when Meta(m, "reason") is { } reason:
                        EndLine(speaking is not null);
                        Console.Error.WriteLine($"{m.Content} ({reason}, {said} turns)");
                        return reason is "turn_limit" or "goal_achieved" or "stop" ? ExitCodes.Ok : ExitCodes.Error;
                }
            }
            throw Closed(link);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            if (open is not null)
            {
                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try
                {
                    await open.StopAsync(grace.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or System.Net.WebSockets.WebSocketException or ObjectDisposedException)
                {
                    // Ending the session below stops the agents too.
                }
            }
            return ExitCodes.Interrupted;
        }
        finally
        {
            await EndAsync(client, session.SessionId);
        }
    }

    /// <summary>Waits for the hub's "Connected to session." (the first message of an admitted link).</summary>
    private static async Task ConnectedAsync(IAsyncEnumerator<ChatSocketMessage> frames, ChatLink link)
    {
        while (await frames.MoveNextAsync())
        {
            if (frames.Current.Type == ChatFrameTypes.System)
            {
                return;
            }
        }
        throw Closed(link);
    }

    /// <summary>Ends the session on the way out (Ctrl-C included: a fresh token, 5 s at most); a failure is reported, not thrown.</summary>
    private static async Task EndAsync(HubClient client, string sessionId)
    {
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await client.EndChatSessionAsync(sessionId, grace.Token);
            Console.Error.WriteLine($"session {sessionId} ended");
        }
        catch (Exception ex) when (ex is HubApiException or HttpRequestException or OperationCanceledException)
        {
            Console.Error.WriteLine($"session {sessionId}: could not end it ({ex.Message})");
        }
    }

    private static CliException Closed(ChatLink link) =>
        new($"the hub closed the chat link ({link.CloseCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "no code"}): {link.CloseReason}");

    private static bool IsChunk(ChatSocketMessage m) =>
        m.Metadata is { ValueKind: JsonValueKind.Object } meta && meta.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;

    private static string? Meta(ChatSocketMessage m, string name) =>
        m.Metadata is { ValueKind: JsonValueKind.Object } meta && meta.TryGetProperty(name, out var v)
            ? v.ValueKind == JsonValueKind.String ? v.GetString() : v.GetRawText()
            : null;

    /// <summary>An error (with its code) or a cooldown notice on stderr, after ending a streamed line that was open.</summary>
    private static void Problem(ChatSocketMessage m, bool lineOpen)
    {
        EndLine(lineOpen);
        Console.Error.WriteLine(m.Type == ChatFrameTypes.Error ? $"error {Meta(m, "code") ?? "ERROR"}: {m.Content}" : m.Content);
    }

    private static void EndLine(bool open)
    {
        if (open)
        {
            Console.WriteLine();
        }
    }
}
