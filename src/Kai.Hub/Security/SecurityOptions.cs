using System.ComponentModel.DataAnnotations;

namespace Kai.Hub.Security;

/// <summary>The <c>Kai:Security</c> section: origins, cookies, WebSocket caps, login back-off, magic links and mail. See <c>docs/security.md</c>.</summary>
public sealed class SecurityOptions
{
    public const string Section = "Kai:Security";

    /// <summary>Browser origins allowed for CORS and for WebSocket upgrades (exact <c>scheme://host[:port]</c>). Default: none, so only
    /// non-browser clients (no <c>Origin</c> header) may open WebSockets and no cross-origin REST call is allowed.</summary>
    public string[] AllowedOrigins { get; set; } = [];

    /// <summary>Also send the refresh token as an HTTP-only, Secure, SameSite=Strict cookie scoped to <c>/api/v1/auth</c>, and accept it on
    /// refresh and logout. Default: false.</summary>
    public bool RefreshTokenCookie { get; set; }

    /// <summary>How long after a rotation a second use of the same refresh token is taken for a concurrent retry (refused, family kept)
    /// rather than for theft (refused, family revoked). 0 to 60 seconds. Default: 10 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan RefreshReuseGrace { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Rotate the JWT signing key this often (the previous key keeps validating). 0 turns scheduled rotation off. Default: 0 (rotate with
    /// <c>POST /api/v1/admin/keys/rotate</c>).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "365.00:00:00")]
    public TimeSpan KeyRotationInterval { get; set; } = TimeSpan.Zero;

    /// <summary>Open WebSockets per principal on this node; one more is closed with 4004. 1 to 10,000. Default: 10 (seed).</summary>
    [Range(1, 10_000)]
    public int MaxWebSocketsPerUser { get; set; } = 10;

    /// <summary>Open WebSockets on this node; one more is closed with 1013 (try again later). Default: 50,000.</summary>
    [Range(1, 10_000_000)]
    public int MaxWebSocketsPerNode { get; set; } = 50_000;

    /// <summary>Frames a client may send on one WebSocket per minute; over it gets an error frame and close 4004. Default: 12,000 (200/s).</summary>
    [Range(1, 10_000_000)]
    public int WebSocketMessagesPerMinute { get; set; } = 12_000;

    /// <summary>An observer link that sends nothing for this long is closed with 4000 (agent links use the heartbeat timeout). Longer than the
    /// default access-token lifetime, so an expired token (4002) is normally what ends a silent link. Default: 30 minutes.</summary>
    [Range(typeof(TimeSpan), "00:00:05", "1.00:00:00")]
    public TimeSpan WebSocketIdleTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Topic subscriptions per connection (for the event stream). 1 to 10,000. Default: 100.</summary>
    [Range(1, 10_000)]
    public int MaxSubscriptionsPerConnection { get; set; } = 100;

    /// <summary>Failed logins (per account and per IP) before a lock-out starts. 1 to 100. Default: 5.</summary>
    [Range(1, 100)]
    public int LoginFailuresBeforeLockout { get; set; } = 5;

    /// <summary>First lock-out; it doubles with each further failure. Default: 30 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan LoginLockout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest lock-out. Default: 15 minutes.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan LoginLockoutMax { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Magic-link lifetime. 1 to 60 minutes. Default: 10 minutes (seed 000).</summary>
    [Range(typeof(TimeSpan), "00:01:00", "01:00:00")]
    public TimeSpan MagicLinkLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Magic links mailed per address per hour; requests beyond it get the same answer and send nothing. Default: 5.</summary>
    [Range(1, 1000)]
    public int MagicLinksPerEmailPerHour { get; set; } = 5;

    /// <summary>Page that receives <c>?magic_token=</c> in the mail. Default: none (the mail carries the token itself).</summary>
    public string? MagicLinkUrl { get; set; }

    /// <summary>SMTP host. Default: none, so mail goes to <c>{DataDirectory}/outbox/</c>.</summary>
    public string? SmtpHost { get; set; }

    [Range(1, 65535)]
    public int SmtpPort { get; set; } = 587;

    public bool SmtpSsl { get; set; } = true;

    public string? SmtpUser { get; set; }

    public string? SmtpPassword { get; set; }

    [Required]
    public string MailFrom { get; set; } = "kai-hub@localhost";

    /// <summary>Send <c>Strict-Transport-Security</c> on HTTPS responses. Default: true.</summary>
    public bool Hsts { get; set; } = true;
}

/// <summary>The <c>Kai:Security:RateLimits</c> section: requests per <see cref="Window"/> for each category (seed defaults).</summary>
public sealed class RateLimitOptions
{
    public const string Section = "Kai:Security:RateLimits";

    /// <summary>Length of the fixed window. 1 second to 1 hour. Default: 1 minute.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Register, login, magic-link requests, per IP. Default: 10.</summary>
    [Range(1, 1_000_000)]
    public int Auth { get; set; } = 10;

    /// <summary>Refresh, client-credentials and magic-link verification, per IP. Default: 50.</summary>
    [Range(1, 1_000_000)]
    public int TokenVerify { get; set; } = 50;

    /// <summary>Chat/stream session creation, per user. Default: 5.</summary>
    [Range(1, 1_000_000)]
    public int SessionCreate { get; set; } = 5;

    /// <summary>Any request without a valid token, per IP. Default: 100.</summary>
    [Range(1, 1_000_000)]
    public int Anonymous { get; set; } = 100;

    /// <summary>Any request with a valid token, per principal. Default: 1,000.</summary>
    [Range(1, 1_000_000)]
    public int Authenticated { get; set; } = 1000;

    /// <summary>Agent create, register, update, delete, restart and secret rotation, per principal. Default: 20.</summary>
    [Range(1, 1_000_000)]
    public int AgentOperations { get; set; } = 20;

    /// <summary>Chat session reads and deletes (seed 003 "Session queries"), per principal. Default: 10.</summary>
    [Range(1, 1_000_000)]
    public int SessionQuery { get; set; } = 10;
}
