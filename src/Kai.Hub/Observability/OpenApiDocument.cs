using System.Text.Json.Nodes;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.OpenApi;

namespace Kai.Hub.Observability;

/// <summary>
/// The cross-cutting parts of <c>/openapi.json</c>, in one place: the document's info and servers, the two security
/// schemes (a bearer JWT for people; OAuth 2.0 client credentials at <c>/api/v1/auth/token</c> for agents), the shared
/// error envelope (<c>{"error":{code,message,details,correlation_id,timestamp}}</c>, seed 004) and, per operation, its
/// security requirement and the error statuses it can return. The statuses are derived from the endpoint's metadata:
/// a permission (401, 403), path parameters (404), a body or query (400), a body (413, 415), every route (429: the global
/// per-principal limit), plus what the route declares with <see cref="ErrorResponsesExtensions.WithErrors{TBuilder}"/>.
/// Per-endpoint names and summaries live on the Map calls (<c>.WithName</c>, <c>.WithSummary</c>).
/// </summary>
internal static class OpenApiDocument
{
    /// <summary>The bearer JWT scheme (an access token from login, refresh, a magic link or the token endpoint).</summary>
    public const string BearerScheme = "bearer";

    /// <summary>The OAuth 2.0 client-credentials scheme agents use (RFC 6749 §4.4).</summary>
    public const string AgentScheme = "agent_client_credentials";

    /// <summary>The component name of the error envelope schema.</summary>
    public const string EnvelopeSchema = "ErrorEnvelope";

    private static readonly Dictionary<int, string> StatusText = new()
    {
        [400] = "The request is invalid (VALIDATION_ERROR, INVALID_TEMPLATE); details name the fields.",
        [401] = "No valid credentials (AUTHENTICATION_FAILED).",
        [403] = "The principal lacks the permission or ownership this route requires (FORBIDDEN).",
        [404] = "The object does not exist or is not visible to the caller (NOT_FOUND, AGENT_NOT_FOUND).",
        [408] = "The agent did not answer in time (TASK_TIMEOUT), or the request's ttl had passed on arrival (TTL_EXPIRED).",
        [409] = "The request conflicts with the current state (CONFLICT), for example a taken id or a finished object.",
        [412] = "A precondition or dependency is not met (DEPENDENCY_NOT_MET).",
        [413] = "The body is larger than the route allows (PAYLOAD_TOO_LARGE).",
        [415] = "The body's content type is not the one the route reads (UNSUPPORTED_MEDIA_TYPE).",
        [422] = "The request is well-formed but cannot be processed.",
        [429] = "Too many requests (RATE_LIMIT_EXCEEDED); Retry-After says when to retry.",
        [502] = "Every try of an invocation failed (INVOCATION_FAILED); the result's stack shows each.",
        [503] = "The agent has no live link (AGENT_UNAVAILABLE), its circuit is open (CIRCUIT_OPEN), or the store is unreachable (STORE_UNAVAILABLE).",
        [504] = "No answer within the deadline, retries included (DEADLINE_EXCEEDED, INVOCATION_TIMEOUT).",
        [508] = "An invocation nested deeper than Kai:Kail:MaxDepth, a loop between agents (INVOCATION_DEPTH_EXCEEDED).",
    };

    private static readonly Dictionary<string, string> TagText = new(StringComparer.Ordinal)
    {
        ["Auth"] = "Accounts, sessions, and agent client credentials (OAuth 2.0 client_credentials).",
        ["Agents"] = "The agent registry, commands, restarts, secrets, prompt streams and agent logs.",
        ["Tasks"] = "Durable tasks: leases, retries, dead letters and schedules (docs/tasks.md).",
        ["Workflows"] = "Multi-stage workflows built from tasks.",
        ["Events"] = "The topic event bus: publish, long polling and server-sent events.",
        ["Metrics"] = "Aggregate hub metrics.",
        ["Admin"] = "Users, roles, every agent, signing keys and the audit log (admin role).",
    };

    /// <summary>Registers the document with its transformers.</summary>
    public static IServiceCollection AddKaiOpenApi(this IServiceCollection services) =>
        services.AddOpenApi(o =>
        {
            o.AddDocumentTransformer((doc, _, _) => { Describe(doc); return Task.CompletedTask; });
            o.AddOperationTransformer((op, ctx, _) => { DescribeOperation(op, ctx); return Task.CompletedTask; });
        });

    private static void Describe(Microsoft.OpenApi.OpenApiDocument doc)
    {
        doc.Info.Title = "Kai Hub API";
        doc.Info.Version = "v1";
        doc.Info.Description = "REST API of Kai Hub. Errors use one envelope: {\"error\":{code,message,details,correlation_id,timestamp}}. "
            + "WebSocket frames are described in docs/protocol.md and, as AsyncAPI 3, in docs/asyncapi.yaml.";
        foreach (var server in doc.Servers ?? [])
        {
            server.Url = server.Url?.TrimEnd('/');
        }

        doc.Components ??= new OpenApiComponents();
        doc.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        doc.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            BearerFormat = "JWT",
            Description = "An access token from /api/v1/auth/login, /refresh, /verify-magic or /token, in `Authorization: Bearer <token>`.",
        };
        doc.Components.SecuritySchemes[AgentScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.OAuth2,
            Description = "Agents exchange their client id and secret (kas_...) for an access token (RFC 6749 §4.4), then send it as a bearer token.",
            Flows = new OpenApiOAuthFlows
            {
                ClientCredentials = new OpenApiOAuthFlow
                {
                    TokenUrl = new Uri("/api/v1/auth/token", UriKind.Relative),
                    Scopes = new Dictionary<string, string>(),
                },
            },
        };

