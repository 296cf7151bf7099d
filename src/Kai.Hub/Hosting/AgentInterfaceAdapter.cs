using Kai.Protocol;

namespace Kai.Hub.Hosting;

/// <summary>
/// Seed 002 §V <c>AgentInterfaceAdapter</c>: translates an invocation into an external tool's API and back. The
/// OpenAI-compatible LLM adapter is <see cref="OpenAiCompatibleAdapter"/>; webhook and shell adapters will implement it too.
/// </summary>
internal interface IAgentInterfaceAdapter
{
    /// <summary>Runs the invocation to completion.</summary>
    /// <exception cref="LlmException">Rate limited, unavailable, timed out, or a bad response (after retries).</exception>
    Task<AdapterResult> InvokeAsync(AdapterInvocation invocation, CancellationToken ct);

    /// <summary>Runs the invocation and yields its output as it is produced (tokens, for an LLM).</summary>
    /// <exception cref="LlmException">As <see cref="InvokeAsync"/>; only failures before the first chunk are retried.</exception>
    IAsyncEnumerable<AdapterChunk> StreamAsync(AdapterInvocation invocation, CancellationToken ct);
}

/// <summary>One chat message: <c>system</c>, <c>user</c> or <c>assistant</c>.</summary>
internal sealed record ChatTurn(string Role, string Content);

/// <summary>What an adapter is asked: the whole conversation (history already included) and the seed's <c>options</c>.</summary>
/// <param name="Messages">The messages, oldest first.</param>
/// <param name="Model">The model; the adapter's default when null.</param>
/// <param name="Temperature">0 to 2; the server's default when null.</param>
/// <param name="MaxTokens">Upper bound of output tokens; the server's default when null.</param>
internal sealed record AdapterInvocation(IReadOnlyList<ChatTurn> Messages, string? Model = null, float? Temperature = null, int? MaxTokens = null);

/// <summary>The adapter's answer.</summary>
/// <param name="Text">The output text.</param>
/// <param name="Model">The model that answered (as reported by the server, else as requested).</param>
/// <param name="InputTokens">Prompt tokens, when the server reports usage.</param>
/// <param name="OutputTokens">Completion tokens, when the server reports usage.</param>
/// <param name="Retries">How many retries (after 429 or 5xx) it took.</param>
internal sealed record AdapterResult(string Text, string Model, long? InputTokens, long? OutputTokens, int Retries)
{
    /// <summary>The delay before each retry: the server's <c>Retry-After</c> when it sent one, else the exponential backoff.</summary>
    public IReadOnlyList<TimeSpan> RetryDelays { get; init; } = [];
}

/// <summary>One piece of streamed output.</summary>
/// <param name="Text">The text of this piece (may be empty on the last one).</param>
/// <param name="Index">0, 1, 2, … in order.</param>
internal sealed record AdapterChunk(string Text, int Index);

/// <summary>A failed adapter call, with a stable code: <see cref="ErrorCodes.LlmRateLimited"/>, <see cref="ErrorCodes.LlmUnavailable"/>,
/// <see cref="ErrorCodes.LlmTimeout"/> or <see cref="ErrorCodes.LlmBadResponse"/>.</summary>
internal sealed class LlmException(string code, string message, int? upstreamStatus = null, int retries = 0, Exception? inner = null)
    : Exception(message, inner)
{
    public string Code { get; } = code;

    /// <summary>The provider's HTTP status, when it answered.</summary>
    public int? UpstreamStatus { get; } = upstreamStatus;

    /// <summary>Retries made before giving up.</summary>
    public int Retries { get; } = retries;
}
