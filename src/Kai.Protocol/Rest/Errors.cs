using System.Text.Json;

namespace Kai.Protocol.Rest;

/// <summary>The body of every REST 4xx and 5xx response: <c>{"error": {...}}</c> (seed 004, "Standard Error Response").</summary>
/// <param name="Error">The error.</param>
public sealed record ErrorEnvelope(ErrorBody Error);

/// <summary>The error object of <see cref="ErrorEnvelope"/>.</summary>
/// <param name="Code">A stable code from <see cref="ErrorCodes"/>; its HTTP status is <see cref="ErrorCodes.HttpStatus"/>.</param>
/// <param name="Message">A human-readable explanation.</param>
/// <param name="Details">Machine-readable details, for example the failing fields of a validation error as <c>{"field": ["problem"]}</c>; an empty object when there are none.</param>
/// <param name="CorrelationId">The request's correlation id: the <c>X-Correlation-Id</c> request header when given, otherwise one the hub made; also in the response header and the hub's logs.</param>
/// <param name="Timestamp">When the error was produced, ISO 8601 UTC.</param>
public sealed record ErrorBody(string Code, string Message, JsonElement Details, string CorrelationId, DateTimeOffset Timestamp);
