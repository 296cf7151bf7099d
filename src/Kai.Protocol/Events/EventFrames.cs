using System.Text.Json;

namespace Kai.Protocol.Frames
{
    /// <summary>Frame types of the event link <c>/ws</c>, prompt streams and logs (issue 4; seeds 000 and 004).</summary>
    public static partial class FrameTypes
    {
        /// <summary>Client to hub on <c>/ws</c>: subscribe to topic patterns (seed 000 <c>subscribeEvents</c> with seed 004 patterns). Payload: <see cref="Events.SubscribePayload"/>; ack: <see cref="Events.SubscribeAck"/>.</summary>
        public const string Subscribe = "subscribe";
        /// <summary>Client to hub on <c>/ws</c>: drop patterns. Payload: <see cref="Events.UnsubscribePayload"/>; ack <c>{unsubscribed: [patterns]}</c>.</summary>
        public const string Unsubscribe = "unsubscribe";
        /// <summary>Client to hub on <c>/ws</c>: publish an event where the role allows it. Payload: <see cref="Events.PublishPayload"/>; ack <c>{id, topic}</c>.</summary>
        public const string Publish = "publish";
        /// <summary>Hub to client on <c>/ws</c>, and to observers of an agent on <c>/ws/agents/{id}</c> (task and workflow events): one event. Payload: <see cref="Events.EventMessage"/> (seed 004 "WebSocket Message Format" plus <c>topic</c>).</summary>
        public const string Event = "event";
        /// <summary>Hub to client on <c>/ws</c>: the history no longer covers what a <c>since</c> asked for. Payload: <see cref="Events.GapPayload"/>.</summary>
        public const string Gap = "gap";
        /// <summary>Hub to agent: start a prompt stream (seed 000 "stream-prompt"). Payload: <see cref="Events.StreamPromptPayload"/>.</summary>
        public const string StreamPrompt = "stream_prompt";
        /// <summary>Agent to hub, and hub to the stream's observers (seed 000 <c>streamChunk</c>). Payload: <see cref="Events.StreamChunkPayload"/>.</summary>
        public const string StreamChunk = "stream_chunk";
        /// <summary>Observer to hub, hub to agent, and hub to observers (seed 000 <c>streamControl</c>). Payload: <see cref="Events.StreamControlPayload"/>.</summary>
        public const string StreamControl = "stream_control";
        /// <summary>Observer to hub: (re)attach to a stream from a chunk index, after a reconnect. Payload: <see cref="Events.StreamResumePayload"/>; ack: <see cref="Events.StreamResumeAck"/>.</summary>
        public const string StreamResume = "stream_resume";
    }
}

namespace Kai.Protocol.Events
{
    /// <summary>Payload of a <c>subscribe</c> frame on <c>/ws</c>.</summary>
    /// <param name="Events">1 to 32 topic patterns (see <see cref="Topics"/>), for example <c>["task.*.completed", "system.alert"]</c>. Subscribing to a pattern again replaces its filters.</param>
    /// <param name="Filters">
    /// Optional object of payload field filters (seed 004): each key is a field of the event's <c>payload</c> (a dotted key
    /// such as <c>details.status</c> walks into objects); a scalar value must equal the field, an array lists the values allowed,
    /// e.g. <c>{"priority": ["high", "critical"], "project_id": "proj-456"}</c>. All keys must match. At most 16 keys and
    /// 64 values per key. An event without the field does not match.
    /// </param>
    /// <param name="Since">
    /// Optional recovery position: an event id string <c>"{epoch}-{offset}"</c> or an object <c>{epoch, offset}</c>
    /// (<see cref="EventPosition"/>). Events after it that are still in history are replayed before live ones; when history
    /// does not reach back that far a <c>gap</c> frame comes first.
    /// </param>
    /// <param name="Topics">Seed 004's name for <paramref name="Events"/> (<c>{agent_id?, topics: [...], filters}</c>); used when
    /// <paramref name="Events"/> is absent.</param>
    /// <param name="AgentId">Seed 004's optional <c>agent_id</c> of the subscriber; accepted and ignored (the link's principal is the subscriber).</param>
    public sealed record SubscribePayload(
        IReadOnlyList<string>? Events, JsonElement? Filters = null, JsonElement? Since = null, IReadOnlyList<string>? Topics = null, string? AgentId = null);

