using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Protocol;
using Kai.Protocol.Events;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Kai.Hub.Logs;

internal static class LogsApi
{
    public static RouteGroupBuilder MapLogsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/agents").WithTags("Logs");
        api.MapGet("/{agentId}/logs", ListAsync).WithName("listAgentLogs").WithSummary("An agent's stored logs, filtered by level and time").RequirePermission(Permissions.AgentReadOwn);
        return api;
    }

    /// <summary>Seed 000: an agent's stored logs, newest first; <c>format=text</c> gives one line per entry.</summary>
    private static async Task<Results<Ok<LogsResponse>, ContentHttpResult>> ListAsync(
        string agentId, HttpContext http, AgentLogs logs, string? level, string? since, int? limit, string? cursor, string? format, CancellationToken ct)
    {
        new Validation().Check(format is null or "json" or "text", "format", "must be json or text").ThrowIfInvalid();
        var page = await logs.ListAsync(http.Principal(), agentId, level, since, limit, cursor, ct);
        if (format == "text")
        {
            if (page.NextCursor is not null)
            {
                http.Response.Headers["X-Next-Cursor"] = page.NextCursor;
            }
            http.Response.Headers["X-Total-Count"] = page.Total.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return TypedResults.Text(AgentLogs.AsText(page), "text/plain; charset=utf-8");
        }
        return TypedResults.Ok(page);
    }
}
