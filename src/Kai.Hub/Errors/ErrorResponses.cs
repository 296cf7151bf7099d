namespace Kai.Hub.Errors;

/// <summary>
/// Endpoint metadata: error statuses a route can return beyond the ones the API description derives from its other
/// metadata (permission, path parameters, body, rate limits). Read by <see cref="Observability.OpenApiDocument"/>.
/// </summary>
internal sealed record ErrorResponses(int[] Statuses);

internal static class ErrorResponsesExtensions
{
    /// <summary>Declares extra error statuses of a route (for example 409 for a taken id, 503 for an agent with no live link).</summary>
    public static TBuilder WithErrors<TBuilder>(this TBuilder builder, params int[] statuses) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new ErrorResponses(statuses));
}
