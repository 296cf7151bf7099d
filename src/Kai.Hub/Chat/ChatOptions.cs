namespace Kai.Hub.Chat;

/// <summary>The <c>Kai:Chat</c> section: AgentConnect chat sessions (seed 003 "Keep Alive", "Rate Limiting").</summary>
internal sealed class ChatOptions
{
    public const string Section = HubOptions.Section + ":Chat";

    /// <summary>The server's <c>ping</c> frame period (seed: 30 s).</summary>
    public TimeSpan PingInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>No client frame for this long (plus <see cref="InactivityGrace"/>) closes the chat link with 4002 (seed: 30 s).</summary>
    public TimeSpan InactivityTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Slack added to <see cref="InactivityTimeout"/>: the reference client's own heartbeat is every 30 s, so without it an
    /// idle but healthy client would race the timeout (default 5 s).</summary>
    public TimeSpan InactivityGrace { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A session's lifetime from its creation; then links close with 4002 and it ends (seed: 3600 s).</summary>
    public TimeSpan SessionTimeout { get; set; } = TimeSpan.FromSeconds(3600);

    /// <summary>Client frames per minute on one chat link; one more closes it with 4004 (seed: 60).</summary>
    public int MessagesPerMinute { get; set; } = 60;

    /// <summary>The largest client frame, in bytes, answered normally; larger ones get an error frame (default 16 KiB).</summary>
    public int MaxMessageBytes { get; set; } = 16 * 1024;

    /// <summary>The longest message text, in characters (default 8000).</summary>
    public int MaxContentLength { get; set; } = 8000;

    /// <summary>Agent turns in an agent-to-agent exchange before it stops (default 10; a session's <c>metadata.max_turns</c> may lower it).</summary>
    public int MaxTurns { get; set; } = 10;

    /// <summary>Text that, in an agent's turn, means the goal is reached and the exchange ends (default <c>GOAL_ACHIEVED</c>).</summary>
    public string GoalMarker { get; set; } = "GOAL_ACHIEVED";

    /// <summary>Whether a hosted agent's system prompt names <see cref="GoalMarker"/> in an agent-to-agent session (default true).</summary>
    public bool GoalInstruction { get; set; } = true;

    /// <summary>Earlier messages of the session given to a hosted agent with each turn (default 40).</summary>
    public int HistoryTurns { get; set; } = 40;

    /// <summary>How long a provider that answered 429 is left alone (the <c>cooldown</c> frame's <c>cooldown_until</c>; default 60 s).</summary>
    public TimeSpan Cooldown { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Whether problems are reported; all at once.</summary>
    public IEnumerable<string> Problems()
    {
        if (PingInterval <= TimeSpan.Zero || PingInterval > TimeSpan.FromHours(1)) { yield return "PingInterval must be more than 0 and at most 1 hour"; }
        if (InactivityTimeout <= TimeSpan.Zero || InactivityTimeout > TimeSpan.FromDays(1)) { yield return "InactivityTimeout must be more than 0 and at most 1 day"; }
        if (InactivityGrace < TimeSpan.Zero || InactivityGrace > TimeSpan.FromHours(1)) { yield return "InactivityGrace must be 0 to 1 hour"; }
        if (SessionTimeout <= TimeSpan.Zero || SessionTimeout > TimeSpan.FromDays(30)) { yield return "SessionTimeout must be more than 0 and at most 30 days"; }
        if (MessagesPerMinute is < 1 or > 100_000) { yield return "MessagesPerMinute must be 1 to 100000"; }
        if (MaxMessageBytes is < 256 or > 1024 * 1024) { yield return "MaxMessageBytes must be 256 to 1048576"; }
        if (MaxContentLength is < 1 or > 1_000_000) { yield return "MaxContentLength must be 1 to 1000000"; }
        if (MaxTurns is < 1 or > 1000) { yield return "MaxTurns must be 1 to 1000"; }
        if (string.IsNullOrEmpty(GoalMarker)) { yield return "GoalMarker must not be empty"; }
        if (HistoryTurns is < 0 or > 1000) { yield return "HistoryTurns must be 0 to 1000"; }
        if (Cooldown < TimeSpan.Zero || Cooldown > TimeSpan.FromHours(1)) { yield return "Cooldown must be 0 to 1 hour"; }
    }
}
