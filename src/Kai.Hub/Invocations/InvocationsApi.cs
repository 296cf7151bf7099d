using System.Text;
using System.Text.Json;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Protocol;
using Kai.Protocol.Kail;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Invocations;

/// <summary>
/// The KAIL REST edge (seed 002 <c>http_bridge</c>): <c>POST /api/v1/invocations</c> (one envelope or a batch array; waits for the result
/// unless <c>?wait=false</c>; <c>?stream=true</c> answers as Server-Sent Events), <c>GET /api/v1/invocations/{id}</c> and
/// <c>GET /api/v1/invocations/{id}/stream</c> (SSE). It translates and hands over to <see cref="InvocationService"/>; routing, policy and retries are not here.
/// </summary>
internal static class InvocationsApi
{
    public const int MaxBatch = 50;

    public static RouteGroupBuilder MapInvocationsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/invocations").WithTags("Invocations");
        api.MapPost("/", InvokeAsync).WithName("invokeAgent")
            .WithSummary("Invoke an agent with a KAIL AgentInvocation (or a batch array); waits for the result unless wait=false")
            .Produces<InvocationResult>().Produces<InvocationAccepted>(202).Produces<List<InvocationResult>>(207)
            .WithErrors(400, 403, 404, 409, 502, 503, 504, 508).RequirePermission(Permissions.AgentInvoke);
        api.MapGet("/{invocationId}", GetAsync).WithName("getInvocation")
            .WithSummary("Show an invocation: status, result and InvocationStack").WithErrors(404).RequirePermission(Permissions.AgentInvoke);
        api.MapGet("/{invocationId}/stream", StreamAsync).WithName("streamInvocation")
            .WithSummary("Follow an invocation's streamed output as Server-Sent Events (chunk events, then one result event)")
            .Produces(200, contentType: "text/event-stream").WithErrors(404).RequirePermission(Permissions.AgentInvoke);
        Signing.KeysApi.MapKailKeysApi(app);
        return api;
    }

    private static async Task<IResult> InvokeAsync(HttpContext http, InvocationService invocations, IOptions<KailOptions> options, bool? wait, bool? stream, CancellationToken ct)
    {
        Enabled(options.Value);
        JsonElement body;
        try
        {
            using var doc = await JsonDocument.ParseAsync(http.Request.Body, default, ct);
            body = doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new ApiException(ErrorCodes.ValidationError, $"The body is not JSON: {e.Message}");
        }
        var principal = http.Principal();
        if (body.ValueKind == JsonValueKind.Array)
        {
            return await BatchAsync(principal, body, invocations, wait ?? true, ct);
        }
        var run = await invocations.StartAsync(principal, body, null, ct);
        if (stream == true)
        {
            await WriteSseAsync(http, run, invocations);
            return Results.Empty;
        }
        if (wait == false)
        {
            return TypedResults.Accepted($"/api/v1/invocations/{run.Id}", new InvocationAccepted(run.Id, InvocationStatuses.Running, $"/api/v1/invocations/{run.Id}"));
        }
        var result = await invocations.WaitAsync(run, ct);
        if (result.Status == InvocationStatuses.Failed && result.Error is { } error)
        {
            throw new ApiException(error.Code, error.Message, new { invocation = result });
        }
        return TypedResults.Ok(result);
    }

    /// <summary>A batch: each envelope is started on its own (one refused does not stop the others); the answer lists them in order.</summary>
    private static async Task<IResult> BatchAsync(KaiPrincipal principal, JsonElement body, InvocationService invocations, bool wait, CancellationToken ct)
    {
        var count = body.GetArrayLength();
        if (count is 0 or > MaxBatch)
        {
            throw new ApiException(ErrorCodes.ValidationError, $"A batch holds 1 to {MaxBatch} envelopes.",
                new Dictionary<string, string[]> { ["/"] = [$"must have 1 to {MaxBatch} items"] });
        }
        var started = new List<(string? Id, InvocationService.Run? Run, ApiException? Refused)>();
        var index = 0;
        foreach (var item in body.EnumerateArray())
        {
            var id = item.ValueKind == JsonValueKind.Object && item.TryGetProperty("id", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString() : null;
            try
            {
                started.Add((id, await invocations.StartAsync(principal, item, null, ct), null));
            }
            catch (ApiException e)
            {
                started.Add((id, null, new ApiException(e.Code, $"[{index}] {e.Message}", e.Details)));
            }
            index++;
        }
        var items = new List<object>();
        foreach (var (id, run, refused) in started)
        {
            if (refused is not null)
            {
                items.Add(new BatchRefusal(id, InvocationStatuses.Failed, new ErrorBodyItem(refused.Code, refused.Message, refused.DetailsElement())));
            }
            else if (wait)
            {
                items.Add(await invocations.WaitAsync(run!, ct));
            }
            else
            {
                items.Add(new InvocationAccepted(run!.Id, InvocationStatuses.Running, $"/api/v1/invocations/{run.Id}"));
            }
        }
        return Results.Json(items, KaiJson.Options, statusCode: wait ? 200 : 202);
    }

    private static async Task<Ok<InvocationResult>> GetAsync(string invocationId, HttpContext http, InvocationService invocations, IOptions<KailOptions> options, CancellationToken ct)
    {
        Enabled(options.Value);
        return TypedResults.Ok(await invocations.GetAsync(http.Principal(), invocationId, ct) ?? throw ApiException.NotFound($"Invocation '{invocationId}'"));
    }

    private static async Task StreamAsync(string invocationId, HttpContext http, InvocationService invocations, IOptions<KailOptions> options)
    {
        Enabled(options.Value);
        var run = invocations.Find(http.Principal(), invocationId) ?? throw ApiException.NotFound($"Invocation '{invocationId}'");
        await WriteSseAsync(http, run, invocations);
    }

    /// <summary>SSE: <c>event: chunk</c> with each <c>stream_chunk</c> payload, then <c>event: result</c> with the <see cref="InvocationResult"/>.</summary>
    private static async Task WriteSseAsync(HttpContext http, InvocationService.Run run, InvocationService invocations)
    {
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        var ct = http.RequestAborted;
        var reader = run.Subscribe();
        await foreach (var chunk in reader.ReadAllAsync(ct))
        {
            await WriteEventAsync(http.Response, "chunk", chunk.ChunkIndex.ToString(System.Globalization.CultureInfo.InvariantCulture), JsonSerializer.Serialize(chunk, KaiJson.Options), ct);
        }
        var result = await invocations.WaitAsync(run, ct);
        await WriteEventAsync(http.Response, "result", run.Id, JsonSerializer.Serialize(result, KaiJson.Options), ct);
    }

    private static async Task WriteEventAsync(HttpResponse response, string name, string id, string json, CancellationToken ct)
    {
        await response.Body.WriteAsync(Encoding.UTF8.GetBytes($"event: {name}\nid: {id}\ndata: {json}\n\n"), ct);
        await response.Body.FlushAsync(ct);
    }

    private static void Enabled(KailOptions o)
    {
        if (!o.Enabled || !o.Transport.Contains("http_bridge"))
        {
            throw new ApiException(ErrorCodes.NotFound, "KAIL invocations over HTTP are disabled on this hub (Kai:Kail:enabled, transport http_bridge).");
        }
    }

    /// <summary>A batch item refused before it ran.</summary>
    private sealed record BatchRefusal(string? Id, string Status, ErrorBodyItem Error);

    private sealed record ErrorBodyItem(string Code, string Message, JsonElement Details);
}
