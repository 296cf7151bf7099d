using System.Diagnostics;
using System.Text.Json;
using Kai.Protocol;
using Kai.Protocol.Rest;

namespace Kai.Hub.Errors;

/// <summary>
/// Gives every request a correlation id and turns every 4xx/5xx into the seed 004 envelope: thrown
/// <see cref="ApiException"/>s, malformed bodies, unknown routes and methods, auth challenges, and faults.
/// </summary>
internal sealed partial class ErrorHandlingMiddleware(RequestDelegate next, ILogger<ErrorHandlingMiddleware> logger, TimeProvider time, Observability.RequestStats stats)
{
    public const string CorrelationHeader = "X-Correlation-Id";
    private const string CorrelationItem = "kai.correlation_id";

    public async Task InvokeAsync(HttpContext context)
    {
        var correlationId = CorrelationIdOf(context);
        context.Response.Headers[CorrelationHeader] = correlationId;
        var started = Stopwatch.GetTimestamp();
        // Every log line written while this request runs carries both ids (JSON console: "Scopes").
        using var scope = logger.BeginScope(new RequestScope(correlationId, Activity.Current?.TraceId.ToHexString() ?? ""));
        try
        {
            await next(context);
            if (context.Response.StatusCode >= 400 && !context.Response.HasStarted && context.Response.ContentLength is null
                && context.Response.ContentType is null && !context.WebSockets.IsWebSocketRequest)
            {
                var (code, message) = context.Response.StatusCode switch
                {
                    400 => (ErrorCodes.ValidationError, "The request is malformed."),
                    401 => (ErrorCodes.AuthenticationFailed, "A valid bearer access token is required."),
                    403 => (ErrorCodes.Forbidden, "The principal lacks the permission this route requires."),
                    404 => (ErrorCodes.NotFound, "No route matches this path."),
                    405 => (ErrorCodes.MethodNotAllowed, "The method is not allowed on this path."),
                    413 => (ErrorCodes.PayloadTooLarge, "The request body is too large."),
                    415 => (ErrorCodes.UnsupportedMediaType, "The content type is not supported here; send application/json."),
                    _ => (ErrorCodes.InternalError, "The request failed."),
                };
                await WriteAsync(context, context.Response.StatusCode, code, message, null);
            }
        }
        catch (ApiException ex) when (!context.Response.HasStarted)
        {
            await WriteAsync(context, ex.Status, ex.Code, ex.Message, ex.Details);
        }
        catch (BadHttpRequestException ex) when (!context.Response.HasStarted)
        {
            var (status, code) = ex.StatusCode switch
            {
                413 => (413, ErrorCodes.PayloadTooLarge),
                415 => (415, ErrorCodes.UnsupportedMediaType),
                _ => (400, ErrorCodes.ValidationError),
            };
            await WriteAsync(context, status, code, ClientErrors.Describe(ex), null);
        }
        catch (InvalidDataException ex) when (!context.Response.HasStarted)
        {
            // A form body the framework cannot parse (a NUL in a value, a key past 2,048 bytes): the client's input, not a
            // fault (bench/fuzz.sh found these answered 500 on POST /api/v1/auth/token).
            await WriteAsync(context, 400, ErrorCodes.ValidationError, "The form body is malformed: " + ex.Message, null);
        }
        catch (IOException ex) when (!context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested
            && ex.Source == "Microsoft.AspNetCore.WebUtilities")
        {
            // A multipart body that ends before its closing boundary: the framework's parser says so with an IOException (bench/fuzz.sh
            // found these answered 500 on the form routes). The client's input, not a fault; a client that went away is not this case.
            await WriteAsync(context, 400, ErrorCodes.ValidationError, "The form body is malformed: " + ex.Message, null);
        }
        catch (InvalidOperationException ex) when (!context.Response.HasStarted && ex.InnerException is System.Text.DecoderFallbackException)
        {
            // JSON that parses but holds invalid UTF-8 in a string or property name: System.Text.Json checks the bytes only when a
            // string is read, which for a raw JsonElement body is deep in a handler (bench/fuzz.sh: POST /api/v1/invocations, 500).
            await WriteAsync(context, 400, ErrorCodes.ValidationError, "The body is not valid UTF-8 JSON.", null);
        }
        catch (InvalidOperationException ex) when (!context.Response.HasStarted && IsInvalidUtf16Escape(ex))
        {
            // JSON whose string holds an escaped lone surrogate ("\ud800"): it parses, and System.Text.Json refuses it only when the
            // string is read, deep in a handler (bench/fuzz.sh: POST /api/v1/rpc, 500).
            await WriteAsync(context, 400, ErrorCodes.ValidationError, "The body holds a JSON string with an invalid \\u escape (a lone UTF-16 surrogate).", null);
        }
        catch (Storage.StorageFullException ex) when (!context.Response.HasStarted)
        {
            Log.StorageFull(logger, context.Request.Method, context.Request.Path, ex.Message);
            await WriteAsync(context, 507, ErrorCodes.InsufficientStorage,
                "The hub cannot store this request now (its disk is full or failing); nothing was stored. Retry later.", null);
        }
        catch (Exception ex) when (!context.Response.HasStarted && Storage.StoreUnavailableException.Matches(ex))
        {
            Log.StoreUnavailable(logger, context.Request.Method, context.Request.Path, ex.Message);
            await WriteAsync(context, 503, ErrorCodes.StoreUnavailable,
                "The hub's database cannot be reached now; a write may not have been stored. Retry (with the same Idempotency-Key).", null);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away: control flow, not an error.
        }
        catch (Exception ex) when (!context.Response.HasStarted)
        {
            Log.UnhandledException(logger, ex, context.Request.Method, context.Request.Path, correlationId);
            await WriteAsync(context, 500, ErrorCodes.InternalError, "An unexpected error occurred; quote the correlation id when reporting it.", null);
        }
        finally
        {
            if (!context.WebSockets.IsWebSocketRequest)
            {
                stats.Record(Stopwatch.GetElapsedTime(started), context.Response.StatusCode);
            }
        }
    }

