using Kai.Protocol;

namespace Kai.Hub.Hosting.Adapters;

/// <summary>
/// A failed webhook, custom-API or shell call, with a stable code: <see cref="ErrorCodes.AdapterUrlForbidden"/>,
/// <see cref="ErrorCodes.AdapterTimeout"/>, <see cref="ErrorCodes.AdapterRateLimited"/>, <see cref="ErrorCodes.AdapterUnavailable"/>,
/// <see cref="ErrorCodes.AdapterBadResponse"/>, <see cref="ErrorCodes.AdapterExecutableForbidden"/>,
/// <see cref="ErrorCodes.AdapterOutputTooLarge"/> or <see cref="ErrorCodes.AdapterFailed"/>.
/// </summary>
internal sealed class AdapterException(string code, string message, int? upstreamStatus = null, int retries = 0, Exception? inner = null)
    : Exception(message, inner)
{
    public string Code { get; } = code;

    /// <summary>The agent's HTTP status, when it answered.</summary>
    public int? UpstreamStatus { get; } = upstreamStatus;

    /// <summary>Retries made before giving up.</summary>
    public int Retries { get; } = retries;
}