    /// <summary>The ack of a <c>subscribe</c> frame; it arrives before any replayed event.</summary>
    /// <param name="Subscribed">The patterns now subscribed by this frame.</param>
    /// <param name="Epoch">The hub's current epoch.</param>
    /// <param name="Position">The id of the last event published so far (<c>"{epoch}-0"</c> before any).</param>
    /// <param name="Recovered"><see langword="true"/> when <c>since</c> was given and everything after it is replayed; <see langword="false"/> when a <c>gap</c> follows or no <c>since</c> was given.</param>
    /// <param name="Replayed">How many events from history follow this ack.</param>
    public sealed record SubscribeAck(IReadOnlyList<string> Subscribed, string Epoch, string Position, bool Recovered, int Replayed);

    /// <summary>Payload of an <c>unsubscribe</c> frame on <c>/ws</c>.</summary>
    /// <param name="Events">The patterns to drop, exactly as subscribed; unknown ones are ignored.</param>
    public sealed record UnsubscribePayload(IReadOnlyList<string>? Events);

    /// <summary>Payload of a <c>publish</c> frame on <c>/ws</c>, and body of <c>POST /api/v1/events</c> (seed 004 <c>publication</c>).</summary>
    /// <param name="Topic">A concrete topic in a namespace the role may publish to (<c>app.&gt;</c>, <c>custom.&gt;</c>; admins also <c>system.&gt;</c>). The event type is the topic.</param>
    /// <param name="Data">The event's payload: any JSON value, at most 64 KiB serialized by default.</param>
    /// <param name="CorrelationId">Optional correlation id, at most 128 characters.</param>
    /// <param name="TargetAgent">Optional agent id the event is meant for; informational, it does not restrict delivery.</param>
    public sealed record PublishPayload(string? Topic, JsonElement Data, string? CorrelationId = null, string? TargetAgent = null);

    /// <summary>The answer to a publish (ack payload on <c>/ws</c>, 202 body on REST).</summary>
    /// <param name="Id">The event id <c>"{epoch}-{offset}"</c>.</param>
    /// <param name="Topic">The topic it was published to.</param>
    public sealed record PublishAck(string Id, string Topic);

    /// <summary>
    /// One event: the seed 004 "WebSocket Message Format" plus the topic. Payload of the <c>event</c> frame, the <c>data:</c> of an
    /// SSE <c>event</c>, and an item of a long-polling answer.
    /// </summary>
    /// <param name="Id">The event id <c>"{epoch}-{offset}"</c>; use it as <c>since</c>, <c>Last-Event-ID</c> or polling cursor.</param>
    /// <param name="Timestamp">When the hub published it, ISO 8601 UTC.</param>
    /// <param name="EventType">The seed 004 event type, for example <c>task.completed</c> or <c>agent.status_changed</c>; for client publications, the topic.</param>
    /// <param name="Topic">The topic: the event type with its subject after the first segment, e.g. <c>agent.bot-1.status_changed</c>.</param>
    /// <param name="SourceAgent">The agent that caused or published it, when there is one.</param>
    /// <param name="TargetAgent">The agent it is meant for, when there is one.</param>
    /// <param name="CorrelationId">The correlation id, when there is one.</param>
    /// <param name="Payload">The event's data.</param>
    public sealed record EventMessage(
        string Id, DateTimeOffset Timestamp, string EventType, string Topic, string? SourceAgent, string? TargetAgent, string? CorrelationId, JsonElement Payload);