    public static string CorrelationIdOf(HttpContext context)
    {
        if (context.Items.TryGetValue(CorrelationItem, out var existing) && existing is string s)
        {
            return s;
        }
        string id = context.Request.Headers[CorrelationHeader].ToString();
        if (id.Length is 0 or > 128 || !id.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_' or '.' or ':'))
        {
            id = Activity.Current?.TraceId.ToHexString() ?? Guid.NewGuid().ToString("N");
        }
        context.Items[CorrelationItem] = id;
        return id;
    }

    private Task WriteAsync(HttpContext context, int status, string code, string message, object? details)
    {
        context.Response.Clear();
        context.Response.Headers[CorrelationHeader] = CorrelationIdOf(context);
        if (AgentConnectErrors.Applies(context.Request.Path))
        {
            // Seed 003 (AgentConnect) routes under /api outside /api/v1 answer {detail, code, timestamp}; validation is 422 there.
            context.Response.StatusCode = AgentConnectErrors.Status(status, code);
            return context.Response.WriteAsJsonAsync(AgentConnectErrors.Body(code, message, details, time.GetUtcNow()), KaiJson.Options);
        }
        context.Response.StatusCode = status;
        var body = new ErrorEnvelope(new ErrorBody(code, message, ApiException.ToDetails(details), CorrelationIdOf(context), time.GetUtcNow()));
        return context.Response.WriteAsJsonAsync(body, KaiJsonContext.Default.ErrorEnvelope);
    }

    /// <summary>System.Text.Json's refusal of an escaped lone surrogate, thrown when such a string is read (not when it is parsed).</summary>
    private static bool IsInvalidUtf16Escape(InvalidOperationException ex) =>
        ex.Source?.StartsWith("System.Text.Json", StringComparison.Ordinal) == true && (ex.TargetSite?.Name.Contains("UTF16", StringComparison.Ordinal) == true || ex.Message.Contains("UTF-16", StringComparison.Ordinal));

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Unhandled exception on {Method} {Path} (correlation id {CorrelationId})")]
        public static partial void UnhandledException(ILogger logger, Exception ex, string method, string path, string correlationId);

        [LoggerMessage(2, LogLevel.Error, "Write refused on {Method} {Path}: {Reason}")]
        public static partial void StorageFull(ILogger logger, string method, string path, string reason);

        [LoggerMessage(3, LogLevel.Error, "Store unavailable on {Method} {Path}: {Reason}")]
        public static partial void StoreUnavailable(ILogger logger, string method, string path, string reason);
    }
}

internal static class ErrorHandlingExtensions
{
    public static IApplicationBuilder UseKaiErrors(this IApplicationBuilder app) => app.UseMiddleware<ErrorHandlingMiddleware>();
}

/// <summary>
/// The two ids every log line of a request carries (the JSON console writes them under "Scopes"). A two-field list instead of a
/// dictionary: the scope lives as long as the request, which for a WebSocket link is the link's whole life.
/// </summary>
internal sealed class RequestScope(string correlationId, string traceId) : IReadOnlyList<KeyValuePair<string, object?>>
{
    public int Count => 2;

    public KeyValuePair<string, object?> this[int index] => index switch
    {
        0 => new("correlation_id", correlationId),
        1 => new("trace_id", traceId),
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    };

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        yield return this[0];
        yield return this[1];
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => $"correlation_id:{correlationId} trace_id:{traceId}";
}
