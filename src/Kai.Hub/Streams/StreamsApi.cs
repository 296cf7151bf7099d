using Kai.Hub.Agents;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Protocol.Events;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Streams;

internal static class StreamsApi
{
    public static RouteGroupBuilder MapStreamsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/agents").WithTags("Streams");
        api.MapPost("/{agentId}/stream-prompt", StartAsync).WithName("streamPrompt").WithSummary("Send a prompt to an agent and stream its answer").WithErrors(409, 503).RequirePermission(Permissions.AgentCommandOwn);
        return api;
    }

    /// <summary>Seed 000: starts a prompt stream on the agent's live link.</summary>
    private static async Task<Ok<StreamPromptResponse>> StartAsync(
        string agentId, StreamPromptRequest request, HttpContext http, PromptStreams streams, IOptions<HubOptions> o, CancellationToken ct) =>
        TypedResults.Ok(await streams.StartAsync(http.Principal(), agentId, request, AgentsApi.BaseUrl(http, o.Value), ct));
}
