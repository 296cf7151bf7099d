using System.Text.Json;

namespace Kai.Client;

/// <summary>
/// An error answer from the hub: a REST 4xx/5xx with the seed 004 envelope, or an <c>error</c> frame on a link.
/// </summary>
public sealed class HubApiException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="code">The stable code (see <c>Kai.Protocol.ErrorCodes</c>).</param>
    /// <param name="message">The hub's message.</param>
    /// <param name="status">The HTTP status, or 0 for a WebSocket error frame.</param>
    /// <param name="details">The details object, if any.</param>
    /// <param name="correlationId">The correlation id, if any.</param>
    public HubApiException(string code, string message, int status, JsonElement? details = null, string? correlationId = null)
        : base($"{code}: {message}")
    {
        Code = code;
        HubMessage = message;
        Status = status;
        Details = details;
        CorrelationId = correlationId;
    }

    /// <summary>The stable error code, for example <c>AGENT_NOT_FOUND</c>.</summary>
    public string Code { get; }

    /// <summary>The hub's human-readable message.</summary>
    public string HubMessage { get; }

    /// <summary>The HTTP status, or 0 for an error frame.</summary>
    public int Status { get; }

    /// <summary>Machine-readable details, for example the invalid fields of a <c>VALIDATION_ERROR</c>.</summary>
    public JsonElement? Details { get; }

    /// <summary>The correlation id to quote when reporting the error.</summary>
    public string? CorrelationId { get; }
}