        doc.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        doc.Components.Schemas[EnvelopeSchema] = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "The error envelope of every 4xx/5xx answer on /api/v1 (seed 004).",
            Required = new HashSet<string> { "error" },
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["error"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.Object,
                    Required = new HashSet<string> { "code", "message", "details", "correlation_id", "timestamp" },
                    Properties = new Dictionary<string, IOpenApiSchema>
                    {
                        ["code"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "A stable code (Kai.Protocol.ErrorCodes), e.g. VALIDATION_ERROR.", Examples = [JsonValue.Create("VALIDATION_ERROR")] },
                        ["message"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "What went wrong, for people." },
                        ["details"] = new OpenApiSchema { Type = JsonSchemaType.Object, Description = "Machine-readable specifics (fields, ids, retry_after); {} when none." },
                        ["correlation_id"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The request's X-Correlation-Id." },
                        ["timestamp"] = new OpenApiSchema { Type = JsonSchemaType.String, Format = "date-time" },
                    },
                },
            },
        };

        doc.Components.Responses ??= new Dictionary<string, IOpenApiResponse>();
        var operations = (doc.Paths ?? []).Values.SelectMany(p => (p.Operations ?? []).Values).ToList();
        var referenced = operations.SelectMany(o => (IEnumerable<string>?)o.Responses?.Keys ?? []).ToHashSet(StringComparer.Ordinal);
        foreach (var (status, text) in StatusText.Where(s => referenced.Contains(s.Key.ToString(System.Globalization.CultureInfo.InvariantCulture))))
        {
            doc.Components.Responses[ResponseName(status)] = new OpenApiResponse
            {
                Description = text,
                Content = new Dictionary<string, OpenApiMediaType>
                {
                    ["application/json"] = new() { Schema = new OpenApiSchemaReference(EnvelopeSchema, doc) },
                },
            };
        }

        var used = operations.SelectMany(o => o.Tags ?? new HashSet<OpenApiTagReference>()).Select(t => t.Name).ToHashSet();
        doc.Tags = new HashSet<OpenApiTag>(used.Where(n => n is not null).Order().Select(n => new OpenApiTag
        {
            Name = n,
            Description = TagText.GetValueOrDefault(n!, n!),
        }));
    }

    private static string ResponseName(int status) => $"Error{status}";

    /// <summary>The error statuses an endpoint can return, from its metadata (see the class summary).</summary>
    internal static SortedSet<int> ErrorStatuses(IReadOnlyList<object> metadata, string path, bool hasBody, bool hasQuery)
    {
        var statuses = new SortedSet<int> { 429 };
        if (metadata.OfType<RequiredPermission>().Any())
        {
            statuses.Add(401);
            statuses.Add(403);
        }
        if (path.Contains('{'))
        {
            statuses.Add(404);
        }
        if (hasBody || hasQuery)
        {
            statuses.Add(400);
        }
        if (hasBody)
        {
            statuses.Add(413);
            statuses.Add(415);
        }
        foreach (var declared in metadata.OfType<ErrorResponses>())
        {
            statuses.UnionWith(declared.Statuses);
        }
        return statuses;
    }

    private static void DescribeOperation(OpenApiOperation op, OpenApiOperationTransformerContext ctx)
    {
        var metadata = ctx.Description.ActionDescriptor.EndpointMetadata;
        var permission = metadata.OfType<RequiredPermission>().FirstOrDefault();
        if (permission is not null)
        {
            var bearer = new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, ctx.Document)] = [] };
            op.Security = [bearer];
            if (Roles.Has(Roles.Agent, permission.Permission))
            {
                op.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(AgentScheme, ctx.Document)] = [] });
            }
            op.Description = AppendLine(op.Description, $"Requires the permission `{permission.Permission}`.");
        }
        else
        {
            // Anonymous (AllowAnonymous with a reason): no requirement at all, said explicitly.
            op.Security = [];
            if (metadata.OfType<AnonymousReason>().FirstOrDefault() is { } reason)
            {
                op.Description = AppendLine(op.Description, $"No token needed: {reason.Reason}.");
            }
        }
        if (metadata.OfType<EnableRateLimitingAttribute>().FirstOrDefault() is { } limited)
        {
            op.Description = AppendLine(op.Description, $"Rate-limit category `{limited.PolicyName}`.");
        }

        var path = "/" + (ctx.Description.RelativePath ?? "");
        var hasQuery = (op.Parameters ?? []).Any(p => p.In == ParameterLocation.Query);
        op.Responses ??= new OpenApiResponses();
        foreach (var status in ErrorStatuses(metadata.ToList(), path, op.RequestBody is not null, hasQuery))
        {
            op.Responses.TryAdd(status.ToString(System.Globalization.CultureInfo.InvariantCulture), new OpenApiResponseReference(ResponseName(status), ctx.Document));
        }
    }

    private static string AppendLine(string? text, string line) => string.IsNullOrEmpty(text) ? line : text + "\n\n" + line;
}
