using Kai.Hub.Auth;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Security;

/// <summary>Rotates the signing key every <see cref="SecurityOptions.KeyRotationInterval"/> (off when zero). Checks once a minute on the hub's clock.</summary>
internal sealed partial class KeyRotationService(
    SigningKeys keys, AdminService admin, IOptions<SecurityOptions> options, TimeProvider time, ILogger<KeyRotationService> logger) : BackgroundService
{
    private readonly TimeSpan _interval = options.Value.KeyRotationInterval;

    public async Task<bool> RotateIfDueAsync()
    {
        if (_interval <= TimeSpan.Zero || time.GetUtcNow() - keys.CurrentCreatedAt < _interval)
        {
            return false;
        }
        if (await admin.RotateKeysIfOlderThanAsync(_interval) is not { } rotated)
        {
            return false;
        }
        Log.Rotated(logger, rotated.NewKid);
        return true;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_interval <= TimeSpan.Zero)
        {
            return;
        }
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(1), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await RotateIfDueAsync();
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    Log.Failed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Shutdown.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(130, LogLevel.Information, "Signing key rotated on schedule; new kid {Kid}")]
        public static partial void Rotated(ILogger logger, string kid);

        [LoggerMessage(131, LogLevel.Error, "Scheduled signing key rotation failed; retrying in a minute")]
        public static partial void Failed(ILogger logger, Exception ex);
    }
}
