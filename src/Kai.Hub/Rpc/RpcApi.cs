using System.Text.Json;
using Kai.Hub.Auth;
using Kai.Hub.Edges;
using Kai.Hub.Errors;
using Kai.Protocol;
using Kai.Protocol.Rpc;

namespace Kai.Hub.Rpc;

/// <summary>
/// The RPC edges (seed 001 §3): <c>POST /api/v1/rpc</c> (one AMRI envelope in, one out), <c>POST /jsonrpc</c> (JSON-RPC 2.0, batches and
/// notifications), <c>/ws/rpc</c> (both, many in flight), and <c>GET /api/v1/rpc/routes</c> (the routing table, §9). Each only translates.
/// </summary>
internal static class RpcApi
{
    public static void MapRpcApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/rpc").WithTags("RPC");
        api.MapPost("/", CallAsync).WithName("callRpc")
            .WithSummary("Call an AMRI method: one request envelope in, one response envelope out (seed 001 §4-5)")
            .Accepts<RpcRequest>("application/json")
            .WithDescription("Errors the hub raises about the call itself (bad envelope, unknown method, expired ttl, unavailable or unknown agent, "
                + "deadline) answer an AMRI response envelope with that HTTP status and error {code, message, type}; 401/403/413/429 before the call use the shared error envelope.")
            .Produces<RpcResponse>(StatusCodes.Status200OK)
            .WithErrors(404, 408, 409, 503, 504)
            .RequirePermission(Permissions.RpcCall);
        api.MapGet("/routes", RoutesAsync).WithName("listRpcRoutes")
            .WithSummary("The service routing table: method prefixes, targets, source and health (seed 001 §9)")
            .RequirePermission(Permissions.RpcCall);
        app.MapPost("/api/v1/callbacks/{request_id}", CallbackAsync).WithName("postRpcCallback").WithTags("RPC")
            .WithSummary("An agent's late, asynchronous response to an AMRI request it was sent with callback_url (seed 004)")
            .Accepts<RpcResponse>("application/json")
            .WithDescription("The body is the AMRI response envelope (its id, when present, must be the path's). Accepted only from the agent the request "
                + "was delivered to (for a capability request, an agent of the caller's tenant) while the request waits; the response then goes to the "
                + "caller's callback. Anything else is 404 NOT_FOUND, the same for a request that does not exist.")
            .Produces<RpcCallbackAck>(StatusCodes.Status200OK)
            .WithErrors(400, 404)
            .RequirePermission(Permissions.RpcCall);
        app.MapPost("/jsonrpc", JsonRpcAsync).WithName("callJsonRpc").WithTags("RPC")
            .WithSummary("JSON-RPC 2.0 over HTTP: one request or a batch; notifications are not answered (204 when only notifications)")
            .Accepts<JsonRpcRequest>("application/json")
            .Produces<JsonRpcResponse>(StatusCodes.Status200OK)
            .Produces(StatusCodes.Status204NoContent)
            .WithDescription("JSON-RPC errors (parse, invalid request, method not found, AMRI errors as -320xx) are answered with 200 and a JSON-RPC error object.")
            .RequirePermission(Permissions.RpcCall);
        app.Map("/ws/rpc", (HttpContext http, WebSocketEdgeHost host, RpcSocketEdge edge) => host.RunAsync(http, edge))
            .WithTags("WebSocket").ExcludeFromDescription()
            .AllowAnonymous("authenticates itself after the upgrade (close 4003); every message is a call under the caller's principal, checked by the router");
    }

    private static async Task<IResult> CallAsync(HttpContext http, RpcMessages messages, CancellationToken ct)
    {
        var (body, error) = await ReadAsync(http, ct);
        var response = await messages.AmriAsync(http.Principal(), body, error, RpcBackends.Rest, ct);
        // An error the hub raised has its HTTP status; an agent's own answer (result or error) is a 200.
        var status = response.Error is { Type: not null } e && response.Origin == RpcMethods.Hub ? e.Code : StatusCodes.Status200OK;
        return Results.Json(response, KaiJson.Options, statusCode: status);
    }

    private static async Task<IResult> JsonRpcAsync(HttpContext http, RpcMessages messages, CancellationToken ct)
    {
        var (body, error) = await ReadAsync(http, ct);
        var answer = await messages.JsonRpcAsync(http.Principal(), body, error, ct);
        return answer is null ? Results.NoContent() : Results.Json(answer, KaiJson.Options);
    }

    private static async Task<IResult> CallbackAsync(HttpContext http, string request_id, RpcService rpc, CancellationToken ct)
    {
        var (body, error) = await ReadAsync(http, ct);
        RpcResponse? response = null;
        if (error is null && body is { ValueKind: JsonValueKind.Object } b)
        {
            try
            {
                response = b.Deserialize<RpcResponse>(KaiJson.Options);
            }
            catch (JsonException e)
            {
                error = ClientErrors.Describe(e);
            }
        }
        if (response is null || (response.Id is { } id && id != request_id))
        {
            throw new ApiException(ErrorCodes.ValidationError, error is not null ? $"The body is not an AMRI response envelope: {error}."
                : "The body must be an AMRI response envelope {id?, result, error} whose id, when present, is the path's request id.");
        }
        if (!rpc.Accept(http.Principal(), response with { Id = request_id }))
        {
            throw new ApiException(ErrorCodes.NotFound, $"No request '{request_id}' waits for your response (unknown, answered, expired, or not yours to answer).");
        }
        return Results.Json(new RpcCallbackAck(request_id, true), KaiJson.Options);
    }

    private static Task<RpcRoutesResponse> RoutesAsync(HttpContext http, RpcRouteTable table, CancellationToken ct) => table.ViewAsync(http.Principal(), ct);

    private static async Task<(JsonElement? Body, string? Error)> ReadAsync(HttpContext http, CancellationToken ct)
    {
        try
        {
            using var doc = await JsonDocument.ParseAsync(http.Request.Body, cancellationToken: ct);
            return IJson.IsValidUnicode(doc.RootElement) ? (doc.RootElement.Clone(), null) : (null, RpcMessages.InvalidUnicode);
        }
        catch (JsonException e)
        {
            return (null, ClientErrors.Describe(e));
        }
    }
}