    /// <summary>
    /// Payload of a <c>gap</c> frame (and the <c>gap</c> SSE event, and <c>gap_info</c> of a polling answer): the events after
    /// <see cref="Requested"/> cannot all be recovered. The events still available follow; the client should re-read the state it derives from events.
    /// </summary>
    /// <param name="Requested">The position asked for, as an id.</param>
    /// <param name="Epoch">The current epoch.</param>
    /// <param name="FirstAvailable">The id of the oldest event still in history for the requested patterns, or <see langword="null"/> when none is.</param>
    /// <param name="Current">The id of the last event published.</param>
    /// <param name="Reason"><c>epoch_changed</c> (the hub restarted; history from before is gone) or <c>history_trimmed</c> (events passed the history limits by count or age).</param>
    /// <param name="Events">The patterns the gap is about.</param>
    public sealed record GapPayload(string Requested, string Epoch, string? FirstAvailable, string Current, string Reason, IReadOnlyList<string> Events);

    /// <summary>The first frame on <c>/ws</c>.</summary>
    /// <param name="PrincipalId">The authenticated user or agent id.</param>
    /// <param name="Role">The principal's role: <c>user</c>, <c>developer</c>, <c>agent</c> or <c>admin</c>.</param>
    /// <param name="Epoch">The hub's current epoch.</param>
    /// <param name="Position">The id of the last event published so far.</param>
    /// <param name="MaxFrameBytes">The largest frame the hub accepts, in bytes; larger ones close the link with 1009.</param>
    /// <param name="MaxPatterns">The most patterns one link may hold.</param>
    /// <param name="MaxPublishBytes">The largest <c>data</c> a publish may carry, in bytes of JSON.</param>
    public sealed record EventLinkWelcome(string PrincipalId, string Role, string Epoch, string Position, int MaxFrameBytes, int MaxPatterns, int MaxPublishBytes);

    /// <summary>Answer of a long poll, <c>GET /api/v1/events</c>.</summary>
    /// <param name="Events">The events after the cursor, oldest first, at most <c>limit</c>.</param>
    /// <param name="NextCursor">The cursor for the next poll (the id of the last event returned, or of the last one looked at).</param>
    /// <param name="Gap"><see langword="true"/> when events after <c>since</c> were lost; then <paramref name="GapInfo"/> says what.</param>
    /// <param name="GapInfo">Details of the gap, as in the <c>gap</c> frame.</param>
    public sealed record EventPollResponse(IReadOnlyList<EventMessage> Events, string NextCursor, bool Gap, GapPayload? GapInfo = null);

    /// <summary>Body of <c>POST /api/v1/agents/{agent_id}/stream-prompt</c> (seed 000).</summary>
    /// <param name="Prompt">The prompt, 1 to 100,000 characters.</param>
    /// <param name="StreamId">Optional id chosen by the caller (1 to 64 of <c>A-Z a-z 0-9 _ -</c>); generated as <c>str_…</c> when absent.</param>
    /// <param name="Context">Optional object passed to the agent as is.</param>
    public sealed record StreamPromptRequest(string? Prompt, string? StreamId = null, JsonElement? Context = null);

    /// <summary>Answer of <c>POST /api/v1/agents/{agent_id}/stream-prompt</c> (seed 000).</summary>
    /// <param name="StreamId">The stream id.</param>
    /// <param name="WebsocketUrl">The observer link to read the chunks from: <c>ws(s)://host/ws/agents/{agent_id}?stream_id=…</c>; connecting with it attaches to the stream from chunk 0.</param>
    /// <param name="EstimatedTokens">A rough size of the prompt in tokens (characters / 4, rounded up).</param>
    public sealed record StreamPromptResponse(string StreamId, string WebsocketUrl, int EstimatedTokens);

    /// <summary>Payload of the <c>stream_prompt</c> frame the agent receives.</summary>
    /// <param name="StreamId">The stream to answer with <c>stream_chunk</c> frames.</param>
    /// <param name="Prompt">The prompt.</param>
    /// <param name="Context">The caller's context object, if any.</param>
    public sealed record StreamPromptPayload(string StreamId, string Prompt, JsonElement? Context = null);

