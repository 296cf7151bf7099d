using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Kai.Protocol;
using Microsoft.Extensions.AI;
using OpenAI;
using Polly;
using Polly.Retry;

namespace Kai.Hub.Hosting;

/// <summary>
/// Seed 002 §V's OpenAI-compatible LLM adapter, on <c>Microsoft.Extensions.AI</c>'s <see cref="IChatClient"/> over the
/// official OpenAI SDK, so any server speaking <c>POST {base_url}/chat/completions</c> works (OpenAI, Ollama, vLLM,
/// llama.cpp's server, Groq).
/// </summary>
/// <remarks>
/// The SDK's own retries are off: Polly (<c>Polly.Core</c>) retries 429 and 5xx (and refused connections) with
/// exponential backoff from 0.5 s, honouring <c>Retry-After</c> (seconds or an HTTP date), capped at
/// <see cref="ProviderOptions.MaxRetryDelay"/>. The whole call, retries included, is bounded by
/// <see cref="ProviderOptions.Timeout"/> on the hub's <see cref="TimeProvider"/>. A stream is retried only before its
/// first chunk; once text went out, a failure ends it.
/// </remarks>
internal sealed class OpenAiCompatibleAdapter : IAgentInterfaceAdapter
{
    private readonly IChatClient _chat;
    private readonly string _model;
    private readonly TimeSpan _timeout;
    private readonly ResiliencePipeline _retry;
    private readonly TimeProvider _time;
    private readonly AsyncLocal<RetryLog> _retries = new();

