namespace Kai.Cli.Cli;

/// <summary>A user-facing error: printed as <c>error: message</c> with the given exit code, without a stack trace.</summary>
internal sealed class CliException(string message, int exitCode = ExitCodes.Error) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>No token for the hub: the user has to run <c>kai login</c>.</summary>
internal sealed class NotLoggedInException(string url) : Exception($"not logged in to {url}; run `kai login` (or set KAI_TOKEN, or KAI_EMAIL and KAI_PASSWORD)")
{
}

/// <summary>The process exit codes of <c>kai</c>.</summary>
internal static class ExitCodes
{
    /// <summary>Success; for <c>kai send</c>, the command completed.</summary>
    public const int Ok = 0;

    /// <summary>An error: the hub refused the request, the command failed, the hub is unreachable, or not logged in.</summary>
    public const int Error = 1;

    /// <summary>Bad usage: an invalid option value.</summary>
    public const int Usage = 2;

    /// <summary><c>kai send</c>: the command is still queued or executing when the wait ended.</summary>
    public const int Pending = 3;

    /// <summary>Interrupted with Ctrl-C.</summary>
    public const int Interrupted = 130;
}