    /// <summary>Payload of a <c>stream_chunk</c> frame (seed 000 <c>streamChunk</c>).</summary>
    /// <param name="StreamId">The stream.</param>
    /// <param name="Chunk">The text of this chunk (at most 64 KiB).</param>
    /// <param name="ChunkIndex">0, 1, 2, … with no gaps. The agent must send them in order; a repeated index is acked as a duplicate, a skipped one is an error.</param>
    /// <param name="IsFinal">Whether this is the last chunk; the stream then completes.</param>
    /// <param name="Metadata">Optional object, for example token counts.</param>
    /// <param name="AgentId">Set by the hub on chunks it relays to observers.</param>
    public sealed record StreamChunkPayload(string StreamId, string? Chunk, int ChunkIndex, bool IsFinal = false, JsonElement? Metadata = null, string? AgentId = null);

    /// <summary>Payload of a <c>stream_control</c> frame (seed 000 <c>streamControl</c>).</summary>
    /// <param name="StreamId">The stream.</param>
    /// <param name="Action"><c>pause</c>, <c>resume</c> or <c>cancel</c>.</param>
    /// <param name="Reason">Set by the hub when it acts on its own: <c>pause_buffer_full</c> (a pause buffered more than the bound) or <c>abandoned</c> (no activity for the idle timeout); <c>observer</c> when an observer asked.</param>
    public sealed record StreamControlPayload(string StreamId, string? Action, string? Reason = null);

    /// <summary>Payload of a <c>stream_resume</c> frame: an observer (re)attaches to a stream.</summary>
    /// <param name="StreamId">The stream.</param>
    /// <param name="FromChunkIndex">The first chunk index wanted (0 for all); chunks from it on are sent again, in order, then live ones.</param>
    public sealed record StreamResumePayload(string StreamId, int FromChunkIndex = 0);

    /// <summary>The ack of <c>stream_resume</c>; the replayed chunks follow it.</summary>
    /// <param name="StreamId">The stream.</param>
    /// <param name="State"><c>running</c>, <c>paused</c>, <c>completed</c> or <c>cancelled</c>.</param>
    /// <param name="Replayed">How many chunks follow at once.</param>
    /// <param name="NextChunkIndex">The index of the next chunk the observer will get.</param>
    public sealed record StreamResumeAck(string StreamId, string State, int Replayed, int NextChunkIndex);

    /// <summary>The ack of a <c>stream_control</c> frame from an observer.</summary>
    /// <param name="StreamId">The stream.</param>
    /// <param name="State">The stream's state after the action: <c>running</c>, <c>paused</c>, <c>completed</c> or <c>cancelled</c>.</param>
    /// <param name="NextChunkIndex">The index of the next chunk this observer will get.</param>
    public sealed record StreamControlAck(string StreamId, string State, int NextChunkIndex);

    /// <summary>One stored agent log entry (seed 000 <c>LogEntry</c>).</summary>
    /// <param name="LogId">The hub's id of the entry (increasing).</param>
    /// <param name="AgentId">The agent.</param>
    /// <param name="Level"><c>debug</c>, <c>info</c>, <c>warn</c> or <c>error</c>.</param>
    /// <param name="Message">The text.</param>
    /// <param name="Component">Optional component.</param>
    /// <param name="Timestamp">The entry's time: the agent's, or the frame's when it gave none.</param>
    /// <param name="Context">Optional structured context.</param>
    public sealed record LogEntry(long LogId, string AgentId, string Level, string Message, string? Component, DateTimeOffset Timestamp, JsonElement? Context = null);

    /// <summary>Answer of <c>GET /api/v1/agents/{agent_id}/logs?format=json</c> (seed 000).</summary>
    /// <param name="Logs">Entries, newest first, at most <c>limit</c>.</param>
    /// <param name="Total">How many stored entries match the filters (<c>level</c>, <c>since</c>), over all pages.</param>
    /// <param name="NextCursor">Pass as <c>cursor</c> to get the next (older) page; absent on the last page.</param>
    public sealed record LogsResponse(IReadOnlyList<LogEntry> Logs, int Total, string? NextCursor = null);
}