    /// <param name="baseUrl">The API root, for example <c>http://127.0.0.1:11434/v1</c>.</param>
    /// <param name="apiKey">The key sent as <c>Authorization: Bearer</c>; local servers accept any non-empty value.</param>
    /// <param name="model">The default model.</param>
    /// <param name="provider">Timeout and retry settings.</param>
    /// <param name="time">The clock for the timeout and the backoff.</param>
    public OpenAiCompatibleAdapter(Uri baseUrl, string? apiKey, string model, ProviderOptions provider, TimeProvider time)
    {
        _model = model;
        _time = time;
        _timeout = TimeSpan.FromSeconds(provider.Timeout);
        var options = new OpenAIClientOptions
        {
            Endpoint = baseUrl,
            // Polly below does the retries, so that they honour Retry-After and count against our timeout.
            RetryPolicy = new ClientRetryPolicy(0),
            // Our own timeout (below) is the one that applies; the SDK's is only a backstop.
            NetworkTimeout = _timeout + TimeSpan.FromSeconds(5),
        };
        var client = new OpenAIClient(new ApiKeyCredential(string.IsNullOrEmpty(apiKey) ? "unused" : apiKey), options);
        _chat = client.GetChatClient(model).AsIChatClient();
        var maxDelay = TimeSpan.FromSeconds(provider.MaxRetryDelay);
        _retry = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = Math.Max(1, provider.MaxRetries),
                BackoffType = DelayBackoffType.Exponential,
                Delay = TimeSpan.FromMilliseconds(500),
                MaxDelay = maxDelay,
                UseJitter = false,
                ShouldHandle = args => ValueTask.FromResult(provider.MaxRetries > 0 && args.Outcome.Exception is { } e && IsTransient(e)),
                DelayGenerator = args => ValueTask.FromResult(RetryAfter(args.Outcome.Exception, maxDelay)),
                OnRetry = args =>
                {
                    _retries.Value?.Delays.Add(args.RetryDelay);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    public async Task<AdapterResult> InvokeAsync(AdapterInvocation invocation, CancellationToken ct)
    {
        var (messages, options) = Map(invocation);
        var retries = _retries.Value = new RetryLog();
        using var deadline = new CancellationTokenSource(_timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, deadline.Token);
        try
        {
            var response = await _retry.ExecuteAsync(async token => await _chat.GetResponseAsync(messages, options, token), linked.Token);
            if (response.Messages.Count == 0)
            {
                throw new LlmException(ErrorCodes.LlmBadResponse, "The LLM server answered with no choices.", retries: retries.Value);
            }
            return new AdapterResult(response.Text, response.ModelId ?? options.ModelId ?? _model,
                response.Usage?.InputTokenCount, response.Usage?.OutputTokenCount, retries.Value) { RetryDelays = retries.Delays };
        }
        catch (Exception e) when (e is not LlmException)
        {
            throw Translate(e, deadline, ct, retries.Value);
        }
    }

    public async IAsyncEnumerable<AdapterChunk> StreamAsync(AdapterInvocation invocation, [EnumeratorCancellation] CancellationToken ct)
    {
        var (messages, options) = Map(invocation);
        var retries = _retries.Value = new RetryLog();
        using var deadline = new CancellationTokenSource(_timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, deadline.Token);
        IAsyncEnumerator<ChatResponseUpdate>? updates = null;
        try
        {
            // Retried until the first update arrives; a failure later ends the stream.
            bool any;
            try
            {
                (updates, any) = await _retry.ExecuteAsync(async token =>
                {
                    var e = _chat.GetStreamingResponseAsync(messages, options, token).GetAsyncEnumerator(token);
                    try
                    {
                        return (e, await e.MoveNextAsync());
                    }
                    catch
                    {
                        await e.DisposeAsync();
                        throw;
                    }
                }, linked.Token);
            }
            catch (Exception e) when (e is not LlmException)
            {
                throw Translate(e, deadline, ct, retries.Value);
            }
            var index = 0;
            while (any)
            {
                var text = updates.Current.Text;
                if (!string.IsNullOrEmpty(text))
                {
                    yield return new AdapterChunk(text, index++);
                }
                try
                {
                    any = await updates.MoveNextAsync();
                }
                catch (Exception e) when (e is not LlmException)
                {
                    throw Translate(e, deadline, ct, retries.Value);
                }
            }
        }
        finally
        {
            if (updates is not null)
            {
                await updates.DisposeAsync();
            }
        }
    }

    private (List<ChatMessage> Messages, ChatOptions Options) Map(AdapterInvocation invocation)
    {
        var messages = invocation.Messages.Select(m => new ChatMessage(m.Role switch
        {
            "system" => ChatRole.System,
            "assistant" => ChatRole.Assistant,
            _ => ChatRole.User,
        }, m.Content)).ToList();
        var options = new ChatOptions
        {
            ModelId = invocation.Model ?? _model,
            Temperature = invocation.Temperature,
            MaxOutputTokens = invocation.MaxTokens,
        };
        return (messages, options);
    }

    /// <summary>The retries of one call (Polly's OnRetry runs in the call's async flow).</summary>
    private sealed class RetryLog
    {
        public List<TimeSpan> Delays { get; } = [];

        public int Value => Delays.Count;
    }

    private static bool IsTransient(Exception e) => e switch
    {
        ClientResultException c => c.Status is 0 or 408 or 429 or >= 500,
        HttpRequestException => true,
        _ => false,
    };

    /// <summary>The server's <c>Retry-After</c> (seconds or HTTP date) when it sent one, capped; else null (Polly's backoff).</summary>
    private TimeSpan? RetryAfter(Exception? e, TimeSpan cap)
    {
        if (e is not ClientResultException c || c.GetRawResponse() is not { } response
            || !response.Headers.TryGetValue("Retry-After", out var value) || string.IsNullOrWhiteSpace(value))
        {
            return null;
        }
        TimeSpan? after = null;
        if (double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds >= 0)
        {
            after = TimeSpan.FromSeconds(seconds);
        }
        else if (DateTimeOffset.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var at))
        {
            var wait = at - _time.GetUtcNow();
            after = wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
        }
        return after is { } a && a > cap ? cap : after;
    }

    private static LlmException Translate(Exception e, CancellationTokenSource deadline, CancellationToken caller, int retries)
    {
        if (e is OperationCanceledException && caller.IsCancellationRequested)
        {
            // The caller gave up (hub stopping, task canceled): not the provider's fault.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e);
        }
        if (deadline.IsCancellationRequested || e is OperationCanceledException or TimeoutException)
        {
            return new LlmException(ErrorCodes.LlmTimeout, "The LLM server did not answer within the provider's timeout.", retries: retries, inner: e);
        }
        return e switch
        {
            ClientResultException { Status: 429 } c => new LlmException(ErrorCodes.LlmRateLimited,
                $"The LLM server kept answering 429 (rate limited) after {retries} retries: {Brief(c)}", 429, retries, e),
            ClientResultException { Status: 0 } c => new LlmException(ErrorCodes.LlmUnavailable,
                $"The LLM server could not be reached after {retries} retries: {Brief(c)}", null, retries, e),
            ClientResultException { Status: >= 500 } c => new LlmException(ErrorCodes.LlmUnavailable,
                $"The LLM server kept answering {c.Status} after {retries} retries: {Brief(c)}", c.Status, retries, e),
            ClientResultException c => new LlmException(ErrorCodes.LlmBadResponse, $"The LLM server refused the request with {c.Status}: {Brief(c)}", c.Status, retries, e),
            HttpRequestException h => new LlmException(ErrorCodes.LlmUnavailable, $"The LLM server could not be reached: {h.Message}", (int?)h.StatusCode, retries, e),
            JsonException or FormatException or InvalidOperationException or ArgumentException => new LlmException(ErrorCodes.LlmBadResponse,
                $"The LLM server's answer is not a chat completion: {e.Message}", null, retries, e),
            _ => new LlmException(ErrorCodes.LlmBadResponse, $"The LLM call failed: {e.Message}", null, retries, e),
        };
    }

    private static string Brief(ClientResultException c)
    {
        var text = c.Message.ReplaceLineEndings(" ");
        return text.Length > 300 ? text[..300] + "…" : text;
    }
}
