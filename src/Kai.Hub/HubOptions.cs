using System.ComponentModel.DataAnnotations;

namespace Kai.Hub;

/// <summary>The <c>Kai</c> configuration section. Every value has a default; see <c>docs/operations.md</c>.</summary>
public sealed class HubOptions
{
    public const string Section = "Kai";

    /// <summary>Where the SQLite file, the signing keys and the generated node id (<c>node.id</c>) live. Created on first start. Default: <c>./data</c>.</summary>
    [Required]
    public string DataDirectory { get; set; } = "data";

    /// <summary>The base URL clients should use, for <c>websocket_url</c> in responses. Default: none (relative paths).</summary>
    public string? PublicUrl { get; set; }

    public AuthOptions Auth { get; set; } = new();

    public LinkOptions Links { get; set; } = new();

    public CommandOptions Commands { get; set; } = new();
}

public sealed class AuthOptions
{
    /// <summary>JWT <c>iss</c>. Default: <c>kai-hub</c>.</summary>
    [Required]
    public string Issuer { get; set; } = "kai-hub";

    /// <summary>JWT <c>aud</c>. Default: <c>kai-api</c>.</summary>
    [Required]
    public string Audience { get; set; } = "kai-api";

    /// <summary>Access token lifetime. 1 minute to 1 day. Default: 15 minutes (seed 000).</summary>
    [Range(typeof(TimeSpan), "00:01:00", "1.00:00:00")]
    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Refresh token lifetime. 1 hour to 365 days. Default: 30 days (seed 000).</summary>
    [Range(typeof(TimeSpan), "01:00:00", "365.00:00:00")]
    public TimeSpan RefreshTokenLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Allowed clock skew when validating tokens. 0 to 30 seconds. Default: 30 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:30")]
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Optional first admin, created at start when no user has this email. Never from a public route.</summary>
    public string? BootstrapAdminEmail { get; set; }

    /// <summary>Password of <see cref="BootstrapAdminEmail"/>.</summary>
    public string? BootstrapAdminPassword { get; set; }
}

public sealed class LinkOptions
{
    /// <summary>Largest accepted frame in bytes; larger closes with 1009. 1 KiB to 64 MiB. Default: 1 MiB.</summary>
    [Range(1024, 64 * 1024 * 1024)]
    public int MaxFrameBytes { get; set; } = 1024 * 1024;

    /// <summary>Bytes a link may have queued for sending before it is closed as a slow consumer (4008). 64 KiB to 256 MiB. Default: 4 MiB.</summary>
    [Range(64 * 1024, 256 * 1024 * 1024)]
    public int SendQueueBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Expected heartbeat interval of agents. 1 second to 10 minutes. Default: 30 seconds (seed 000).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Missed intervals after which an agent is offline (its link closed with 4005). 1 to 10. Default: 3 (seed 000).</summary>
    [Range(1, 10)]
    public int MaxMissedHeartbeats { get; set; } = 3;

    /// <summary>How often the presence and deadline sweep runs. Default: 5 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The time after which an agent without a link or heartbeat is offline.</summary>
    public TimeSpan OfflineAfter => HeartbeatInterval * MaxMissedHeartbeats;
}

public sealed class CommandOptions
{
    public const string Section = "Kai:Commands";

    /// <summary>Default seconds a command call waits for its result. Default: 30.</summary>
    [Range(0, 300)]
    public int DefaultWaitSeconds { get; set; } = 30;

    /// <summary>Default seconds until a command's deadline. Default: 3600.</summary>
    [Range(1, 86400)]
    public int DefaultTtlSeconds { get; set; } = 3600;
}
